"""Bad YouTube-VIS / MOTChallenge data: converted json files and raw
MOTChallenge folders (frame files, gt.txt)."""
import json
import math
import os
import os.path as osp
import sys

import pytest

from mmstpn.datasets import (CheckedMOTChallengeDataset,
                             CheckedYouTubeVISDataset, check_youtube_vis_json)
from ..test_datasets.test_vis_mot_data import cocovid
from .conftest import dump_json

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'dataset_converters'))

import mot2coco  # noqa: E402

DATASETS = dict(
    vis=(CheckedYouTubeVISDataset, dict(dataset_version='2019')),
    mot=(CheckedMOTChallengeDataset,
         dict(metainfo=dict(classes=('pedestrian', )))))


def _build(kind, path, test_mode=True, **kw):
    cls, args = DATASETS[kind]
    return cls(ann_file=path, test_mode=test_mode, **args, **kw)


def _data(kind):
    data = cocovid(mot=kind == 'mot')
    if kind == 'vis':  # a YouTube-VIS 2019 class
        data['categories'] = [dict(id=1, name='person')]
    return data


@pytest.mark.parametrize('kind', ['vis', 'mot'])
def test_valid_file_loads(tmp_path, kind):
    ds = _build(kind, dump_json(tmp_path / 'a.json', _data(kind)))
    assert len(ds) == 2


@pytest.mark.parametrize('kind', ['vis', 'mot'])
def test_truncated_json(tmp_path, kind):
    path = str(tmp_path / 'a.json')
    with open(path, 'w') as f:
        f.write(json.dumps(_data(kind))[:100])
    with pytest.raises(ValueError, match='a.json is not valid json'):
        _build(kind, path)


@pytest.mark.parametrize('kind', ['vis', 'mot'])
@pytest.mark.parametrize('value', [math.nan, math.inf])
def test_non_finite_box(tmp_path, kind, value):
    data = _data(kind)
    data['annotations'][7]['bbox'][1] = value
    path = dump_json(tmp_path / 'a.json', data)
    with pytest.raises(ValueError, match='non-finite bbox') as err:
        _build(kind, path)
    assert (f'{path}: annotation 8 of image 8 ("vid2/00001.jpg", video 2, '
            'frame 1)') in str(err.value)


@pytest.mark.parametrize('kind', ['vis', 'mot'])
def test_unknown_category(tmp_path, kind):
    data = _data(kind)
    data['annotations'][0]['category_id'] = 5
    path = dump_json(tmp_path / 'a.json', data)
    with pytest.raises(ValueError, match='category_id 5, which is not in'):
        _build(kind, path)


@pytest.mark.parametrize('kind', ['vis', 'mot'])
def test_string_frame_id(tmp_path, kind):
    data = _data(kind)
    data['images'][3]['frame_id'] = '3'
    path = dump_json(tmp_path / 'a.json', data)
    with pytest.raises(ValueError, match='frame_id must be an integer') \
            as err:
        _build(kind, path)
    assert 'image id 4 ("vid1/00003.jpg", video 1)' in str(err.value)


@pytest.mark.parametrize('kind', ['vis', 'mot'])
def test_zero_size_box_is_counted(tmp_path, kind, log_lines):
    data = _data(kind)
    data['annotations'][2]['bbox'][2] = 0
    path = dump_json(tmp_path / 'a.json', data)
    ds = _build(kind, path)
    assert len(ds.get_data_info(0)['images'][2]['instances']) == 0
    assert any(f"1 boxes of kind 'invalid' ignored in {path}" in m
               for m in log_lines)


@pytest.mark.parametrize('kind', ['vis', 'mot'])
def test_every_frame_filtered_in_training(tmp_path, kind):
    """Was mmengine's 'need at least one array to concatenate' (mmdet's
    filter drops frames smaller than 32 pixels)."""
    path = dump_json(tmp_path / 'a.json', _data(kind))
    with pytest.raises(ValueError, match='no frame left after filtering') \
            as err:
        _build(kind, path, test_mode=False,
               filter_cfg=dict(filter_empty_gt=True, min_size=64))
    assert path in str(err.value)


def test_official_youtube_vis_truncated(tmp_path):
    path = str(tmp_path / 'train.json')
    with open(path, 'w') as f:
        f.write('{"videos": [')
    with pytest.raises(ValueError, match='train.json is not valid json'):
        check_youtube_vis_json(path)


# ------------------------------------------------- MOTChallenge folders
SEQINFO = ('[Sequence]\nname={name}\nimDir=img1\nframeRate=30\n'
           'seqLength={n}\nimWidth=64\nimHeight=48\nimExt=.jpg\n')


def _mot_tree(root, names, gt=None):
    for subset, seq_name in (('train', 'MOT17-02-FRCNN'),
                             ('test', 'MOT17-01-FRCNN')):
        seq = osp.join(root, subset, seq_name)
        os.makedirs(osp.join(seq, 'img1'))
        for name in names:
            open(osp.join(seq, 'img1', name), 'w').close()
        with open(osp.join(seq, 'seqinfo.ini'), 'w') as f:
            f.write(SEQINFO.format(name=seq_name, n=len(names)))
        if subset == 'train':
            os.makedirs(osp.join(seq, 'gt'))
            lines = gt or [
                f'{t},1,{t},4,10,20,1,1,0.9' for t in range(1, 12)
            ]
            with open(osp.join(seq, 'gt', 'gt.txt'), 'w') as f:
                f.write('\n'.join(lines) + '\n')
    return osp.join(root, 'train', 'MOT17-02-FRCNN')


def test_mot_unpadded_frames_ordered_by_number(tmp_path):
    """1.jpg .. 11.jpg: frame_id k-1 is file k.jpg (text order would give
    1, 10, 11, 2, ...); half-train is frames 1..6 (text order: 1, 10, 11,
    2, 3, 4)."""
    root, out = str(tmp_path / 'MOT17'), str(tmp_path / 'out')
    _mot_tree(root, [f'{t}.jpg' for t in range(1, 12)])
    mot2coco.main(['-i', root, '-o', out, '--split-train'])
    train = json.load(open(osp.join(out, 'train_cocoformat.json')))
    assert [(i['frame_id'], i['mot_frame_id']) for i in train['images']] \
        == [(t - 1, t) for t in range(1, 12)]
    # each frame's box is its own: x = frame number
    by_img = {a['image_id']: a['bbox'][0] for a in train['annotations']}
    assert [by_img[i['id']] for i in train['images']] == list(range(1, 12))
    half = json.load(open(osp.join(out, 'half-train_cocoformat.json')))
    assert [i['mot_frame_id'] for i in half['images']] == list(range(1, 7))
    assert CheckedMOTChallengeDataset(
        ann_file=osp.join(out, 'train_cocoformat.json'),
        metainfo=dict(classes=('pedestrian', )), test_mode=True)


def test_mot_padded_frames_still_in_order(tmp_path):
    root, out = str(tmp_path / 'MOT17'), str(tmp_path / 'out')
    _mot_tree(root, [f'{t:06d}.jpg' for t in range(1, 12)])
    mot2coco.main(['-i', root, '-o', out])
    train = json.load(open(osp.join(out, 'train_cocoformat.json')))
    assert [i['mot_frame_id'] for i in train['images']] == list(range(1, 12))


def test_frame_number_sorted_is_builtin_otherwise():
    assert mot2coco.frame_number_sorted(['b', 'a']) == ['a', 'b']
    assert mot2coco.frame_number_sorted([3, 1], reverse=True) == [3, 1]
    assert mot2coco.frame_number_sorted(['10.jpg', '9.jpg']) == [
        '9.jpg', '10.jpg'
    ]


@pytest.mark.parametrize('names, match', [
    (['1.jpg', '2.jpg', '4.jpg'], 'frame 3 is missing'),
    (['1.jpg', '01.jpg', '2.jpg'], 'frame 1 appears twice'),
])
def test_mot_frame_numbers_with_gap(tmp_path, names, match):
    root = str(tmp_path / 'MOT17')
    _mot_tree(root, names, gt=['1,1,1,4,10,20,1,1,0.9'])
    with pytest.raises(ValueError, match=match) as err:
        mot2coco.check_mot_folder(root)
    assert 'img1' in str(err.value) and 'MOT17-' in str(err.value)


@pytest.mark.parametrize('line', ['1,1,nan,4,10,20,1,1,0.9',
                                  '1,1,3,4,inf,20,1,1,0.9',
                                  '1,1,3,4,10,20,1,1,nan'])
def test_mot_gt_non_finite(tmp_path, line):
    root = str(tmp_path / 'MOT17')
    seq = _mot_tree(root, ['1.jpg', '2.jpg'],
                    gt=['2,1,1,4,10,20,1,1,0.9', line])
    with pytest.raises(ValueError, match='NaN / inf') as err:
        mot2coco.check_mot_folder(root)
    assert osp.join(seq, 'gt', 'gt.txt') + ': line 2' in str(err.value)
