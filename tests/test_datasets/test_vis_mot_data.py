"""Checked YouTube-VIS / MOTChallenge datasets and RefSupportFrameSample."""
import copy
import json
import os.path as osp
import random

import mmcv
import numpy as np
import pycocotools.mask as mask_util
import pytest
from mmcv.transforms import TransformBroadcaster
from mmdet.datasets import YouTubeVISDataset
from mmdet.datasets.transforms import UniformRefFrameSample

from mmstpn.datasets import (CheckedMOTChallengeDataset,
                             CheckedYouTubeVISDataset, RefSupportFrameSample,
                             SupportFrameSample)

H, W = 40, 48


def rle(x, y, w, h):
    m = np.zeros((H, W), dtype=np.uint8)
    m[y:y + h, x:x + w] = 1
    r = mask_util.encode(np.asfortranarray(m))
    r['counts'] = r['counts'].decode()
    return r


def cocovid(num_videos=2, num_frames=6, mot=False):
    """A converted (CocoVID) json as mmdet's youtubevis2coco / mot2coco
    write it: one object per frame."""
    videos, images, anns = [], [], []
    for v in range(1, num_videos + 1):
        videos.append(dict(id=v, name=f'vid{v}', width=W, height=H))
        for t in range(num_frames):
            img_id = len(images) + 1
            images.append(dict(id=img_id, video_id=v, frame_id=t,
                               file_name=f'vid{v}/{t:05d}.jpg', width=W,
                               height=H))
            ann = dict(id=len(anns) + 1, video_id=v, image_id=img_id,
                       category_id=1, instance_id=v, bbox=[2 + t, 3, 10, 12],
                       area=120, iscrowd=0)
            if mot:
                ann.update(mot_conf=1.0, visibility=0.8)
            else:
                ann['segmentation'] = rle(2 + t, 3, 10, 12)
            anns.append(ann)
    cats = [dict(id=1, name='pedestrian' if mot else 'person')]
    return dict(videos=videos, images=images, annotations=anns,
                categories=cats)


def dump(tmp_path, data, name='ann.json'):
    path = str(tmp_path / name)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


# ---------------------------------------------------------------- datasets
def test_checked_vis_dataset_equals_mmdet(tmp_path):
    path = dump(tmp_path, cocovid())
    kwargs = dict(dataset_version='2019', ann_file=path,
                  data_prefix=dict(img_path='train/JPEGImages'))
    ours, stock = CheckedYouTubeVISDataset(**kwargs), YouTubeVISDataset(
        **kwargs)
    assert len(ours) == len(stock) == 2
    for i in range(2):
        assert ours.get_data_info(i) == stock.get_data_info(i)
    assert ours.metainfo['classes'][0] == 'person'


@pytest.mark.parametrize('break_it, match', [
    (lambda d: d['videos'].append(dict(id=3, name='vid3', width=W,
                                       height=H)),
     r'video 3 \("vid3"\) has no frames \(no image has video_id 3\)'),
    (lambda d: d['annotations'][7].update(segmentation=dict(
        size=[H + 1, W], counts='abc')),
     r'video 2, image 8 \(frame 1\), annotation 8: "segmentation" is an '
     r'RLE of size \[41, 48\] \(height, width\), the frame is \[40, 48\]'),
    (lambda d: d['images'].__setitem__(
        slice(0, 2), [d['images'][1], d['images'][0]]),
     r'video 1 \("vid1"\): image 2 has frame_id 1 at position 0'),
    (lambda d: d['annotations'][0].pop('instance_id'),
     r'video 1, image 1 \(frame 0\), annotation 1 has no "instance_id"'),
    (lambda d: d['annotations'][0].update(image_id=99),
     r'annotation 1 refers to image id 99'),
])
def test_checked_vis_dataset_bad_json(tmp_path, break_it, match):
    data = cocovid()
    break_it(data)
    path = dump(tmp_path, data)
    with pytest.raises(ValueError, match=match) as err:
        CheckedYouTubeVISDataset(dataset_version='2019', ann_file=path)
    assert str(err.value).startswith(path)


def test_checked_vis_dataset_rejects_unconverted_json(tmp_path):
    raw = dict(videos=[dict(id=1, file_names=['a/0.jpg'], width=W,
                            height=H)],
               annotations=[dict(id=1, video_id=1, category_id=1,
                                 segmentations=[None], bboxes=[None],
                                 areas=[None])],
               categories=[dict(id=1, name='person')])
    path = dump(tmp_path, raw)
    with pytest.raises(ValueError, match='official YouTube-VIS json.*'
                       'youtubevis2coco.py'):
        CheckedYouTubeVISDataset(dataset_version='2019', ann_file=path)


def test_checked_mot_dataset(tmp_path):
    path = dump(tmp_path, cocovid(mot=True))
    ds = CheckedMOTChallengeDataset(ann_file=path,
                                    metainfo=dict(classes=('pedestrian', )))
    assert len(ds) == 2
    assert ds.get_data_info(0)['images'][0]['instances'][0][
        'visibility'] == 0.8
    data = cocovid(mot=True)
    data['annotations'][3].pop('visibility')
    path = dump(tmp_path, data, 'bad.json')
    with pytest.raises(ValueError, match=r'bad.json: video 1, image 4 '
                       r'\(frame 3\), annotation 4 has no "visibility"'):
        CheckedMOTChallengeDataset(ann_file=path)


# ------------------------------------------------- RefSupportFrameSample
def video(num_frames=20, key=None, root=''):
    info = dict(video_id=5, video_length=num_frames, images=[
        dict(frame_id=t, img_path=osp.join(root, f'{t:05d}.png'))
        for t in range(num_frames)
    ])
    if key is not None:
        info['key_frame_id'] = key
    return info


def test_clip_is_mmdets_and_supports_follow_each_clip_frame():
    support = dict(num_ref_imgs=2, frame_range=2, method='bilateral_uniform')
    t = RefSupportFrameSample(num_ref_imgs=1, frame_range=8, support=support)
    far = 0
    for seed in range(30):
        random.seed(seed)
        out = t(video(key=10))
        random.seed(seed)
        clip, flags = UniformRefFrameSample(
            num_ref_imgs=1, frame_range=8).sampling_frames(20, 10)
        pos = out['frame_id']
        assert len(pos) == 2 * 3
        assert [p for p, c in zip(pos, out['clip_index']) if c >= 0] == clip
        assert [f for f, c in zip(out['key_frame_flags'], out['clip_index'])
                if c >= 0] == flags
        assert out['key_frame_flags'].count(True) == 1
        assert out['frame_id'][out['key_frame_flags'].index(True)] == 10
        for c, center in enumerate(clip):
            sup = [p for p, s in zip(pos, out['support_of']) if s == c]
            # bilateral_uniform, K=2, range 2: one on each side of ITS frame
            assert len(sup) == 2
            assert center - 2 <= sup[0] < center < sup[1] <= center + 2
        far += abs(clip[0] - clip[1]) > 4
        assert out['num_support'] == [2] * 6
        assert out['video_length'] == out['ori_video_length'] == [20] * 6
    assert far  # some clips have supports no other clip frame explains


def test_one_frame_video_and_errors():
    out = RefSupportFrameSample()(video(num_frames=1, key=0))
    # mmdet: the reference is a copy of the key; SupportFrameSample: a
    # one-frame video has 0 supports (the frame is its own support)
    assert out['frame_id'] == [0, 0]
    assert out['clip_index'] == [0, 1] and out['num_support'] == [0, 0]
    with pytest.raises(ValueError, match='video 5: key_frame_id 20 is '
                       'outside its 20 frames'):
        RefSupportFrameSample()(video(key=20))
    with pytest.raises(ValueError, match='method must be one of'):
        RefSupportFrameSample(support=dict(method='nearest'))


def test_same_rules_as_support_frame_sample():
    sfs = SupportFrameSample(num_ref_imgs=3, method='test_with_fix_stride',
                             stride=2)
    t = RefSupportFrameSample(num_ref_imgs=1, frame_range=3, support=dict(
        num_ref_imgs=3, method='test_with_fix_stride', stride=2))
    out = t(video(num_frames=9, key=1))
    for c in (0, 1):
        center = out['frame_id'][out['clip_index'].index(c)]
        sup = [p for p, s in zip(out['frame_id'], out['support_of'])
               if s == c]
        assert sup == sfs.sample_support(9, center)[0]


def test_shared_augmentation_over_all_frames(tmp_path):
    # frame t: left half bright (100 + t), right half dark (t)
    for t in range(12):
        img = np.full((H, W, 3), t, np.uint8)
        img[:, :W // 2] = 100 + t
        mmcv.imwrite(img, str(tmp_path / f'{t:05d}.png'))
    pipeline = [
        RefSupportFrameSample(num_ref_imgs=1, frame_range=4),
        TransformBroadcaster(
            share_random_params=True,
            transforms=[
                dict(type='LoadImageFromFile'),
                dict(type='RandomResize', scale=(W, H),
                     ratio_range=(0.5, 1.5), keep_ratio=True),
                dict(type='RandomFlip', prob=0.5),
            ])
    ]
    flips, shapes = set(), set()
    for seed in range(8):
        random.seed(seed)
        np.random.seed(seed)
        results = copy.deepcopy(video(num_frames=12, key=6,
                                      root=str(tmp_path)))
        for transform in pipeline:
            results = transform(results)
        assert len(results['img']) == 6
        assert len(set(results['flip'])) == 1
        assert len({tuple(s) for s in results['img_shape']}) == 1
        for img, t in zip(results['img'], results['frame_id']):
            left, right = int(img[0, 0, 0]), int(img[0, -1, 0])
            # every frame flipped the same way as its own flag says
            assert (left < right) == results['flip'][0], (seed, t)
        flips.add(results['flip'][0])
        shapes.add(tuple(results['img_shape'][0]))
    assert flips == {True, False} and len(shapes) > 1  # random per sample
