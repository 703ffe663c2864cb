"""mmstpn.apis against the test loop of tools/test.py.

A tiny STPN Faster R-CNN (tests/data/configs/tiny_stpn_toy_vid.py) and the
toy STPN + SELSA config, freshly initialised and saved as checkpoints, run
on a tiny synthetic deteriorated-video set twice: through the Runner that
``tools/test.py`` builds (``mmstpn.utils.launch.build_runner``, predictions
dumped as ``--out`` dumps them) and through ``inference_video`` on the
frames read from disk. Every frame's boxes, scores and labels must agree,
offline and online.
"""
import copy
import json
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmstpn.apis import VideoInferencer, inference_video, init_model
from mmstpn.evaluation import DumpVideoDetResults
from mmstpn.structures import get_video_context
from mmstpn.utils import CheckpointMismatchError, launch
from mmstpn.projects.toy_vid.generator import generate_deteriorated_vid
from tests.test_tools.tool_helpers import REPO

CONFIGS = {
    'stpn': osp.join(REPO, 'tests', 'data', 'configs',
                     'tiny_stpn_toy_vid.py'),
    'stpn-selsa': osp.join(
        REPO, 'configs', 'selsa',
        'stpn-selsa_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py'),
}


def _options(data: dict, work: str) -> dict:
    root = data['root'].rstrip('/') + '/'
    opts = {'work_dir': work}
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = root
        opts[f'{split}_dataloader.num_workers'] = 0
        opts[f'{split}_dataloader.persistent_workers'] = False
    opts['val_evaluator.ann_file'] = data['val_ann']
    opts['test_evaluator.ann_file'] = data['val_ann']
    return opts


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('apis')
    data = generate_deteriorated_vid(
        str(root / 'toy_vid'), num_train_videos=1, num_val_videos=2,
        frames_per_video=6, img_size=(64, 64), seed=0)
    with open(data['val_ann']) as f:
        val = json.load(f)
    ckpts = {}
    for name, path in CONFIGS.items():
        cfg = Config.fromfile(path)
        init_default_scope('mmdet')
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        ckpts[name] = str(root / f'{name}.pth')
        torch.save(dict(state_dict=model.state_dict(),
                        meta=dict(dataset_meta=dict(classes=cfg.classes))),
                   ckpts[name])
    return dict(root=root, data=data, val=val, ckpts=ckpts)


def _runner_preds(toy, name: str, mode: str) -> dict:
    """img_id -> prediction of the test loop tools/test.py runs."""
    work = str(toy['root'] / f'runner_{name}_{mode}')
    cfg = Config.fromfile(CONFIGS[name])
    cfg.merge_from_dict(_options(toy['data'], work))
    cfg.merge_from_dict({'model.backbone.test_support.mode': mode,
                         'load_from': toy['ckpts'][name]})
    runner = launch.build_runner(cfg)
    out = osp.join(work, 'preds.pkl')
    runner.test_evaluator.metrics.append(DumpVideoDetResults(out_file_path=out))
    runner.test()
    with open(out, 'rb') as f:
        return {p['img_id']: p for p in pickle.load(f)}


def _videos(toy):
    """video_id -> [(img_id, file)] in frame order."""
    prefix = osp.join(toy['data']['root'], 'frames')
    videos = {}
    for img in toy['val']['images']:
        videos.setdefault(img['video_id'], []).append(
            (img['frame_id'], img['id'], osp.join(prefix, img['file_name'])))
    return {v: [(i, f) for _, i, f in sorted(items)]
            for v, items in videos.items()}


@pytest.mark.parametrize('mode', ['offline', 'online'])
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_api_equals_the_test_tool(toy, name, mode):
    expected = _runner_preds(toy, name, mode)
    model = init_model(CONFIGS[name], toy['ckpts'][name],
                       cfg_options=_options(toy['data'], str(toy['root'])))
    checked = 0
    for video_id, frames in _videos(toy).items():
        results = inference_video(model, [f for _, f in frames], mode=mode,
                                  video=str(video_id))
        assert get_video_context(model).policy.mode == mode
        assert len(results) == len(frames)
        for (img_id, _), res in zip(frames, results):
            want = expected[img_id]['pred_instances']
            got = res.pred_instances
            assert len(got.bboxes) == len(want['bboxes'])
            np.testing.assert_allclose(got.bboxes.numpy(), want['bboxes'],
                                       rtol=0, atol=1e-4)
            np.testing.assert_allclose(got.scores.numpy(), want['scores'],
                                       rtol=0, atol=1e-5)
            np.testing.assert_array_equal(got.labels.numpy(),
                                          want['labels'])
            checked += len(got.bboxes)
    assert checked > 0  # not a trivial comparison of empty results
    assert not get_video_context(model).videos()  # nothing kept after


def test_offline_and_online_differ_and_switch_every_consumer(toy):
    """The policy is switched in one place: for STPN + SELSA the backbone
    and SELSA read the same context; the two modes give different results
    on a video (so the comparison above can tell them apart)."""
    model = init_model(CONFIGS['stpn-selsa'], toy['ckpts']['stpn-selsa'],
                       cfg_options=_options(toy['data'], str(toy['root'])))
    frames = [f for _, f in next(iter(_videos(toy).values()))]
    VideoInferencer(model, mode='online', num_support=3, stride=2)
    assert model.test_support == model.backbone.test_support
    assert (model.test_support.mode, model.test_support.num_support,
            model.test_support.stride) == ('online', 3, 2)
    online = inference_video(model, frames, mode='online')
    offline = inference_video(model, frames, mode='offline')
    assert model.backbone.test_support.mode == 'offline'
    assert any(not torch.equal(a.pred_instances.scores,
                               b.pred_instances.scores)
               for a, b in zip(online[1:], offline[1:]))


def test_init_model_rejects_a_checkpoint_of_another_model(toy, tmp_path):
    opts = _options(toy['data'], str(tmp_path))
    with pytest.raises(CheckpointMismatchError, match='stpn-selsa.pth'):
        init_model(CONFIGS['stpn'], toy['ckpts']['stpn-selsa'],
                   cfg_options=opts)
    model = init_model(CONFIGS['stpn'], toy['ckpts']['stpn-selsa'],
                       cfg_options=opts, allow_partial_load=True)
    assert list(model.dataset_meta['classes']) == list(
        Config.fromfile(CONFIGS['stpn']).classes)


def test_old_predictor_keys_load(toy, tmp_path):
    """A checkpoint with the predictor at backbone.predictor.* (before the
    prompt generator) loads strictly and predicts the same."""
    ckpt = torch.load(toy['ckpts']['stpn'], weights_only=False)
    old = copy.deepcopy(ckpt)
    old['state_dict'] = {
        k.replace('backbone.prompt_generator.predictor.',
                  'backbone.predictor.'): v
        for k, v in ckpt['state_dict'].items()}
    assert any(k.startswith('backbone.predictor.') for k in old['state_dict'])
    path = str(tmp_path / 'old.pth')
    torch.save(old, path)
    opts = _options(toy['data'], str(tmp_path))
    new_model = init_model(CONFIGS['stpn'], toy['ckpts']['stpn'],
                           cfg_options=opts)
    old_model = init_model(CONFIGS['stpn'], path, cfg_options=opts)
    for a, b in zip(new_model.state_dict().values(),
                    old_model.state_dict().values()):
        assert torch.equal(a, b)


def test_init_model_takes_an_mmstpn_scope_config():
    """``mmstpn::<folder>/<name>.py`` resolves in the installed package, as
    a ``_base_`` entry does; the model is built without downloads."""
    name = 'stpn/stpn_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py'
    model = init_model('mmstpn::' + name)
    assert type(model).__name__ == 'FasterRCNN'
    assert model.cfg.filename.endswith(osp.join('.mim', 'configs', name))
    assert get_video_context(model).policy.mode == 'offline'
