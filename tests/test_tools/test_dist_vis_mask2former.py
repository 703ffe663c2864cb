"""2-process CPU test of STPN Mask2FormerVideo and MinVIS
(tools/dist_test.sh): trained 2 iterations on a tiny toy VIS set, then
tested by 2 processes and by 1 process (offline and online support
policies): the YouTube-VIS metric and every predicted track (the server
json that ``format_only`` writes) are the same."""
import os.path as osp

import numpy as np
import pytest

from tests.test_tools.test_dist_vis import _gen, _options, _tracks
from tests.test_tools.tool_helpers import (REPO, logged_metrics, logs,
                                           run_dist, run_tool, tool_env)

CONFIGS = dict(
    m2f=osp.join(REPO, 'tests', 'data', 'configs',
                 'tiny_stpn_toy_mask2former_vis.py'),
    minvis=osp.join(REPO, 'tests', 'data', 'configs',
                    'tiny_stpn_toy_minvis.py'))
BACKBONE = dict(m2f='model.backbone', minvis='model.detector.backbone')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('dist_vis_m2f')
    path = str(root / 'toy_vis')
    _gen().generate_toy_vis(path, num_train_videos=4, num_val_videos=3,
                            frames_per_video=8, img_size=(64, 64), seed=0)
    return root, path


@pytest.fixture(scope='module', params=['m2f', 'minvis'])
def trained(request, data):
    root, path = data
    model = request.param
    env = tool_env()
    work = str(root / f'train_{model}')
    run_tool(env, 'train.py', CONFIGS[model], '--work-dir', work,
             *_options(path, work, 'train_cfg.max_iters=2'))
    return dict(model=model, root=root, data=path, env=env,
                ckpt=osp.join(work, 'iter_2.pth'))


@pytest.mark.parametrize('mode', ['offline', 'online'])
def test_dist_test_matches_single_process(trained, mode):
    model, root, data, env = (trained['model'], trained['root'],
                              trained['data'], trained['env'])
    config = CONFIGS[model]
    extra = [] if mode == 'offline' else [
        f'{BACKBONE[model]}.test_support.mode=online']
    dist_work = str(root / f'{model}_dist_{mode}')
    run_dist(env, 'dist_test.sh', config, trained['ckpt'], '2',
             '--work-dir', dist_work, *_options(data, dist_work, *extra))
    single_work = str(root / f'{model}_single_{mode}')
    run_tool(env, 'test.py', config, trained['ckpt'], '--work-dir',
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
