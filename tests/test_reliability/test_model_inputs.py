"""Bad model-level inputs: NaN / inf pixels and malformed batches at the
data preprocessors, malformed clips at the backbone."""
import math

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, TrackDataSample

from mmstpn.structures import ClipBatch, ClipMeta
from ..conftest import TINY_SWIN


def _video_det(**kw):
    return MODELS.build(
        dict(type='VideoDetDataPreprocessor', mean=[0.] * 3, std=[1.] * 3,
             **kw))


def _key_sample(i):
    return DetDataSample(metainfo=dict(
        video_id=3, frame_id=10 + i, img_path=f'v3/{10 + i}.jpg',
        support_frame_ids=[4, 5]))


def _clips(dtype=torch.float32):
    return [torch.zeros(3, 3, 8, 8, dtype=dtype) for _ in range(2)]


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
def test_video_det_key_frame(value):
    clips = _clips()
    clips[1][0, 1, 2, 3] = value
    with pytest.raises(ValueError, match='batch item 1 has NaN / inf') as e:
        _video_det()(dict(inputs=clips,
                          data_samples=[_key_sample(0), _key_sample(1)]))
    assert "its key frame (video 3, frame 11, image v3/11.jpg)" in str(
        e.value)


def test_video_det_support_frame():
    clips = _clips()
    clips[0][2, 0, 0, 0] = math.nan
    with pytest.raises(ValueError, match='support frame 2 of the clip '
                       r'\(frame_id 5; key frame: video 3, frame 10'):
        _video_det()(dict(inputs=clips,
                          data_samples=[_key_sample(0), _key_sample(1)]))


def test_video_det_finite_float_and_uint8_pass():
    out = _video_det()(dict(inputs=_clips(), data_samples=None))
    assert out['inputs'].frames.shape == (2, 3, 3, 8, 8)
    out = _video_det()(dict(inputs=_clips(torch.uint8), data_samples=None))
    assert torch.isfinite(out['inputs'].frames).all()


def test_video_det_zero_std():
    with pytest.raises(ValueError, match=r'data_preprocessor.std=.*zero'):
        MODELS.build(dict(type='VideoDetDataPreprocessor', mean=[0.] * 3,
                          std=[1., 0., 1.]))


@pytest.mark.parametrize('inputs, match', [
    ([torch.zeros(2, 2, 3, 8, 8)], r'got \(2, 2, 3, 8, 8\) for batch item 0'),
    ([torch.zeros(3, 8, 8), 'x'], 'for batch item 1'),
    ([torch.zeros(3, 8, 8), torch.zeros(1, 8, 8)],
     'different channel counts'),
])
def test_video_det_malformed_batch(inputs, match):
    with pytest.raises(ValueError, match=match):
        _video_det()(dict(inputs=inputs, data_samples=None))


def test_track_clip_support_frame():
    pre = MODELS.build(
        dict(type='TrackClipDataPreprocessor', mean=[0.] * 3, std=[1.] * 3))
    frames = torch.zeros(3, 3, 8, 8)
    frames[2, 0, 0, 0] = math.inf
    track = TrackDataSample()
    track.video_data_samples = [
        DetDataSample(metainfo=dict(
            video_id=7, frame_id=t, img_path=f'v7/{t}.jpg', input_index=t,
            support_input_indices=[2] if t == 1 else [])) for t in range(2)
    ]
    with pytest.raises(ValueError, match='loaded frame 2, a support frame '
                       r'of clip frame 1 \(video 7, frame 1, image '
                       r'v7/1.jpg\)'):
        pre(dict(inputs=[frames], data_samples=[track]))


def _sot_samples():
    track = TrackDataSample()
    track.video_data_samples = [
        DetDataSample(metainfo=dict(frame_role=role, video_name='car-3',
                                    frame_id=f, img_path=f'car-3/{f}.jpg'))
        for role, f in (('template', 0), ('search', 9), ('support', 8))
    ]
    return [track]


@pytest.mark.parametrize('role, index, match', [
    ('template', 0, r'the template crop \(video .car-3., frame 0'),
    ('search', 0, r'the search crop \(video .car-3., frame 9'),
    ('search', 1, r'the support search crop 1 \(video .car-3., frame 8'),
])
def test_sot_crops(role, index, match):
    pre = MODELS.build(
        dict(type='SOTDataPreprocessor', mean=[0.] * 3, std=[1.] * 3))
    inputs = dict(template=[torch.zeros(1, 3, 8, 8)],
                  search=[torch.zeros(2, 3, 16, 16)])
    inputs[role][0][index, 0, 0, 0] = math.nan
    with pytest.raises(ValueError, match=match):
        pre(dict(inputs=inputs, data_samples=_sot_samples()), True)


# -------------------------------------------------------------- backbone
@pytest.fixture(scope='module')
def backbone():
    return MODELS.build(TINY_SWIN).eval()


@pytest.mark.parametrize('x, match', [
    (torch.zeros(3, 32, 32), r'got a 3-D tensor of shape \(3, 32, 32\)'),
    ([torch.zeros(1, 3, 32, 32)], 'expects a ClipBatch or a Tensor, got '
     'list'),
])
def test_backbone_input_shape(backbone, x, match):
    with pytest.raises(ValueError, match=match):
        backbone(x)


@pytest.mark.parametrize('make, match', [
    (lambda: ClipBatch(torch.zeros(2, 2, 3, 32, 32), [ClipMeta(1, 0, 1)]),
     'got 1 ClipMeta for 2 items'),
    (lambda: ClipBatch(torch.zeros(1, 2, 3, 32, 32), [ClipMeta(1, 4, 3)]),
     'video 1 frame 4: num_support=3 but the clip tensor holds only 1'),
    (lambda: ClipMeta(1, 4, -1), 'num_support must be >= 0'),
    (lambda: ClipBatch(torch.zeros(2, 0, 3, 32, 32)),
     'at least its key frame'),
])
def test_clip_batch_checks(make, match):
    with pytest.raises(ValueError, match=match):
        make()
