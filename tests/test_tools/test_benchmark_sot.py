"""Smoke run of tools/analysis_tools/benchmark_sot.py on a tiny tracker
(nothing asserts on a measured time)."""
import importlib.util
import json
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TINY = """
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)
model = dict(
    type='OneStreamTracker',
    data_preprocessor=dict(type='SOTDataPreprocessor'),
    backbone=dict(type='STPNOneStreamViT', img_size=64, template_size=32,
                  embed_dims=32, depth=2, num_heads=2, num_prompts=2,
                  test_support=dict(mode='online', num_support=2, stride=2)),
    head=dict(type='TrackCenterHead', feat_channels=16, num_convs=2),
    template_size=32, search_size=64)
"""


def test_benchmark_sot_smoke(tmp_path):
    spec = importlib.util.spec_from_file_location(
        'benchmark_sot',
        osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_sot.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cfg = tmp_path / 'tiny.py'
    cfg.write_text(TINY)
    out = tmp_path / 'res.json'
    res = mod.main([str(cfg), '--frames', '5', '--img-size', '80', '96',
                    '--json', str(out)])
    saved = json.loads(out.read_text())
    assert saved['ratio'] == res['ratio'] > 0
    assert abs(saved['mean_ratio'] - res['prompted']['mean_ms'] /
               res['baseline']['mean_ms']) < 1e-9
    for name in ('prompted', 'baseline'):
        assert saved[name]['median_ms'] > 0 and saved[name]['init_ms'] > 0
    assert saved['test_support'] == dict(mode='online', num_support=2,
                                         stride=2)
