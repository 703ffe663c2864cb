"""2-process CPU run of the VIS pipeline (tools/dist_*.sh): STPN MaskTrack
R-CNN trained by 2 processes on a tiny toy VIS set, then tested by 2
processes and by 1 process (offline and online support policies): the
YouTube-VIS metric and every predicted track (the server json that
``format_only`` writes) are the same."""
import json
import os.path as osp

import numpy as np
import pytest

from tests.test_tools.tool_helpers import (REPO, assert_dist_trained,
                                           logged_metrics, logs, run_dist,
                                           run_tool, tool_env)

CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_stpn_toy_vis.py')


def _gen():
    from mmstpn.projects.toy_vis import generator
    return generator


def _options(root, work, *extra):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={root}/',
            f'val_dataloader.dataset.data_root={root}/',
            f'test_dataloader.dataset.data_root={root}/',
            f'test_evaluator.1.outfile_prefix={work}/preds', *extra]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('dist_vis')
    data = str(root / 'toy_vis')
    _gen().generate_toy_vis(data, num_train_videos=4, num_val_videos=3,
                            frames_per_video=8, img_size=(64, 64), seed=0)
    env = tool_env()
    work = str(root / 'train')
    run_dist(env, 'dist_train.sh', CONFIG, '2', '--work-dir', work,
             *_options(data, work))
    ckpt = assert_dist_trained(work, iters=3, world_size=2)
    assert 'loss_match' in logs(work)[0] and 'loss_mask' in logs(work)[0]
    return dict(root=root, data=data, env=env, ckpt=ckpt)


def _tracks(work):
    with open(osp.join(work, 'preds.json')) as f:
        preds = json.load(f)
    return sorted(preds, key=lambda p: (p['video_id'], p['category_id'],
                                        -p['score']))


@pytest.mark.parametrize('mode', ['offline', 'online'])
def test_dist_vis_test_matches_single_process(trained, mode):
    root, data, env = trained['root'], trained['data'], trained['env']
    extra = [] if mode == 'offline' else [
        'model.detector.backbone.test_support.mode=online']
    dist_work = str(root / f'dist_{mode}')
    run_dist(env, 'dist_test.sh', CONFIG, trained['ckpt'], '2',
             '--work-dir', dist_work, *_options(data, dist_work, *extra))
    single_work = str(root / f'single_{mode}')
    run_tool(env, 'test.py', CONFIG, trained['ckpt'], '--work-dir',
             single_work, *_options(data, single_work, *extra))
    assert 'GPU number: 2' in logs(dist_work)[0]
    dist_m = logged_metrics(dist_work, 'youtube_vis/')
    single_m = logged_metrics(single_work, 'youtube_vis/')
    assert 'youtube_vis/segm_mAP' in dist_m
    np.testing.assert_equal(dist_m, single_m)
    dist_t, single_t = _tracks(dist_work), _tracks(single_work)
    # every val video has tracks, from both runs, and they are the same
    assert {t['video_id'] for t in single_t} == {1, 2, 3}
    assert len(dist_t) == len(single_t) > 0
    for d, s in zip(dist_t, single_t):
        assert d['video_id'] == s['video_id']
        assert d['category_id'] == s['category_id']
        assert abs(d['score'] - s['score']) < 1e-5
        assert d['segmentations'] == s['segmentations']
