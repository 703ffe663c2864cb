"""End-to-end tests of tools/train.py, tools/test.py and tools/dist_*.sh.

A tiny RetinaNet (tests/data/configs/tiny_retinanet_coco.py) is trained on
a handful of synthetic COCO-format images written into a temporary folder;
everything runs on CPU in subprocesses, exactly as a user would call the
tools, with nothing downloaded. Ground-truth boxes coincide with anchors, so
even a barely trained model scores a non-zero, rank-sensitive mAP and the
1-process vs 2-process comparison is not a trivial 0 == 0.
"""
import glob
import json
import os
import os.path as osp
import pickle
import shutil
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmstpn.utils import launch
from tests.test_tools.tool_helpers import REPO, assert_dist_trained
from tests.test_tools.tool_helpers import free_port as _free_port
from tests.test_tools.tool_helpers import load_checkpoint as _load
from tests.test_tools.tool_helpers import logged_metrics
from tests.test_tools.tool_helpers import logs as _logs
from tests.test_tools.tool_helpers import run_dist, run_tool, tool_env

CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_retinanet_coco.py')
NUM_IMAGES = 8


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _write_tiny_coco(root):
    """8 images of 64x64 with one 16x16 'square' and one 32x32 'bar' each,
    both placed exactly on an anchor of the tiny RetinaNet (strides 4 / 8,
    anchor sizes 16 / 32, anchors centered on multiples of the stride)."""
    rng = np.random.RandomState(0)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    images, anns = [], []
    for i in range(NUM_IMAGES):
        img = rng.randint(0, 60, size=(64, 64, 3)).astype(np.uint8)
        boxes = []
        for cat, half, color in ((1, 8, (40, 40, 230)), (2, 16,
                                                         (230, 60, 30))):
            cx, cy = (int(v) * 4 for v in rng.randint(
                half // 4, (64 - half) // 4 + 1, size=2))
            x1, y1 = cx - half, cy - half
            img[y1:cy + half, x1:cx + half] = color
            boxes.append((cat, [x1, y1, 2 * half, 2 * half]))
        name = f'{i:03d}.png'
        mmcv.imwrite(img, osp.join(root, 'images', name))
        images.append(dict(id=i + 1, file_name=name, width=64, height=64))
        for cat, box in boxes:
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=i + 1,
                    category_id=cat,
                    bbox=box,
                    area=box[2] * box[3],
                    iscrowd=0))
    coco = dict(
        images=images,
        annotations=anns,
        categories=[dict(id=1, name='square'),
                    dict(id=2, name='bar')])
    with open(osp.join(root, 'annotations.json'), 'w') as f:
        json.dump(coco, f)


def _train(env, work_dir, *extra):
    return run_tool(env, 'train.py', CONFIG, '--work-dir', work_dir, *extra)


def _test(env, ckpt, work_dir, *extra):
    return run_tool(env, 'test.py', CONFIG, ckpt, '--work-dir', work_dir,
                    *extra)


def _test_metrics(work_dir):
    return logged_metrics(work_dir, 'coco/')


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def _changed(a, b):
    return any(not torch.equal(a[k], b[k]) for k in a
               if a[k].is_floating_point())


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('tools')
    data = str(root / 'tiny_coco')
    _write_tiny_coco(data)
    env = tool_env(MMSTPN_TINY_COCO=data)
    return dict(root=root, env=env)


@pytest.fixture(scope='module')
def trained(tiny):
    """2 iterations, then --resume to 4; plus a straight 4-iteration run."""
    env, root = tiny['env'], tiny['root']
    resumed, straight = str(root / 'resumed'), str(root / 'straight')
    _train(env, resumed)
    _train(env, resumed, '--resume', '--cfg-options', 'train_cfg.max_iters=4')
    _train(env, straight, '--cfg-options', 'train_cfg.max_iters=4')
    return dict(resumed=resumed, straight=straight)


# --------------------------------------------------------------------------
# train.py: resume continues the run exactly
# --------------------------------------------------------------------------
def test_train_then_resume(trained):
    work = trained['resumed']
    first, second = _logs(work)
    assert 'Iter(train) [2/2]' in first
    assert 'resumed epoch: 0, iter: 2' in second
    assert 'Advance dataloader 2 steps' in second
    assert 'Iter(train) [3/4]' in second and 'Iter(train) [4/4]' in second
    assert 'Iter(train) [1/4]' not in second  # nothing trained twice
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_4.pth')

    ck2 = _load(osp.join(work, 'iter_2.pth'))
    ck4 = _load(osp.join(work, 'iter_4.pth'))
    assert ck2['meta']['iter'] == 2 and ck4['meta']['iter'] == 4
    assert ck4['message_hub']['runtime_info']['iter'] == 3  # 0-based
    assert ck4['message_hub']['runtime_info']['max_iters'] == 4
    # the loss history carries over: iterations 1-2 from the first run,
    # then 3-4 from the resumed one
    hist2 = ck2['message_hub']['log_scalars']['train/loss'].data[0]
    hist4 = ck4['message_hub']['log_scalars']['train/loss'].data[0]
    assert len(hist2) == 2 and len(hist4) == 4
    np.testing.assert_array_equal(hist4[:2], hist2)
    # momentum buffers were restored, not re-initialised
    assert ck4['optimizer']['state']

    # weights moved on from iteration 2 and equal those of an
    # uninterrupted 4-iteration run (same data order, same optimiser state)
    assert _changed(ck2['state_dict'], ck4['state_dict'])
    straight = _load(osp.join(trained['straight'], 'iter_4.pth'))
    assert straight['meta']['iter'] == 4
    _assert_same_weights(ck4['state_dict'], straight['state_dict'])
    np.testing.assert_allclose(
        hist4,
        straight['message_hub']['log_scalars']['train/loss'].data[0],
        rtol=1e-5)


# --------------------------------------------------------------------------
# test.py: metrics, --out, --show-dir, --tta
# --------------------------------------------------------------------------
def test_test_tool(tiny, trained):
    ckpt = osp.join(trained['resumed'], 'iter_4.pth')
    work = str(tiny['root'] / 'test')
    out = osp.join(work, 'preds.pkl')
    _test(tiny['env'], ckpt, work, '--out', out, '--show-dir', 'vis')
    metrics = _test_metrics(work)
    assert 0 < metrics['coco/bbox_mAP'] <= 1
    assert 'coco/bbox_mAP_50' in metrics
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == NUM_IMAGES
    assert len(glob.glob(osp.join(work, '*', 'vis', '*.png'))) == NUM_IMAGES

    # --tta: mmdet's flip TTA wrapped around the model
    work_tta = str(tiny['root'] / 'test_tta')
    log = _test(tiny['env'], ckpt, work_tta, '--tta')
    assert 'DetTTAModel' in log
    assert 0 <= _test_metrics(work_tta)['coco/bbox_mAP'] <= 1


# --------------------------------------------------------------------------
# checkpoints that do not fit, unreadable ones, resume after a killed save
# --------------------------------------------------------------------------
def _failing_tool(env, script, *args):
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', script), *args], cwd=REPO,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=240)
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stdout


def test_test_tool_refuses_a_checkpoint_that_does_not_fit(tiny, trained):
    root = tiny['root'] / 'bad_ckpts'
    root.mkdir()
    good = _load(osp.join(trained['resumed'], 'iter_4.pth'))
    # another model's weights (a tracker's keys) in place of the head's
    other = {k: v for k, v in good['state_dict'].items()
             if not k.startswith('bbox_head.')}
    other.update({'tracker.template.weight': torch.zeros(3, 3),
                  'tracker.template.bias': torch.zeros(3)})
    mismatched = str(root / 'mismatched.pth')
    torch.save(dict(state_dict=other, meta=good['meta']), mismatched)
    out = _failing_tool(tiny['env'], 'test.py', CONFIG, mismatched,
                        '--work-dir', str(root / 'w1'))
    assert f'CheckpointMismatchError: {mismatched}: the checkpoint does ' \
        'not fit RetinaNet' in out
    assert "keys missing (in the model, not in the file): ['bbox_head." \
        in out
    assert "2 keys unexpected (in the file, not in the model): " \
        "['tracker.template.weight', 'tracker.template.bias']" in out
    assert 'coco/bbox_mAP' not in out  # no metric of random weights
    # the explicit opt-in loads what fits and evaluates
    log = _test(tiny['env'], mismatched, str(root / 'w2'),
                '--allow-partial-load')
    assert 'partial load (allowed)' in log
    assert 'coco/bbox_mAP' in _test_metrics(str(root / 'w2'))
    # a truncated file: named, without torch's weights_only advice
    truncated = str(root / 'truncated.pth')
    with open(osp.join(trained['resumed'], 'iter_4.pth'), 'rb') as f:
        data = f.read()
    with open(truncated, 'wb') as f:
        f.write(data[:len(data) // 2])
    out = _failing_tool(tiny['env'], 'test.py', CONFIG, truncated,
                        '--work-dir', str(root / 'w3'))
    assert f'CheckpointReadError: {truncated} ({len(data) // 2} bytes): ' \
        'not a readable torch checkpoint' in out
    assert 'weights_only' not in out


def test_train_resumes_from_the_newest_readable_checkpoint(tiny, trained):
    """A run killed while writing iter_4.pth (truncated, last_checkpoint
    pointing at it): --resume starts from iter_2.pth, says so, and ends
    with the weights of an uninterrupted run."""
    work = str(tiny['root'] / 'killed')
    shutil.copytree(trained['resumed'], work)
    latest = osp.join(work, 'iter_4.pth')
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(latest)
    with open(latest, 'r+b') as f:
        f.truncate(os.path.getsize(latest) // 3)
    log = _train(tiny['env'], work, '--resume', '--cfg-options',
                 'train_cfg.max_iters=4')
    assert f'auto resume: skipping {latest}: {latest} (' in log
    assert f"Auto resumed from {osp.join(work, 'iter_2.pth')} (newest " \
        f"readable checkpoint; skipped ['{latest}'])" in log
    assert 'Iter(train) [3/4]' in log and 'Iter(train) [4/4]' in log
    straight = _load(osp.join(trained['straight'], 'iter_4.pth'))
    _assert_same_weights(_load(latest)['state_dict'], straight['state_dict'])


# --------------------------------------------------------------------------
# dist_train.sh / dist_test.sh: 2 CPU processes over gloo
# --------------------------------------------------------------------------
def test_dist_train_and_test(tiny):
    env, root = tiny['env'], tiny['root']
    work = str(root / 'dist')
    run_dist(env, 'dist_train.sh', CONFIG, '2', '--work-dir', work,
             '--cfg-options', 'train_cfg.max_iters=3',
             'default_hooks.checkpoint.interval=3')
    ckpt = assert_dist_trained(work, iters=3, world_size=2)

    # the same checkpoint tested by 2 processes and by 1 process
    dist_work = str(root / 'dist_test')
    dist_out = osp.join(dist_work, 'preds.pkl')
    run_dist(env, 'dist_test.sh', CONFIG, ckpt, '2', '--work-dir', dist_work,
             '--out', dist_out)
    single_work = str(root / 'single_test')
    single_out = osp.join(single_work, 'preds.pkl')
    _test(env, ckpt, single_work, '--out', single_out)

    dist_metrics = _test_metrics(dist_work)
    single_metrics = _test_metrics(single_work)
    assert 'GPU number: 2' in _logs(dist_work)[0]
    assert dist_metrics['coco/bbox_mAP'] > 0
    assert dist_metrics == single_metrics
    with open(dist_out, 'rb') as f:
        dist_preds = pickle.load(f)
    with open(single_out, 'rb') as f:
        single_preds = pickle.load(f)
    assert len(dist_preds) == len(single_preds) == NUM_IMAGES
    for d, s in zip(dist_preds, single_preds):
        assert d['img_id'] == s['img_id']
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(d['pred_instances'][key],
                                       s['pred_instances'][key])


# --------------------------------------------------------------------------
# launch.py helpers, in process
# --------------------------------------------------------------------------
def _args(**kwargs):
    import argparse
    base = dict(config=CONFIG, launcher='none', cfg_options=None,
                work_dir=None)
    base.update(kwargs)
    return argparse.Namespace(**base)


def test_merge_cli_args():
    cfg = launch.merge_cli_args(Config.fromfile(CONFIG), _args())
    assert cfg.work_dir == osp.join('./work_dirs', 'tiny_retinanet_coco')
    assert cfg.launcher == 'none' and cfg.resume is False

    cfg = launch.merge_cli_args(
        Config.fromfile(CONFIG),
        _args(
            work_dir='w',
            amp=True,
            auto_scale_lr=True,
            resume='auto',
            cfg_options={'train_cfg.max_iters': 7}))
    assert cfg.work_dir == 'w' and cfg.train_cfg.max_iters == 7
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.auto_scale_lr.enable is True
    assert cfg.resume is True and cfg.load_from is None

    cfg = launch.merge_cli_args(
        Config.fromfile(CONFIG), _args(resume='a/iter_2.pth'))
    assert cfg.resume is True and cfg.load_from == 'a/iter_2.pth'

    no_scale = Config.fromfile(CONFIG)
    no_scale.auto_scale_lr = None
    with pytest.raises(RuntimeError, match='auto_scale_lr'):
        launch.merge_cli_args(no_scale, _args(auto_scale_lr=True))

    cfg = launch.merge_cli_args(
        Config.fromfile(CONFIG),
        _args(checkpoint='c.pth', show=False, show_dir='vis', tta=True))
    assert cfg.load_from == 'c.pth'
    vis = cfg.default_hooks.visualization
    assert vis.draw is True and vis.test_out_dir == 'vis'
    assert cfg.model.type == 'DetTTAModel'
    assert cfg.model.module.type == 'RetinaNet'
    tta = cfg.test_dataloader.dataset.pipeline[-1]
    assert tta.type == 'TestTimeAug'
    assert {'flip', 'flip_direction'} <= set(tta.transforms[1][0].meta_keys)


def test_setup_distributed_keeps_accelerator_path(monkeypatch):
    monkeypatch.setattr(launch, 'get_device', lambda: 'cuda')
    cfg = Config.fromfile(CONFIG)
    launch.setup_distributed('pytorch', cfg)
    assert cfg.launcher == 'pytorch'
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'  # untouched
    assert 'model_wrapper_cfg' not in cfg
    assert not torch.distributed.is_initialized()

    cfg = Config.fromfile(CONFIG)
    monkeypatch.setattr(launch, 'get_device', lambda: 'cpu')
    launch.setup_distributed('none', cfg)
    assert 'model_wrapper_cfg' not in cfg
    assert not torch.distributed.is_initialized()


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm'])
def test_setup_distributed_cpu(monkeypatch, launcher):
    """World size 1, in process: gloo group created before the runner, DDP
    wrapper without device ids; slurm variables translated."""
    monkeypatch.setattr(launch, 'get_device', lambda: 'cpu')
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                'MASTER_PORT'):
        # set first so that monkeypatch restores (or removes) it afterwards:
        # setup_distributed writes os.environ itself
        monkeypatch.setenv(key, '')
        monkeypatch.delenv(key)
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(_free_port()))
    if launcher == 'pytorch':
        monkeypatch.setenv('RANK', '0')
        monkeypatch.setenv('WORLD_SIZE', '1')
        monkeypatch.setenv('LOCAL_RANK', '0')
    else:
        monkeypatch.setenv('SLURM_PROCID', '0')
        monkeypatch.setenv('SLURM_NTASKS', '1')
        monkeypatch.setenv('SLURM_LOCALID', '0')
        monkeypatch.setenv('SLURM_NODELIST', 'localhost')
    cfg = Config.fromfile(CONFIG)
    cfg.find_unused_parameters = True
    try:
        launch.setup_distributed(launcher, cfg)
        assert torch.distributed.is_initialized()
        assert torch.distributed.get_backend() == 'gloo'
        assert torch.distributed.get_world_size() == 1
        assert os.environ['RANK'] == '0' and os.environ['WORLD_SIZE'] == '1'
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg == dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=True,
            device_ids=None)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
