"""End-to-end test of the VIDEO detection pipeline under tools/dist_*.sh.

A tiny STPN Faster R-CNN (tests/data/configs/tiny_stpn_toy_vid.py: the toy
VID config with a tiny STPNSwin, prompts on, attention predictor) is
trained for a few iterations by 2 CPU processes (gloo) on a tiny synthetic
deteriorated-video set (4 train / 3 val videos of 12 frames of 64x64),
then its checkpoint is tested by 2 processes and by 1 process, with the
backbone's test-time support cache in offline mode (the video's prompts
are computed once, on frame 0, from support frames spread over the video)
and in online mode (causal: embeddings of the past frames are cached).

In test mode ``VideoFrameSampler`` gives each rank whole videos (here
videos 1-2 to rank 0, video 3 to rank 1), frames in order; a video split
across ranks would make the offline cache fail (no prompts for a frame 0
seen elsewhere) and the online cache differ (a missing past). The test
checks that the 2-process run predicts every val frame exactly once, with
the same boxes, scores and labels as the 1-process run, and that the
VIDMetric results are identical (read from the metrics json, which rank 0
alone writes: see ``launch.build_runner``). Everything runs in
subprocesses, exactly as a user would call the tools, with nothing
downloaded.
"""
import json
import os.path as osp
import pickle
import weakref
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.nn.parallel import DistributedDataParallel

from mmstpn.projects.toy_vid.generator import generate_deteriorated_vid
from mmstpn.utils import launch
from tests.test_tools.tool_helpers import (REPO, assert_dist_trained,
                                           free_port, logged_metrics, logs,
                                           run_dist, run_tool, tool_env)

CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_stpn_toy_vid.py')
NUM_VAL_VIDEOS = 3
FRAMES_PER_VIDEO = 12
NUM_VAL_FRAMES = NUM_VAL_VIDEOS * FRAMES_PER_VIDEO
# enough for some correct detections (AP50 > 0: the metrics compared are not
# a trivial 0 == 0); 3 iterations were not, at the predictor's default init
TRAIN_ITERS = 30


def _cfg_options(data, *extra):
    root = data['root'].rstrip('/') + '/'
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={data["val_ann"]}',
        f'test_evaluator.ann_file={data["val_ann"]}', *extra
    ]


def _preds_by_img(path):
    """img_id -> prediction of a ``--out`` pickle; the list of img ids in
    file order (duplicates kept)."""
    with open(path, 'rb') as f:
        preds = pickle.load(f)
    return {p['img_id']: p for p in preds}, [p['img_id'] for p in preds]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The toy set, and a checkpoint trained by 2 processes."""
    root = tmp_path_factory.mktemp('dist_vid')
    data = generate_deteriorated_vid(
        str(root / 'toy_vid'),
        num_train_videos=4,
        num_val_videos=NUM_VAL_VIDEOS,
        frames_per_video=FRAMES_PER_VIDEO,
        img_size=(64, 64),
        seed=0)
    with open(data['val_ann']) as f:
        val = json.load(f)
    env = tool_env()
    work = str(root / 'train')
    run_dist(
        env, 'dist_train.sh', CONFIG, '2', '--work-dir', work,
        *_cfg_options(data, f'train_cfg.max_iters={TRAIN_ITERS}',
                      f'default_hooks.checkpoint.interval={TRAIN_ITERS}'))
    ckpt = assert_dist_trained(work, iters=TRAIN_ITERS, world_size=2)
    (log, ) = logs(work)
    # 2 ranks x batch 2: the sampler shards the training frames
    assert f'Iter(train) [{TRAIN_ITERS}/{TRAIN_ITERS}]' in log
    assert 'loss_cls' in log
    return dict(root=root, env=env, data=data, val=val, ckpt=ckpt)


@pytest.mark.parametrize('mode', ['offline', 'online'])
def test_dist_vid_test_matches_single_process(trained, mode):
    root, env, data = trained['root'], trained['env'], trained['data']
    ckpt = trained['ckpt']
    # one key switches the trained model online (the pipeline follows)
    extra = [] if mode == 'offline' else [
        'model.backbone.test_support.mode=online'
    ]
    dist_work = str(root / f'dist_test_{mode}')
    dist_out = osp.join(dist_work, 'preds.pkl')
    run_dist(env, 'dist_test.sh', CONFIG, ckpt, '2', '--work-dir',
             dist_work, '--out', dist_out, *_cfg_options(data, *extra))
    single_work = str(root / f'single_test_{mode}')
    single_out = osp.join(single_work, 'preds.pkl')
    run_tool(env, 'test.py', CONFIG, ckpt, '--work-dir', single_work,
             '--out', single_out, *_cfg_options(data, *extra))

    # whole videos per rank: rank 0 (the one that logs) ran videos 1-2
    (dist_log, ) = logs(dist_work)
    (single_log, ) = logs(single_work)
    assert 'GPU number: 2' in dist_log
    assert 'Iter(test) [24/24]' in dist_log
    assert f'Iter(test) [{NUM_VAL_FRAMES}/{NUM_VAL_FRAMES}]' in single_log
    assert f'VIDMetric: {NUM_VAL_FRAMES} frames' in dist_log
    assert 'duplicate frame results' not in dist_log

    # identical VIDMetric results (NaN, a class without GT, equals NaN)
    dist_metrics = logged_metrics(dist_work, 'vid/')
    single_metrics = logged_metrics(single_work, 'vid/')
    for split in ('', '_slow', '_medium', '_fast', '_deteriorated'):
        assert f'vid/bbox_mAP_50{split}' in dist_metrics
    assert dist_metrics['vid/bbox_mAP_50'] > 0  # not a trivial 0 == 0
    np.testing.assert_equal(dist_metrics, single_metrics)

    # every val frame predicted exactly once, by both runs, identically
    val_ids = sorted(img['id'] for img in trained['val']['images'])
    assert len(val_ids) == NUM_VAL_FRAMES
    dist_preds, dist_ids = _preds_by_img(dist_out)
    single_preds, single_ids = _preds_by_img(single_out)
    assert sorted(dist_ids) == val_ids  # none dropped, none duplicated
    assert sorted(single_ids) == val_ids
    for img_id in val_ids:
        d = dist_preds[img_id]['pred_instances']
        s = single_preds[img_id]['pred_instances']
        assert len(s['scores']) > 0
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(d[key], s[key], msg=f'{img_id} {key}')


def test_teardown_releases_ddp_wrapper(monkeypatch):
    """In process, world size 1: teardown_distributed(runner) unwraps the
    model (a DDP freed at interpreter exit can abort a gloo process) and
    destroys the group."""
    for key, value in dict(
            RANK='0',
            WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(key, value)
    torch.distributed.init_process_group('gloo', rank=0, world_size=1)
    try:
        model = torch.nn.Linear(2, 2)
        runner = SimpleNamespace(model=DistributedDataParallel(model))
        wrapper = weakref.ref(runner.model)
        launch.teardown_distributed(runner)
        assert runner.model is model
        assert wrapper() is None
        assert not torch.distributed.is_initialized()
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
