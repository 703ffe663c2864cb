"""Smoke test of tools/misc/toy_vid_compare.py in-process on a tiny
generated set: its five configs are the main job's CONFIGS (so its workers
accept them), STPN + SELSA trains 2 iterations and is tested through the
main job's worker (VideoContextHook hands SELSA's policy to the pipeline),
the latency of the trained model is measured and reported as a ratio. The
AP of a 2-iteration model is meaningless; the full run (~40+ min on 2
cores) is not run here."""
import importlib.util
import os.path as osp

import pytest

from mmstpn.projects.toy_vid.generator import generate_deteriorated_vid

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'misc', 'toy_vid_compare.py')


def _load_script():
    spec = importlib.util.spec_from_file_location('toy_vid_compare', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_vid'))
    generate_deteriorated_vid(
        root, num_train_videos=2, num_val_videos=1, seed=0)
    return root


def test_compare_worker_and_latency(tiny_set, tmp_path):
    tool = _load_script()
    for name in tool.MODELS_ORDER:
        assert osp.exists(osp.join(REPO, tool.main_job.CONFIGS[name]))
    assert sorted(tool.SCHEDULE) == sorted(tool.MODELS_ORDER)
    args = tool.main_job.parse_args([
        '--out-dir', str(tmp_path), '--data-dir', tiny_set,
        '--pretrain-iters', '0', '--iters', '2', '--worker', 'stpn_selsa',
        '--cfg-options', 'train_dataloader.batch_size=1',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.persistent_workers=False',
        'train_cfg.val_interval=1000', 'model.test_cfg.rpn.max_per_img=10',
        'model.backbone.test_support.num_support=2'
    ])
    results = tool.main_job.run_worker('stpn_selsa', args)
    assert 0 <= results['stpn_selsa']['bbox_mAP_50'] <= 1
    assert osp.exists(tool.checkpoint(args, 'stpn_selsa'))
    # --reuse-trained: a checkpoint without results is tested only; results
    # are reused only when asked (environment) and the json exists
    again = tool.test_only('stpn_selsa', args)
    for _, key in tool.main_job.COLUMNS:  # (per-class APs may be nan)
        assert again['stpn_selsa'][key] == results['stpn_selsa'][key]
    assert tool.reused_results(args, 'stpn_selsa') is None
    # the models alternate (the untrained baseline from its config)
    latency = tool.frame_latency(args, num_frames=3,
                                 names=('baseline', 'stpn_selsa'))
    assert set(latency) == {'baseline', 'stpn_selsa'}
    assert all(v > 0 for v in latency.values())
    sec = latency['stpn_selsa']
    lines = tool.latency_lines({'baseline': sec / 2, 'stpn_selsa': sec})
    assert 'x2.00 vs baseline' in lines[-1]
