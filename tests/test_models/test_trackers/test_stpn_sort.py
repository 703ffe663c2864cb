"""STPN DeepSORT / StrongSORT: mmdet's models and trackers with an STPN
detector, on the tiny on-disk MOT set of test_stpn_trackers.py (OC-SORT is
tested with ByteTrack there)."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate

from mmdet.registry import MODELS, TASK_UTILS
from mmstpn.models.mot import KeyFrameTracker
from mmstpn.models.mot.frame_view import frame_view
from mmstpn.structures import ClipBatch
from tests.test_models.test_trackers.test_stpn_trackers import (
    LENGTHS, build, load, run_video, spy_backbone)


@MODELS.register_module(name='TinyTestReID', force=True)
class TinyTestReID(nn.Module):
    """Parameter-free ReID stand-in: pooled colours of the crop."""

    def forward(self, inputs, mode='tensor', data_samples=None):
        assert mode == 'tensor' and isinstance(inputs, torch.Tensor)
        return F.adaptive_avg_pool2d(inputs.float(), (4, 2)).flatten(1)


@TASK_UTILS.register_module(name='IdentityTestLink', force=True)
class IdentityTestLink:
    """StrongSORT's post-processing slot, doing nothing."""

    def forward(self, tracks):
        return tracks


def deepsort_reference(model, data):
    """mmdet's DeepSORT loop written out: the detector on each frame's
    ClipBatch, a fresh copy of the stock tracker on the key frame tensor."""
    tracker = copy.deepcopy(model.tracker.tracker)
    tracker.reset()
    view = frame_view(data['inputs'], 'reference')
    sample = data['data_samples'][0]
    out = []
    for t in range(len(sample)):
        det = model.detector.predict(view[:, t], [sample[t]])[0]
        out.append(tracker.track(
            model=model, img=view[:, t].key_frames, feats=None,
            data_sample=det, data_preprocessor=model.preprocess_cfg,
            rescale=True))
    return out


@pytest.mark.parametrize('video', [0, 1])
def test_deepsort_tracks_with_key_frames_for_reid(mot, video):
    root, ann = mot
    cfg = load('tiny_stpn_deepsort.py', root, ann)
    model, _, test = build(cfg)
    assert isinstance(model.tracker, KeyFrameTracker)
    assert type(model.tracker.tracker).__name__ == 'SORTTracker'
    model.eval()
    seen = []
    inner = model.tracker.tracker
    orig = inner.track

    def track(img, **kwargs):
        seen.append(img)
        return orig(img=img, **kwargs)

    inner.track = track
    calls = spy_backbone(model)
    data = model.data_preprocessor(pseudo_collate([test[video]]), False)
    with torch.no_grad():
        pred = model.predict(data['inputs'], data['data_samples'])[0]
        inner.track = orig
        calls = list(calls)  # the reference's passes are not counted
        ref = deepsort_reference(model, copy.deepcopy(data))
    n = LENGTHS[video]
    assert len(calls) == n and all(isinstance(c, ClipBatch) for c in calls)
    assert [c.metas[0].frame_id for c in calls] == list(range(n))
    # the tracker cropped its ReID inputs from the key frame tensors
    assert len(seen) == n and all(type(s) is torch.Tensor for s in seen)
    for s, c in zip(seen, calls):
        torch.testing.assert_close(s, c.key_frames)
    for t in range(n):
        got, want = pred[t].pred_track_instances, ref[t]
        torch.testing.assert_close(got.bboxes, want.bboxes)
        assert got.instances_id.tolist() == want.instances_id.tolist()


def test_strongsort_builds_and_tracks(mot):
    root, ann = mot
    cfg = load('tiny_stpn_deepsort.py', root, ann)
    cfg.model.type = 'STPNStrongSORT'
    cfg.model.tracker = dict(
        type='StrongSORTTracker',
        motion=dict(type='KalmanFilter', center_only=False, use_nsa=True),
        obj_score_thr=0.01,
        reid=dict(num_samples=None, img_scale=(32, 16), img_norm_cfg=None,
                  match_score_thr=0.3, motion_weight=0.02),
        match_iou_thr=0.7,
        momentums=dict(embeds=0.1),
        num_tentatives=2,
        num_frames_retain=100)
    # mmdet's camera-motion compensation (it reads the frame images); an
    # identity link instead of AFLink (whose pairwise network takes minutes
    # on the untrained detector's many tracklets)
    cfg.model.cmc = dict(
        type='CameraMotionCompensation', warp_mode='cv2.MOTION_EUCLIDEAN',
        num_iters=10, stop_eps=1e-5)
    cfg.model.postprocess_model = dict(type='IdentityTestLink')
    model, _, test = build(cfg)
    assert isinstance(model.tracker, KeyFrameTracker)
    calls = spy_backbone(model)
    out = run_video(model, test, 0)
    assert len(calls) == LENGTHS[0]
    # StrongSORT's output: per frame (k, 7) rows [frame, id, x, y, w, h,
    # score] after AFLink
    rows = [f.pred_track_instances.bboxes for f in out]
    assert all(r.ndim == 2 and r.shape[1] == 7 for r in rows)
    assert sum(len(r) for r in rows) > 0


def test_key_frame_tracker_forwards_the_rest():
    tracker = MODELS.build(dict(
        type='SORTTracker', motion=dict(type='KalmanFilter'),
        obj_score_thr=0.5, reid=None))
    wrapped = KeyFrameTracker(tracker)
    wrapped.reset()
    assert wrapped.empty and wrapped.obj_score_thr == 0.5
    assert wrapped.tracker is tracker
    clone = copy.deepcopy(wrapped)  # e.g. a model copied for EMA
    assert isinstance(clone, KeyFrameTracker)
    assert clone.tracker is not tracker and clone.obj_score_thr == 0.5
