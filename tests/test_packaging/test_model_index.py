"""model-index.yml (what `mim search mmstpn` reads): every config folder has
a metafile and a README that the index lists, and every model entry names a
config that exists and is listed in no other entry."""
import os
import os.path as osp

import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(path):
    with open(osp.join(REPO, path)) as f:
        return yaml.safe_load(f)


def test_every_config_folder_is_indexed():
    listed = _load('model-index.yml')['Import']
    folders = sorted(
        d for d in os.listdir(osp.join(REPO, 'configs'))
        if d != '_base_' and osp.isdir(osp.join(REPO, 'configs', d)))
    assert sorted(listed) == [f'configs/{d}/metafile.yml' for d in folders]
    for d in folders:
        assert osp.isfile(osp.join(REPO, 'configs', d, 'README.md')), d


def test_every_model_entry_names_an_existing_config():
    seen = set()
    for meta in _load('model-index.yml')['Import']:
        data = _load(meta)
        collections = {c['Name'] for c in data['Collections']}
        for c in data['Collections']:
            assert osp.isfile(osp.join(REPO, c['README'])), c['README']
        for model in data['Models']:
            config = model['Config']
            assert osp.isfile(osp.join(REPO, config)), config
            assert osp.basename(config)[:-3] == model['Name'], config
            assert model['In Collection'] in collections, model['Name']
            assert config not in seen, config
            seen.add(config)
