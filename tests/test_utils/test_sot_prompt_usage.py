"""mmstpn.utils.sot_prompt_usage and its entry in
tools/analysis_tools/prompt_usage.py: the item variants, the peak test
against a naive loop, and a tracker whose prompts do not depend on its
support crops reported as ignoring them."""
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmstpn.projects.toy_sot.generator import generate_toy_sot
from mmstpn.utils import sot_prompt_usage as spu
from tests.test_tools.tool_helpers import REPO, load_tool

CONFIG = osp.join(REPO, 'configs', 'stpn_sot',
                  'stpn_one-stream_vit-toy-p8_1xb16-3000i_toy-sot.py')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sot_usage'))
    generate_toy_sot(root, num_train=4, num_val=2, seed=0,
                     frames_per_sequence=8)
    cfg = Config.fromfile(CONFIG)
    cfg.train_dataloader.dataset.data_root = root + '/'
    return cfg


def _model(cfg, constant_prompts=False):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if constant_prompts:  # the predictor's output ignores the supports
        with torch.no_grad():
            model.backbone.predictor.out_proj.weight.zero_()
            model.backbone.predictor.out_proj.bias.normal_()
    return model.eval()


def test_pipeline_variants(toy):
    pipeline = toy.train_dataloader.dataset.pipeline
    variants = spu.pipeline_variants(pipeline)
    assert list(variants) == ['deteriorated', 'clean']
    types = {k: [s['type'] for s in v] for k, v in variants.items()}
    assert 'ClipCorrupt' not in types['clean'] and \
        'RandomApply' not in types['clean']
    assert 'ClipCorrupt' in types['deteriorated'] and \
        'RandomApply' not in types['deteriorated']
    assert len(types['clean']) == len(pipeline) - 1
    assert len(types['deteriorated']) == len(pipeline)
    # without a search corruption there is only the clean variant
    assert list(spu.pipeline_variants(variants['clean'])) == ['clean']


def test_variants_hold_the_same_items(toy):
    ds_cfg = toy.train_dataloader.dataset
    variants = spu.pipeline_variants(ds_cfg.pipeline)
    det = spu.collect_items(ds_cfg, variants['deteriorated'], 5, seed=3)
    clean = spu.collect_items(ds_cfg, variants['clean'], 5, seed=3)
    again = spu.collect_items(ds_cfg, variants['clean'], 5, seed=3)
    for a, b, c in zip(det, clean, again):
        names = [s.video_data_samples[0].metainfo['video_name']
                 for s in (a['data_samples'], b['data_samples'])]
        assert names[0] == names[1]
        assert torch.equal(a['inputs']['template'], b['inputs']['template'])
        # supports equal, the search crop corrupted in one variant only
        assert torch.equal(a['inputs']['search'][1:],
                           b['inputs']['search'][1:])
        assert not torch.equal(a['inputs']['search'][0],
                               b['inputs']['search'][0])
        assert torch.equal(b['inputs']['search'], c['inputs']['search'])


def test_peak_on_target_against_a_loop():
    g = torch.Generator().manual_seed(0)
    score = torch.rand(6, 1, 4, 5, generator=g)
    xy = torch.rand(6, 2, generator=g) * 0.6
    gt = torch.cat([xy, xy + 0.4], dim=1)
    got = spu._peak_on_target(score, gt)
    for i in range(6):
        flat = int(score[i, 0].flatten().argmax())
        cy, cx = (flat // 5 + 0.5) / 4, (flat % 5 + 0.5) / 5
        want = gt[i, 0] <= cx <= gt[i, 2] and gt[i, 1] <= cy <= gt[i, 3]
        assert bool(got[i]) == bool(want)


def test_partners_come_from_another_sequence():
    assert spu._partners(['a', 'a', 'b', 'c']) == [2, 2, 3, 0]
    with pytest.raises(ValueError, match='one sequence'):
        spu._partners(['a', 'a'])


def test_constant_prompts_read_as_ignored(toy):
    model = _model(toy, constant_prompts=True)
    out = spu.sot_prompt_usage(model, toy, num_items=6, seed=0)
    det = out['variants']['deteriorated']
    assert det['items'] == 6
    assert det['prompt_spread'] < 1e-6
    assert det['score_change']['swap'] < 1e-6
    assert det['peak_on_target']['own'] == det['peak_on_target']['swap']
    assert out['verdict'].startswith('prompts IGNORED')
    # the prompts still enter the pass: zero prompts move the scores
    assert det['score_change']['zero'] > 1e-5


def test_verdict_threshold():
    figs = {'deteriorated': {'peak_on_target': dict(own=0.8, swap=0.7)},
            'clean': {'peak_on_target': dict(own=0.9, swap=0.9)}}
    assert spu.verdict(figs, 0.05).startswith('prompts USED')
    assert spu.verdict(figs, 0.2).startswith('prompts IGNORED')


def test_tool_dispatches_trackers(toy, tmp_path):
    tool = load_tool('analysis_tools/prompt_usage.py')
    out = tmp_path / 'usage.json'
    root = toy.train_dataloader.dataset.data_root
    figures = tool.main([
        CONFIG, 'none', '--items', '4', '--json', str(out), '--cfg-options',
        f'train_dataloader.dataset.data_root={root}'
    ])
    assert out.exists()
    assert set(figures['variants']) == {'deteriorated', 'clean'}
    assert figures['verdict'].startswith('prompts ')
