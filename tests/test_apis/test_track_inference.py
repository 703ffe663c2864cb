"""mmstpn.apis on the tracker kinds: MaskTrack R-CNN (VIS) and QDTrack
(MOT) on a tiny generated clip.

Streaming a video frame by frame (one 1-frame item per call, the online
policy) must give every frame the same track predictions as the whole
video in one item under the same policy (what the test dataset feeds),
and offline mode must run the whole video with frame 0's support frames.
"""
import os.path as osp

import numpy as np
import pytest
import torch

from mmstpn.apis import VideoInferencer, inference_video, init_model
from mmstpn.structures import get_video_context
from tests.test_tools.tool_helpers import REPO

CONFIGS = {
    name: osp.join(REPO, 'tests', 'data', 'configs', f'tiny_stpn_{name}.py')
    for name in ('masktrack_rcnn', 'qdtrack')
}


def clip(num: int = 4):
    rng = np.random.RandomState(0)
    frames = []
    for t in range(num):
        img = rng.randint(0, 40, (96, 128, 3)).astype(np.uint8)
        img[20 + 4 * t:60 + 4 * t, 30:80] = (200, 60, 40)  # a moving block
        frames.append(img)
    return frames


def tracks(sample):
    inst = sample.pred_track_instances
    return {k: getattr(inst, k).cpu() for k in ('bboxes', 'scores')
            if k in inst}


# an untrained QDTrack scores everything below its tracker's thresholds
OPTIONS = dict(qdtrack={
    'model.tracker.init_score_thr': 0.0,
    'model.tracker.obj_score_thr': 0.0,
    'model.detector.test_cfg.rcnn.score_thr': 0.0,
}, masktrack_rcnn=None)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_streaming_equals_the_whole_video(name):
    torch.manual_seed(0)
    model = init_model(CONFIGS[name], cfg_options=OPTIONS[name])
    frames = clip()
    stream = VideoInferencer(model, mode='online', num_support=2)
    assert get_video_context(model).policy.mode == 'online'
    streamed = stream.predict_video(frames, 'v')
    stream.reset()
    whole = stream._whole_video(frames, 'v')
    stream.reset()
    assert len(streamed) == len(whole) == len(frames)
    # not a comparison of empty predictions
    assert sum(len(tracks(a)['bboxes']) for a in streamed) > 0
    for t, (a, b) in enumerate(zip(streamed, whole)):
        assert a.metainfo['frame_id'] == b.metainfo['frame_id'] == t
        ta, tb = tracks(a), tracks(b)
        assert ta.keys() == tb.keys() and 'bboxes' in ta
        for key in ta:
            torch.testing.assert_close(ta[key], tb[key], rtol=0, atol=1e-5)
    offline = inference_video(model, frames, mode='offline')
    assert len(offline) == len(frames)
    assert all('pred_track_instances' in r for r in offline)
    assert not get_video_context(model).videos()  # nothing kept after
    with pytest.raises(ValueError, match="video 'v' frame 0: a tracker "
                       '.* takes no support frames frame by frame'):
        VideoInferencer(model, mode='offline').predict_frame(
            frames[0], 0, 'v', support=[(2, frames[2])])
