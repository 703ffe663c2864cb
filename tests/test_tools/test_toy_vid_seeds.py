"""Tests of the seeds table of the main job (tools/misc/toy_vid_seeds.py).

The fast test runs the tool in this process with the training processes of
the main job replaced by a stub that returns made-up AP figures (the toy
sets are really generated, tiny); the smoke test runs one real, tiny
(layout, seed) end to end in a subprocess, as a user would."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmstpn.projects.toy_vid import experiment as toy_vid_experiment
from tests.test_tools.tool_helpers import REPO, TOOLS, load_tool

toy_vid_seeds = load_tool('misc/toy_vid_seeds.py')

TINY = ['--num-train-videos', '3', '--num-val-videos', '2',
        '--cls-pretrain-iters', '0', '--pretrain-iters', '0']
KEYS = ('bbox_mAP_50', 'bbox_mAP_50_deteriorated', 'bbox_mAP_50_clean')


class FakeTraining:
    """Stands in for the main job's worker processes: records the arguments
    and returns AP figures drawn from (layout, seed, model)."""

    def __init__(self):
        self.calls = []

    def __call__(self, args, names, script=None):
        assert tuple(names) == ('baseline', 'stpn')
        self.calls.append(args)
        code = sum(map(ord, args.toy_layout))
        out = {'timings': {}}
        for i, name in enumerate(names):
            rng = np.random.default_rng([code, args.seed, i])
            keys = [k for _, k in toy_vid_experiment.COLUMNS]
            assert set(KEYS) <= set(keys)    # the main job's table has them
            out[name] = {
                k: float(v)
                for k, v in zip(keys, rng.random(len(keys)))
            }
        return out


@pytest.fixture
def fake(monkeypatch):
    stub = FakeTraining()
    monkeypatch.setattr(toy_vid_experiment, '_spawn_and_collect', stub)
    monkeypatch.setattr(toy_vid_experiment, 'plot', lambda *a, **k: None)
    return stub


def _load(path):
    with open(path) as f:
        return json.load(f)


def test_seeds_table_and_resume(tmp_path, fake, capsys):
    out = str(tmp_path / 'seeds')
    argv = ['--seeds', '0', '1', '2', '--layouts', 'single', 'multi',
            '--out-dir', out, *TINY, '--cfg-options', 'model.foo=1',
            '--stpn-cfg-options', 'model.type=FasterRCNN']
    res = toy_vid_seeds.main(argv)
    text = capsys.readouterr().out
    assert 'run 6/6: layout multi, seed 2' in text
    # one run per (layout, seed), each on its own new toy set with the
    # pass-through options
    assert [(a.toy_layout, a.seed) for a in fake.calls] == [
        (lay, s) for lay in ('single', 'multi') for s in (0, 1, 2)]
    digests = set()
    for a in fake.calls:
        assert a.cfg_options == {'model.foo': 1}
        assert a.stpn_cfg_options == {'model.type': 'FasterRCNN'}
        assert a.data_dir == osp.join(out, 'data',
                                      f'{a.toy_layout}_seed{a.seed}')
        train = _load(osp.join(a.data_dir, 'train.json'))
        assert train['info']['seed'] == a.seed
        assert train['info'].get('layout', 'single') == a.toy_layout
        assert osp.isfile(osp.join(a.data_dir, 'frames',
                                   train['images'][0]['file_name']))
        digests.add(json.dumps(train['annotations']))
    assert len(digests) == 6            # every set differs
    # the table holds the per-run results.json values; mean / min over seeds
    saved = _load(osp.join(out, 'seeds_table.json'))
    assert saved['table'] == json.loads(json.dumps(res['table']))
    for layout in ('single', 'multi'):
        part = saved['table'][layout]
        assert sorted(part['seeds']) == ['0', '1', '2']
        cols = {}
        for seed, row in part['seeds'].items():
            results = _load(osp.join(out, layout, f'seed{seed}',
                                     'results.json'))
            for frames, key in zip(('all', 'deteriorated', 'clean'), KEYS):
                base = results['baseline'][key]
                stpn = results['stpn'][key]
                want = {f'baseline_{frames}': base,
                        f'stpn_{frames}': stpn,
                        f'diff_{frames}': stpn - base}
                for col, v in want.items():
                    assert row[col] == pytest.approx(v, abs=1e-12)
                    cols.setdefault(col, []).append(v)
        assert set(part['mean']) == set(cols) == set(part['min'])
        for col, values in cols.items():
            assert part['mean'][col] == pytest.approx(np.mean(values))
            assert part['min'][col] == pytest.approx(np.min(values))
    md = open(osp.join(out, 'seeds_table.md')).read()
    row = saved['table']['multi']['seeds']['1']
    assert (f'| multi | 1 | {100 * row["baseline_all"]:.1f} | '
            f'{100 * row["baseline_deteriorated"]:.1f} |') in md
    assert f'{100 * saved["table"]["single"]["min"]["diff_clean"]:+.1f} |' \
        in md.splitlines()[2 + 4]       # single: 3 seeds, mean, then min
    assert md.count('**mean**') == 2 and md.count('**min**') == 2
    assert all(line in text for line in md.splitlines())

    # resumable: nothing is rerun, the same table comes back
    again = toy_vid_seeds.main(argv)
    assert len(fake.calls) == 6
    assert again['table'] == res['table']
    assert 'done before' in capsys.readouterr().out
    # a new seed runs only that one
    toy_vid_seeds.main(argv[:1] + ['0', '1', '2', '3'] + argv[4:])
    assert [(a.toy_layout, a.seed) for a in fake.calls[6:]] == [
        ('single', 3), ('multi', 3)]
    # other pass-through options in the same out-dir: refused
    with pytest.raises(RuntimeError, match='was run with the arguments'):
        toy_vid_seeds.main(argv[:-1] + ['model.type=FasterRCNNX'])


def test_bad_arguments(tmp_path, fake):
    for bad in (['--seed', '3'], ['--data-dir', 'x'], ['--toy-layout=multi'],
                ['--seeds', '1', '1']):
        with pytest.raises(SystemExit):
            toy_vid_seeds.main(['--out-dir', str(tmp_path), *bad])
    with pytest.raises(SystemExit):      # checked before any run
        toy_vid_seeds.main(['--out-dir', str(tmp_path), '--itres', '2'])
    assert fake.calls == []


def test_seeds_smoke(tmp_path):
    """One real (layout, seed), 2 iterations, the paper objective."""
    out = str(tmp_path / 'seeds')
    proc = subprocess.run(
        [sys.executable, osp.join(TOOLS, 'misc', 'toy_vid_seeds.py'),
         '--seeds', '1', '--layouts', 'multi', '--out-dir', out,
         '--num-train-videos', '4', '--num-val-videos', '2',
         '--cls-pretrain-iters', '0', '--pretrain-iters', '0', '--iters',
         '2', '--cfg-options', 'train_dataloader.batch_size=2',
         '--stpn-cfg-options', 'model.type=FasterRCNN'],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = _load(osp.join(out, 'multi', 'seed1', 'results.json'))
    row = _load(osp.join(out, 'seeds_table.json'))['table']['multi']
    for frames, key in zip(('all', 'deteriorated', 'clean'), KEYS):
        for model in ('baseline', 'stpn'):
            v = results[model][key]
            assert 0 <= v <= 1 or v == -1
            assert row['seeds']['1'][f'{model}_{frames}'] == v
            assert row['mean'][f'{model}_{frames}'] == v
    # STPN ran with the paper objective (no auxiliary-loss note)
    assert 'PromptSupervisedFasterRCNN (an auxiliary loss' not in proc.stdout
    assert 'clean' in proc.stdout and '| multi | 1 |' in proc.stdout
    info = _load(osp.join(out, 'data', 'multi_seed1', 'val.json'))['info']
    assert info['layout'] == 'multi' and info['seed'] == 1
