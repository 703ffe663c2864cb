import json
import os.path as osp

import pytest
from mmdet.datasets.samplers import TrackImgSampler
from mmdet.registry import DATASETS

from mmstpn.datasets import (IMAGENET_VID_CLASSES, CocoVIDDataset,
                             ImagenetVIDDataset, VideoConcatDataset,
                             VideoFrameSampler)
from tests.test_datasets.fake_data import write_cocovid


def build(ann_file, root, pipeline=(), **kwargs):
    cfg = dict(
        type='ImagenetVIDDataset',
        ann_file=ann_file,
        data_prefix=dict(img_path=osp.join(root, 'img')),
        pipeline=list(pipeline))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_load_sorted_videos(tmp_path):
    ann = write_cocovid(
        str(tmp_path), {3: 4, 7: 2}, frame_id_order='reversed',
        write_images=False)
    ds = build(ann, str(tmp_path), test_mode=True)
    assert isinstance(ds, ImagenetVIDDataset)
    assert ds.metainfo['classes'] == IMAGENET_VID_CLASSES
    assert len(ds) == 2
    video = ds.get_data_info(0)
    assert video['video_id'] == 3 and video['video_length'] == 4
    assert [f['frame_id'] for f in video['images']] == [0, 1, 2, 3]
    assert [f['frame_index'] for f in video['images']] == [0, 1, 2, 3]
    frame = video['images'][1]
    assert frame['img_path'] == osp.join(str(tmp_path), 'img',
                                         'vid3/000001.jpg')
    inst = frame['instances'][0]
    assert inst['bbox'] == [4, 4, 4 + 21, 28]
    assert inst['bbox_label'] == 3  # category id 4 -> 'bicycle'
    assert inst['instance_id'] == 30 and inst['occluded'] is True
    assert ds.get_len_per_video(0) == 4 and ds.get_len_per_video(1) == 2


def test_classes_from_metainfo_or_file(tmp_path):
    ann = write_cocovid(str(tmp_path), {1: 1, 2: 1}, write_images=False)
    ds = CocoVIDDataset(ann_file=ann, test_mode=True)
    assert ds.metainfo['classes'] == IMAGENET_VID_CLASSES
    # labels follow the order of the given classes; other classes vanish
    ds = CocoVIDDataset(
        ann_file=ann,
        metainfo=dict(classes=('bird', 'bear', 'antelope')),
        test_mode=True)
    labels = [
        [i['bbox_label'] for i in ds.get_data_info(v)['images'][0]
         ['instances']] for v in range(2)
    ]
    assert labels == [[2], [1]]  # category 2 antelope, 3 bear


def test_training_key_frames(tmp_path):
    ann = write_cocovid(
        str(tmp_path), {1: 6, 2: 3},
        train_frames={1: [1, 4]},
        write_images=False)
    ds = build(ann, str(tmp_path), filter_cfg=dict(min_size=0))
    assert len(ds) == 1  # video 2 has no train frame
    video = ds.get_data_info(0)
    assert video['key_frame_inds'] == [1, 4]
    assert len(video['images']) == 6  # supports may come from any frame
    assert ds.get_len_per_video(0) == 2
    assert ds.get_cat_ids((0, 1)) == [1]
    test_ds = build(ann, str(tmp_path), test_mode=True)
    assert [test_ds.get_len_per_video(i) for i in range(2)] == [6, 3]


def test_min_size_and_empty_filter(tmp_path):
    ann = write_cocovid(
        str(tmp_path), {1: 3}, sizes={(1, 2): (20, 20)}, write_images=False)
    ds = build(ann, str(tmp_path))  # mmdet's defaults: min_size 32
    assert ds.get_data_info(0)['key_frame_inds'] == [0, 1]


def test_det_images_are_one_frame_videos(tmp_path):
    ann = write_cocovid(
        str(tmp_path), {5: 2}, det_images=2, write_images=False)
    ds = build(ann, str(tmp_path), test_mode=True)
    assert len(ds) == 3
    det = ds.get_data_info(2)
    assert det['video_length'] == 1 and det['video_id'] == 7
    assert det['images'][0]['frame_id'] == 0
    flat = build(ann, str(tmp_path), test_mode=True, load_as_video=False)
    assert len(flat) == 4
    assert {flat.get_data_info(i)['video_length'] for i in range(4)} == {1}


def _corrupt(path, fn):
    with open(path) as f:
        data = json.load(f)
    fn(data)
    with open(path, 'w') as f:
        json.dump(data, f)


@pytest.mark.parametrize('fault, pattern', [
    ('video', r'image id 2 has video_id 99, which is not in "videos"'),
    ('frame', r'video 1 has frame_id 0 twice \(image ids 1 and 2\)'),
    ('image', r'annotation id 1 refers to image id 555'),
    ('ann_id', r'duplicate annotation id 1'),
])
def test_errors_name_file_and_id(tmp_path, fault, pattern):
    ann = write_cocovid(str(tmp_path), {1: 3}, write_images=False)

    def fn(data):
        if fault == 'video':
            data['images'][1]['video_id'] = 99
        elif fault == 'frame':
            data['images'][1]['frame_id'] = 0
        elif fault == 'image':
            data['annotations'][0]['image_id'] = 555
        else:
            data['annotations'][1]['id'] = 1

    _corrupt(ann, fn)
    with pytest.raises(ValueError, match=pattern) as err:
        build(ann, str(tmp_path))
    assert ann in str(err.value)


def test_test_mode_sees_whole_video(tmp_path):
    ann = write_cocovid(str(tmp_path), {1: 5}, write_images=False)
    pipeline = [
        dict(
            type='SupportFrameSample',
            num_ref_imgs=3,
            method='test_with_adaptive_stride')
    ]
    ds = build(ann, str(tmp_path), pipeline, test_mode=True)
    assert ds[(0, 0)]['frame_id'] == [0, 0, 2, 4]
    assert ds[(0, 3)]['frame_id'] == [3]
    assert ds[(0, 3)]['support_mode'] == ['offline']
    with pytest.raises(ValueError, match='TrackImgSampler'):
        ds[0]
    # stock TrackImgSampler: whole videos, frames in order
    assert list(TrackImgSampler(ds, seed=0)) == [(0, i) for i in range(5)]


def test_training_int_index_picks_key_frame(tmp_path):
    ann = write_cocovid(
        str(tmp_path), {1: 6}, train_frames={1: [2]}, write_images=False)
    ds = build(ann, str(tmp_path),
               [dict(type='SupportFrameSample', num_ref_imgs=2)])
    for _ in range(3):
        assert ds[0]['frame_id'][0] == 2


def test_vid_det_concat_with_sampler(tmp_path):
    vid = write_cocovid(
        str(tmp_path), {1: 4, 2: 3},
        train_frames={1: [0, 3], 2: [1]},
        write_images=False,
        name='vid.json')
    det = write_cocovid(
        str(tmp_path), {}, det_images=3, write_images=False, name='det.json')
    pipeline = [
        dict(
            type='SupportFrameSample',
            num_ref_imgs=2,
            frame_range=9,
            method='bilateral_uniform')
    ]
    cfgs = [
        dict(type='ImagenetVIDDataset', ann_file=vid, pipeline=pipeline),
        dict(
            type='ImagenetVIDDataset',
            ann_file=det,
            load_as_video=False,
            pipeline=pipeline)
    ]
    ds = DATASETS.build(dict(type='VideoConcatDataset', datasets=cfgs))
    assert isinstance(ds, VideoConcatDataset) and len(ds) == 5
    sampler = VideoFrameSampler(ds, seed=0)
    indices = sorted(sampler)
    assert indices == [(0, 0), (0, 1), (1, 0), (2, 0), (3, 0), (4, 0)]
    seen = set()
    for idx in indices:
        out = ds[idx]
        seen.add((out['video_id'][0], out['frame_id'][0]))
        assert len(out['frame_id']) == (3 if idx[0] < 2 else 1)
    assert {(1, 0), (1, 3), (2, 1)} <= seen
    assert ds.get_len_per_video(0) == 2
