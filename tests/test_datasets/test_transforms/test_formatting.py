import os
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample

from mmstpn.datasets import PackClipInputs
from tests.test_datasets.fake_data import frame_image, write_cocovid

BROADCAST = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadTrackAnnotations'),
    dict(
        type='RandomResize',
        scale=(64, 64),
        ratio_range=(0.5, 1.5),
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]


def pipeline(num_ref_imgs=2, method='bilateral_uniform', **pack):
    return Compose([
        dict(
            type='SupportFrameSample',
            num_ref_imgs=num_ref_imgs,
            frame_range=2,
            method=method),
        dict(
            type='TransformBroadcaster',
            share_random_params=True,
            transforms=BROADCAST),
        dict(type='PackClipInputs', **pack),
    ])


def video_info(root, vid, n, key, **kwargs):
    write_cocovid(root, {vid: n}, **kwargs)
    images = [
        dict(
            img_path=osp.join(root, 'img', f'vid{vid}/{i:06d}.jpg'),
            img_id=100 + i,
            frame_id=i,
            frame_index=i,
            height=64,
            width=64,
            instances=[
                dict(
                    bbox=[4, 4, 24 + i, 28],
                    bbox_label=3,
                    ignore_flag=0,
                    instance_id=5)
            ]) for i in range(n)
    ]
    return dict(
        video_id=vid, video_length=n, images=images, key_frame_id=key)


def test_shared_resize_and_flip(tmp_path):
    root = str(tmp_path)
    flips = set()
    for seed in range(6):
        random.seed(seed)
        np.random.seed(seed)
        out = pipeline()(video_info(root, 1, 6, 3))
        clip = out['inputs']
        sample = out['data_samples']
        assert clip.dtype == torch.uint8 and clip.shape[:2] == (3, 3)
        flip = sample.flip
        flips.add(flip)
        w = clip.shape[-1]
        for frame in clip:  # the bright half moved alike in every frame
            left = frame[0, :, :w // 4].float().mean()
            right = frame[0, :, -w // 4:].float().mean()
            assert (left > right) == flip
        h, w = sample.img_shape
        assert clip.shape[-2:] == (h, w)
        scale = sample.scale_factor[0]
        box = sample.gt_instances.bboxes[0]
        expected = torch.tensor([4, 4, 27, 28]) * scale  # key frame 3
        if flip:
            expected = torch.stack([
                w - expected[2], expected[1], w - expected[0], expected[3]
            ])
        assert torch.allclose(box, expected, atol=1e-3)
    assert flips == {True, False}


def test_packed_clip_content(tmp_path):
    random.seed(0)
    root = str(tmp_path)
    t = Compose([
        dict(
            type='SupportFrameSample',
            num_ref_imgs=2,
            method='test_with_fix_stride',
            stride=2),
        dict(
            type='TransformBroadcaster',
            share_random_params=True,
            transforms=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadTrackAnnotations')
            ]),
        dict(type='PackClipInputs', pack_instance_ids=True),
    ])
    out = t(video_info(root, 4, 6, 3))
    clip, sample = out['inputs'], out['data_samples']
    assert isinstance(sample, DetDataSample)
    assert clip.shape == (3, 3, 64, 64)
    for frame, fid in zip(clip, [3, 1, 5]):  # key first, then supports
        expected = torch.from_numpy(frame_image(10 * fid)).permute(2, 0, 1)
        assert (frame.int() - expected.int()).abs().max() <= 3  # jpeg
    meta = sample.metainfo
    assert meta['frame_id'] == 3 and meta['frame_index'] == 3
    assert meta['video_id'] == 4 and meta['video_length'] == 6
    assert meta['img_id'] == 103 and meta['img_path'].endswith('000003.jpg')
    assert meta['support_frame_ids'] == [1, 5]
    assert meta['num_support'] == 2
    # the test-time policy is the model's: nothing of it is packed
    assert not {'support_mode', 'online_num_support', 'online_stride'} & set(
        meta)
    assert meta['ori_shape'] == (64, 64) and meta['img_shape'] == (64, 64)
    assert sample.gt_instances.bboxes.tolist() == [[4, 4, 27, 28]]
    assert sample.gt_instances.labels.tolist() == [3]
    assert sample.gt_instances.instances_ids.tolist() == [5]
    assert len(sample.ignored_instances) == 0


def test_different_frame_shapes_raise(tmp_path):
    root = str(tmp_path)
    info = video_info(root, 9, 3, 1, sizes={(9, 2): (48, 64)})
    t = Compose([
        dict(
            type='SupportFrameSample', num_ref_imgs=2,
            method='test_with_fix_stride'),
        dict(
            type='TransformBroadcaster',
            share_random_params=True,
            transforms=[
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(32, 32), keep_ratio=True)
            ]),
        dict(type='PackClipInputs'),
    ])
    with pytest.raises(ValueError, match='video 9') as err:
        t(info)
    assert 'frame 2' in str(err.value) and '000002.jpg' in str(err.value)


def test_missing_frame_names_path(tmp_path):
    root = str(tmp_path)
    info = video_info(root, 2, 3, 0)
    missing = info['images'][2]['img_path']
    os.remove(missing)
    t = pipeline(num_ref_imgs=2, method='test_with_adaptive_stride')
    with pytest.raises(FileNotFoundError, match=missing):
        t(info)


def test_single_image_results():
    img = frame_image(30)
    out = PackClipInputs()(
        dict(
            img=img,
            img_id=1,
            img_shape=img.shape[:2],
            gt_bboxes=np.array([[1, 2, 3, 4]], np.float32),
            gt_bboxes_labels=np.array([0]),
            gt_ignore_flags=np.array([False])))
    assert out['inputs'].shape == (1, 3, 64, 64)
    meta = out['data_samples'].metainfo
    assert meta['num_support'] == 0 and 'support_mode' not in meta
    assert meta['support_frame_ids'] == []
