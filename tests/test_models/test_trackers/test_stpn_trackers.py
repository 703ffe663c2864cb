"""STPN MaskTrack R-CNN / QDTrack / ByteTrack: mmdet's models and configs
with only backbone, data preprocessor and pipeline changed, on a tiny
on-disk video set (frames encode video and position in their top rows)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules
from mmstpn.structures import ClipBatch, SupportPolicy
from tests.test_models.test_trackers.fake_vis import (LENGTHS, decode_marker,
                                                      marker)

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), 'data',
                   'configs')
SIZE = 48


def load(name, root, ann):
    register_all_modules()
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        ds = loader.dataset
        ds.update(data_root=root, ann_file=ann,
                  data_prefix=dict(img_path='train/JPEGImages'))
        for t in ds.pipeline:
            if 'transforms' not in t:
                continue
            # the frames' markers must survive: no photometric distortion
            t['transforms'] = [
                tt for tt in t['transforms']
                if tt['type'] != 'PhotoMetricDistortion'
            ]
            for tt in t['transforms']:
                if tt['type'] in ('Resize', 'RandomResize'):
                    tt.update(type='Resize', scale=(SIZE, SIZE))
                    tt.pop('ratio_range', None)
                if tt['type'] == 'RandomCrop':
                    tt.update(crop_size=(SIZE, SIZE))
    return cfg


def build(cfg, policy=None):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if policy is not None:
        model.detector.backbone.test_support = SupportPolicy(**policy)
    train = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    test = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    test.pipeline.transforms[0].set_test_policy(
        model.detector.backbone.test_support)
    return model, train, test


def spy_backbone(model):
    calls = []
    backbone = model.detector.backbone
    orig = backbone.forward

    def forward(x):
        calls.append(x)
        return orig(x)

    backbone.forward = forward
    return calls


def check_support_positions(model, batch: ClipBatch, videos, keys):
    """Each item: key frame = (video, key position); its 2 support frames are
    bilateral within 9 frames (both sides when the key is not at an end)."""
    assert isinstance(batch, ClipBatch) and batch.frames.shape[1] == 3
    pre = model.data_preprocessor

    def decode(frame):
        return decode_marker(frame, pre.mean.flatten(), pre.std.flatten())

    for i, (v, t) in enumerate(zip(videos, keys)):
        meta = batch.metas[i]
        assert (meta.video_key, meta.frame_id, meta.num_support) == (v, t, 2)
        assert decode(batch.frames[i, 0]) == marker(v, t)
        sup = sorted((decode(f) - marker(v, 0)) // 10
                     for f in batch.frames[i, 1:])
        n = LENGTHS[v - 1]
        assert all(0 <= s < n and s != t and abs(s - t) <= 9 for s in sup)
        if 0 < t < n - 1:
            assert sup[0] < t < sup[1]


@pytest.mark.parametrize('name, loss_keys', [
    ('tiny_stpn_masktrack_rcnn.py', ('loss_mask', 'loss_match')),
    ('tiny_stpn_qdtrack.py', ('loss_track', 'loss_track_aux')),
])
def test_train_step_prompts_key_and_reference_frames(vis, mot, name,
                                                     loss_keys):
    root, ann = mot if 'qdtrack' in name else vis
    model, train, _ = build(load(name, root, ann))
    calls = spy_backbone(model)
    batch = pseudo_collate([train[(0, 2)], train[(1, 3)]])
    predictor = model.detector.backbone.predictor
    before = [p.detach().clone() for p in predictor.parameters()]
    opt = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05))
    losses = model.train_step(batch, opt)
    for key in loss_keys + ('loss_cls', 'loss_bbox', 'loss_rpn_cls'):
        assert key in losses and torch.isfinite(losses[key]).all()
    # one backbone call for the key frames, one for the reference frames,
    # each frame with its OWN support frames around it
    assert len(calls) == 2
    samples = batch['data_samples']
    key_ids = [s.get_key_frames()[0].frame_id for s in samples]
    ref_ids = [s.get_ref_frames()[0].frame_id for s in samples]
    assert key_ids == [2, 3]
    check_support_positions(model, calls[0], [1, 2], key_ids)
    check_support_positions(model, calls[1], [1, 2], ref_ids)
    # the prompt predictor is trained through the tracker's losses
    after = list(predictor.parameters())
    assert any((a - b).abs().max() > 0 for a, b in zip(after, before))


def run_video(model, test, video_idx):
    model.eval()
    with torch.no_grad():
        return model.test_step(pseudo_collate([test[video_idx]]))[0]


def detector_reference(model, frames, sample, supports):
    """The stock detector on a self-contained clip (key + given support
    frames, 'frames' policy: no cache), as an independent reference."""
    backbone = model.detector.backbone
    policy = backbone.test_support
    backbone.test_support = SupportPolicy('frames', max(len(supports), 1))
    try:
        clip = torch.stack([frames[0]] + [frames[j] for j in supports])
        with torch.no_grad():
            x = model.detector.extract_feat(ClipBatch(clip[None]))
            rpn = model.detector.rpn_head.predict(x, [sample])
            return model.detector.roi_head.predict(x, rpn, [sample])[0]
    finally:
        backbone.test_support = policy


@pytest.mark.parametrize('mode', ['offline', 'online'])
def test_masktrack_predict_equals_detector_on_the_policys_frames(vis, mode):
    root, ann = vis
    k = 3 if mode == 'offline' else 2
    model, _, test = build(load('tiny_stpn_masktrack_rcnn.py', root, ann),
                           dict(mode=mode, num_support=k))
    calls = spy_backbone(model)
    item = test[0]  # video 1, 6 frames, whole video in one item
    out = run_video(model, test, 0)
    n = LENGTHS[0]
    assert len(out) == n and len(calls) == n
    for t, batch in enumerate(calls):
        assert batch.metas[0].video_key == 1 and batch.metas[0].frame_id == t
        want = 0 if mode == 'online' or t else k
        assert batch.metas[0].num_support == want
    if mode == 'offline':  # frame 0 carries K frames spread over the video
        spread = [round(i * (n - 1) / (k - 1)) for i in range(k)]
        got = [(decode_marker(f) - marker(1, 0)) // 10
               for f in calls[0].frames[0, 1:]]
        assert got == spread
    # predictions = the detector on exactly the frames the policy names
    pre = model.data_preprocessor(pseudo_collate([item]), False)
    frames = pre['inputs'].frames[0]
    for t in range(n):
        if mode == 'offline':
            supports = spread
        else:  # the K latest frames before t; frame 0 is its own support
            supports = list(range(max(0, t - k), t)) or [0]
        ref = detector_reference(model, frames[[t] + supports],
                                 pre['data_samples'][0][t],
                                 list(range(1, 1 + len(supports))))
        got = out[t].pred_instances
        assert len(got.scores) > 0
        torch.testing.assert_close(got.scores, ref.scores)
        # boxes in pixels: float noise of differently grouped passes
        torch.testing.assert_close(got.bboxes, ref.bboxes, atol=1e-3,
                                   rtol=1e-4)
        assert 'masks' in out[t].pred_track_instances


def test_offline_equals_online_when_they_cover_the_same_frames(vis):
    """A one-frame video: offline (K frames spread over it = copies of the
    frame) and online (the frame is its own support) use the same frame, so
    the tracks are identical (on longer videos each mode matches its own
    reference: the test above)."""
    root, ann = vis
    cfg = load('tiny_stpn_masktrack_rcnn.py', root, ann)
    outs = {}
    for mode in ('offline', 'online'):
        model, _, test = build(cfg, dict(mode=mode, num_support=3))
        outs[mode] = [run_video(model, test, 2)]
    one_off, one_on = outs['offline'][0][0], outs['online'][0][0]
    a, b = one_off.pred_track_instances, one_on.pred_track_instances
    assert len(a) > 0
    for key in ('bboxes', 'scores', 'labels', 'instances_id'):
        # K copies vs one frame in the support pass: float noise only
        torch.testing.assert_close(a[key], b[key], atol=1e-3, rtol=1e-4)
    # masks: thresholded, so float noise may flip a border pixel
    assert (a.masks != b.masks).float().mean() < 1e-4


def test_frame_level_items_online_equal_video_level(mot):
    """MOT's frame-level test items (TrackImgSampler) and one whole-video
    item give the same tracks online; offline refuses frame-level items."""
    root, ann = mot
    cfg = load('tiny_stpn_qdtrack.py', root, ann)
    model, _, test = build(cfg)
    video = run_video(model, test, 0)
    model, _, test = build(cfg)
    model.eval()
    for t in range(LENGTHS[0]):
        with torch.no_grad():
            frame = model.test_step(pseudo_collate([test[(0, t)]]))[0][0]
        for key in ('bboxes', 'scores', 'instances_id'):
            torch.testing.assert_close(frame.pred_track_instances[key],
                                       video[t].pred_track_instances[key])
    test.pipeline.transforms[0].set_test_policy(SupportPolicy('offline', 3))
    with pytest.raises(ValueError, match='video 1 frame 2: .*whole video'):
        test[(0, 2)]


@pytest.mark.parametrize('name, tracker', [
    ('tiny_stpn_bytetrack.py', 'ByteTracker'),
    ('tiny_stpn_ocsort.py', 'OCSORTTracker'),
])
def test_detector_trackers_train_on_frames_and_track(mot, name, tracker):
    """ByteTrack and OC-SORT (DetectorTrackerMixin): the detector trains on
    frames with their support frames; mmdet's tracker is unchanged."""
    root, ann = mot
    model, train, test = build(load(name, root, ann))
    assert type(model.tracker).__name__ == tracker
    calls = spy_backbone(model)
    batch = pseudo_collate([train[(0, 2)], train[(1, 3)]])
    opt = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05))
    losses = model.train_step(batch, opt)
    assert torch.isfinite(losses['loss_cls']) and len(calls) == 1
    check_support_positions(model, calls[0], [1, 2], [2, 3])
    calls.clear()
    out = run_video(model, test, (1, 0))  # frame-level item, online
    assert len(calls) == 1 and calls[0].metas[0].frame_id == 0
    assert 'instances_id' in out[0].pred_track_instances


def test_adapters_refuse_plain_tensors(vis):
    root, ann = vis
    model, _, _ = build(load('tiny_stpn_masktrack_rcnn.py', root, ann))
    with pytest.raises(ValueError, match='STPNMaskTrackRCNN expects '
                       'TrackClips.*TrackClipDataPreprocessor'):
        model.loss(torch.zeros(1, 2, 3, 32, 32), [])
