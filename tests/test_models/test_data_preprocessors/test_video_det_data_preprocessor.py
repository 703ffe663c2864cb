import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from mmstpn.structures import ClipBatch, ClipMeta

MEAN, STD = [10., 20., 30.], [2., 4., 8.]


def preprocessor(**kwargs):
    cfg = dict(
        type='VideoDetDataPreprocessor',
        mean=MEAN,
        std=STD,
        bgr_to_rgb=True,
        pad_size_divisor=8)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def sample(**meta):
    s = DetDataSample(metainfo=meta)
    s.gt_instances = InstanceData(
        bboxes=torch.tensor([[1., 1., 5., 5.]]), labels=torch.tensor([0]))
    return s


def batch():
    g = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(0, 255, (3, 3, 20, 30), generator=g, dtype=torch.uint8),
        torch.randint(0, 255, (1, 3, 27, 18), generator=g, dtype=torch.uint8),
        torch.randint(0, 255, (3, 27, 18), generator=g, dtype=torch.uint8),
    ]
    samples = [
        sample(video_id=5, frame_id=17, frame_index=7),
        sample(video_id=6, frame_id=0),
        sample(img_id=3),
    ]
    return inputs, samples


def test_batch_equals_items():
    inputs, samples = batch()
    pre = preprocessor()
    out = pre(dict(inputs=inputs, data_samples=samples))
    assert isinstance(out['inputs'], ClipBatch)
    x = out['inputs'].frames
    assert x.shape == (3, 3, 3, 32, 32)  # T padded to 3, H/W to /8
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    for i, item in enumerate(inputs):
        clip = item if item.dim() == 4 else item[None]
        t, _, h, w = clip.shape
        expected = (clip[:, [2, 1, 0]].float() - mean) / std  # RGB first
        assert torch.allclose(x[i, :t, :, :h, :w], expected)
        assert (x[i, t:] == 0).all()  # zero frames pad T
        assert (x[i, :t, :, h:] == 0).all() and (x[i, :t, :, :, w:] == 0).all()
        single = pre(
            dict(inputs=[item], data_samples=[sample(**samples[i].metainfo)]))
        s = single['inputs'].frames
        assert torch.allclose(s[0, :t, :, :h, :w], x[i, :t, :, :h, :w])
    for s in out['data_samples']:
        assert s.batch_input_shape == (32, 32)
    assert out['data_samples'][0].pad_shape == (24, 32)
    assert out['data_samples'][1].pad_shape == (32, 24)


def test_rgb_conversion_is_channel_swap():
    frame = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    frame[0, 0] = 7  # blue in BGR
    pre = MODELS.build(
        dict(type='VideoDetDataPreprocessor', bgr_to_rgb=True))
    x = pre(dict(inputs=[frame]))['inputs'].frames
    assert (x[0, 0, 2] == 7).all() and (x[0, 0, :2] == 0).all()
    plain = MODELS.build(dict(type='VideoDetDataPreprocessor'))
    assert (plain(dict(inputs=[frame]))['inputs'].frames[0, 0, 0] == 7).all()


def test_clip_meta():
    inputs, samples = batch()
    x = preprocessor()(dict(inputs=inputs, data_samples=samples))['inputs']
    metas = x.metas
    assert metas[0] == ClipMeta(5, 7, 2)  # frame_index wins
    assert metas[1] == ClipMeta(6, 0, 0)
    assert metas[2].num_support == 0
    assert metas[2].video_key == ('image', 3)
    assert x.num_support == [2, 0, 0]
    # the identity survives a device / dtype move
    moved = x.to(torch.float64)
    assert moved.metas == metas and moved.frames.dtype == torch.float64
    no_samples = preprocessor()(dict(inputs=inputs[:2]))['inputs']
    assert [m.num_support for m in no_samples.metas] == [2, 0]


def test_clip_batch_validates():
    with pytest.raises(ValueError, match='num_support=3.*only 2'):
        ClipBatch(torch.zeros(1, 3, 3, 8, 8), [ClipMeta('v', 0, 3)])
    with pytest.raises(ValueError, match='2 ClipMeta for 1 items'):
        ClipBatch(torch.zeros(1, 3, 3, 8, 8), [ClipMeta('v', 0, 1)] * 2)
    with pytest.raises(ValueError, match=r'\(N, 1\+K, C, H, W\)'):
        ClipBatch(torch.zeros(3, 8, 8))
    batch = ClipBatch.from_frames(
        torch.ones(2, 3, 8, 8), [torch.ones(2, 3, 8, 8), torch.ones(1, 3, 8,
                                                                    8)],
        [ClipMeta('a', 1, 2), ClipMeta('b', 1, 1)])
    assert batch.frames.shape == (2, 3, 3, 8, 8)
    assert (batch.frames[1, 2] == 0).all() and batch.select([1]).metas == [
        ClipMeta('b', 1, 1)
    ]


def test_pad_masks_in_training():
    s = sample(video_id=1, frame_id=0)
    s.gt_instances.masks = BitmapMasks(np.ones((1, 20, 30), np.uint8), 20, 30)
    pre = preprocessor(pad_mask=True)
    out = pre(
        dict(inputs=[torch.zeros(2, 3, 20, 30)], data_samples=[s]),
        training=True)
    assert out['data_samples'][0].gt_instances.masks.masks.shape == (1, 24,
                                                                      32)


def test_stacked_tensor_input():
    x = torch.randint(0, 255, (2, 3, 3, 16, 16), dtype=torch.uint8)
    out = preprocessor()(dict(inputs=x))['inputs']
    assert out.frames.shape == (2, 3, 3, 16, 16)


def test_errors():
    with pytest.raises(NotImplementedError, match='batch_augments'):
        preprocessor(batch_augments=[
            dict(type='BatchSyncRandomResize', random_size_range=(32, 64))
        ])
    with pytest.raises(ValueError, match='batch item 0'):
        preprocessor()(dict(inputs=[torch.zeros(3, 4)]))
