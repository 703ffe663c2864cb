"""Bad CocoVID / ImageNet VID json files, frames and the ground-truth rule
shared by the dataset and VIDMetric."""
import copy
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

from mmdet.registry import DATASETS
from mmstpn.evaluation import VIDMetric
from ..test_datasets.fake_data import write_cocovid
from .conftest import dump_json, edit_json


def build(ann, root, test_mode=True, cls='CocoVIDDataset', **kw):
    return DATASETS.build(
        dict(
            type=cls,
            ann_file=ann,
            data_prefix=dict(img_path=osp.join(root, 'img')),
            test_mode=test_mode,
            pipeline=[],
            **kw))


@pytest.fixture
def ann(tmp_path):
    """A valid json: video 1 (3 frames) and video 2 (2 frames), one box per
    frame, ImageNet VID categories; no image files."""
    return write_cocovid(str(tmp_path), {1: 3, 2: 2}, write_images=False)


def _raises(ann, tmp_path, fn, match, **kw):
    edit_json(ann, fn)
    with pytest.raises(ValueError, match=match) as err:
        build(ann, str(tmp_path), **kw)
    assert ann in str(err.value)
    return str(err.value)


# ------------------------------------------------------------ file level
def test_empty_file(tmp_path):
    path = str(tmp_path / 'empty.json')
    open(path, 'w').close()
    with pytest.raises(ValueError, match=r'empty\.json is empty'):
        build(path, str(tmp_path))


def test_truncated_file(ann, tmp_path):
    text = open(ann).read()
    with open(ann, 'w') as f:
        f.write(text[:len(text) // 2])
    with pytest.raises(ValueError, match='is not valid json') as err:
        build(ann, str(tmp_path))
    assert ann in str(err.value) and 'line 1 column' in str(err.value)


def test_binary_file(tmp_path):
    path = str(tmp_path / 'ann.json')
    with open(path, 'wb') as f:
        f.write(b'\xff\xfe\x00garbage')
    with pytest.raises(ValueError, match='ann.json is not'):
        build(path, str(tmp_path))


def test_top_level_list(tmp_path):
    path = dump_json(tmp_path / 'ann.json', [1, 2])
    with pytest.raises(ValueError, match='expected a json object'):
        build(path, str(tmp_path))


@pytest.mark.parametrize('key, fn, match', [
    ('images', lambda d: d.pop('images'), 'no "images" list'),
    ('categories', lambda d: d.pop('categories'), 'no "categories" list'),
    ('annotations', lambda d: d.update(annotations={}),
     '"annotations" must be a list, got dict'),
    ('empty', lambda d: d.update(images=[], annotations=[]),
     '"images" is empty'),
    ('entry', lambda d: d['images'].append(7), r'images\[5\] is not an '),
])
def test_layout(ann, tmp_path, key, fn, match):
    _raises(ann, tmp_path, fn, match)


# ----------------------------------------------------------- image level
@pytest.mark.parametrize('value', ['2', 2.0, None, True])
def test_frame_id_must_be_int(ann, tmp_path, value):

    def fn(d):
        d['images'][2]['frame_id'] = value

    msg = _raises(ann, tmp_path, fn, 'frame_id must be an integer')
    assert 'image id 3 ("vid1/000002.jpg", video 1)' in msg


@pytest.mark.parametrize('fn, match', [
    (lambda d: d['images'][1].pop('width'), 'image id 2 .* "width"'),
    (lambda d: d['images'][1].update(height=0), 'image id 2 .* "height"'),
    (lambda d: d['images'][1].update(height='48'), 'image id 2 .*'),
    (lambda d: d['images'][0].pop('id'), r'images\[0\] has no "id"'),
])
def test_image_fields(ann, tmp_path, fn, match):
    _raises(ann, tmp_path, fn, match)


def test_frames_ordered_by_number(tmp_path):
    """frame_id 0..11 listed in text order ('10' before '2'): the dataset
    orders them numerically."""
    ann = write_cocovid(str(tmp_path), {1: 12}, write_images=False)

    def fn(d):
        d['images'].sort(key=lambda img: str(img['frame_id']))

    edit_json(ann, fn)
    video = build(ann, str(tmp_path)).get_data_info(0)
    assert [f['frame_id'] for f in video['images']] == list(range(12))
    assert [f['frame_index'] for f in video['images']] == list(range(12))


# ------------------------------------------------------ annotation level
@pytest.mark.parametrize('bbox', [[4, 4, math.nan, 24], [math.inf, 4, 20, 24],
                                  [4, 4, 20, -math.inf]])
def test_non_finite_box(ann, tmp_path, bbox):

    def fn(d):
        d['annotations'][3]['bbox'] = bbox

    msg = _raises(ann, tmp_path, fn, 'non-finite bbox')
    assert ('annotation 4 of image 4 ("vid2/000000.jpg", video 2, frame 0)'
            in msg)


def test_non_finite_box_imagenet_vid(ann, tmp_path):
    _raises(ann, tmp_path,
            lambda d: d['annotations'][0].update(bbox=[1, 1, 1, math.nan]),
            'annotation 1 of image 1 .* non-finite bbox',
            cls='ImagenetVIDDataset')


@pytest.mark.parametrize('bbox', [[1, 2, 3], None, 'box', [1, 2, 3, 'x']])
def test_malformed_box(ann, tmp_path, bbox):
    _raises(ann, tmp_path, lambda d: d['annotations'][1].update(bbox=bbox),
            r'annotation 2 of image 2 .*bbox must be 4 numbers')


@pytest.mark.parametrize('key', ['bbox', 'category_id', 'image_id', 'id'])
def test_annotation_without_key(ann, tmp_path, key):
    _raises(ann, tmp_path, lambda d: d['annotations'][1].pop(key),
            f'has no "{key}"')


def test_unknown_category_is_an_error(ann, tmp_path):
    msg = _raises(ann, tmp_path,
                  lambda d: d['annotations'][2].update(category_id=99),
                  'category_id 99, which is not in "categories"')
    assert 'annotation 3 of image 3' in msg and 'drop_category_ids' in msg


def test_unknown_category_listed_is_dropped(ann, tmp_path, log_lines):
    edit_json(ann, lambda d: d['annotations'][2].update(category_id=99))
    ds = build(ann, str(tmp_path), drop_category_ids=[99])
    frames = ds.get_data_info(0)['images']
    assert [len(f['instances']) for f in frames] == [1, 1, 0]
    assert any(f"1 boxes of kind 'dropped_category' ignored in {ann}" in m
               for m in log_lines)


# ------------------------------------------ counted handling of the rule
def _instances(ann, tmp_path, **kw):
    ds = build(ann, str(tmp_path), **kw)
    return [f['instances'] for v in range(len(ds))
            for f in ds.get_data_info(v)['images']]


@pytest.mark.parametrize('bbox, kind', [
    ([4, 4, 0, 24], 'invalid'),
    ([4, 4, 20, -3], 'invalid'),
    ([4, 4, 0.5, 24], 'invalid'),
    ([64, 4, 20, 24], 'outside'),
    ([-30, 4, 20, 24], 'outside'),
    ([4, 70, 20, 24], 'outside'),
])
def test_dropped_box_is_counted(ann, tmp_path, log_lines, bbox, kind):
    edit_json(ann, lambda d: d['annotations'][1].update(bbox=bbox))
    inst = _instances(ann, tmp_path)
    assert [len(i) for i in inst] == [1, 0, 1, 1, 1]
    assert any(f"1 boxes of kind '{kind}' ignored in {ann}" in m
               for m in log_lines)


def test_area_zero_is_invalid(ann, tmp_path, log_lines):
    edit_json(ann, lambda d: d['annotations'][0].update(area=0))
    assert [len(i) for i in _instances(ann, tmp_path)] == [0, 1, 1, 1, 1]
    assert any("kind 'invalid'" in m for m in log_lines)


def test_partly_outside_box_is_kept_unclipped(ann, tmp_path):
    edit_json(ann,
              lambda d: d['annotations'][1].update(bbox=[50, -5, 30, 20]))
    inst = _instances(ann, tmp_path)
    assert inst[1][0]['bbox'] == [50, -5, 80, 15]


@pytest.mark.parametrize('flag', ['iscrowd', 'ignore'])
def test_crowd_and_ignore_are_ignore_regions(ann, tmp_path, log_lines,
                                             flag):
    edit_json(ann, lambda d: d['annotations'][1].update({flag: 1}))
    inst = _instances(ann, tmp_path)
    assert [i[0]['ignore_flag'] for i in inst] == [0, 1, 0, 0, 0]
    assert any(f"1 boxes of kind 'ignored' ignored in {ann}" in m
               for m in log_lines)


def test_other_class_is_counted(ann, tmp_path, log_lines):
    # video 1: category 2 (antelope), video 2: category 3 (bear)
    inst = _instances(ann, tmp_path, metainfo=dict(classes=('bear', )))
    assert [len(i) for i in inst] == [0, 0, 0, 1, 1]
    assert any(f"3 boxes of kind 'other_class' ignored in {ann}" in m
               for m in log_lines)


def test_every_box_filtered_in_training(ann, tmp_path):
    """Was mmengine's 'need at least one array to concatenate'."""

    def fn(d):
        for a in d['annotations']:
            a['bbox'][2] = 0

    msg = _raises(ann, tmp_path, fn, 'no training key frame left',
                  test_mode=False)
    assert '5 frames, 0 with ground-truth boxes' in msg


# ------------------------------------------------------------- frames
def _load_pipeline(tmp_path, name, content):
    root = str(tmp_path)
    ann = write_cocovid(root, {1: 2})
    path = osp.join(root, 'img', 'vid1', '000001.jpg')
    if content is None:
        os.remove(path)
    else:
        with open(path, 'wb') as f:
            f.write(content)
    ds = build(ann, root)
    video = ds.get_data_info(0)
    frame = dict(video['images'][1])
    load = Compose([dict(type='LoadImageFromFile')])
    return load, frame, path


def test_zero_byte_frame(tmp_path):
    load, frame, path = _load_pipeline(tmp_path, 'empty', b'')
    with pytest.raises(ValueError, match='is empty \\(0 bytes\\)') as err:
        load(frame)
    assert path in str(err.value) and 'video 1, frame 1' in str(err.value)


def test_garbage_frame(tmp_path):
    load, frame, path = _load_pipeline(tmp_path, 'bad', b'not a jpeg' * 10)
    with pytest.raises(ValueError, match='cannot be decoded') as err:
        load(frame)
    assert path in str(err.value)


def test_missing_frame(tmp_path):
    load, frame, path = _load_pipeline(tmp_path, 'missing', None)
    with pytest.raises(FileNotFoundError, match=path):
        load(frame)


# ------------------------------------------- the metric applies the rule
CLASSES = ('airplane', 'antelope')


def _metric_data():
    """Two frames of one video, airplane GT boxes, 64x64 images."""
    data = dict(
        videos=[dict(id=1, name='v')],
        images=[
            dict(id=i + 1, video_id=1, frame_id=i, width=64, height=64,
                 file_name=f'v/{i}.jpg') for i in range(2)
        ],
        categories=[dict(id=1, name='airplane'), dict(id=2, name='antelope')],
        annotations=[
            dict(id=1, image_id=1, category_id=1, instance_id=0,
                 bbox=[4, 4, 20, 20], area=400),
            dict(id=2, image_id=2, category_id=1, instance_id=0,
                 bbox=[5, 4, 20, 20], area=400),
            dict(id=3, image_id=2, category_id=1, instance_id=1,
                 bbox=[40, 40, 10, 10], area=100),
        ])
    return data


def _ap(path, drop=(), samples=None):
    metric = VIDMetric(ann_file=path, eval_motion=False,
                       drop_category_ids=drop)
    metric.dataset_meta = dict(classes=CLASSES)
    preds = {1: [[4, 4, 24, 24]], 2: [[5, 4, 25, 24], [40, 40, 50, 50]]}
    for img_id, boxes in preds.items():
        n = len(boxes)
        metric.process({}, [dict(
            img_id=img_id, video_id=1, frame_id=img_id - 1,
            pred_instances=dict(
                bboxes=torch.tensor(boxes, dtype=torch.float32),
                scores=torch.linspace(0.9, 0.5, n),
                labels=torch.zeros(n, dtype=torch.long)))])
    return metric.compute_metrics(metric.results)['bbox_mAP_50']


@pytest.mark.parametrize('bad_box', [[30, 30, 0, 10], [100, 30, 10, 10]])
def test_metric_ignores_what_the_dataset_drops(tmp_path, bad_box):
    """A zero-area / outside box is not ground truth: AP equals the AP of
    the json without it (before, the metric kept it as a GT that can never
    be matched and AP dropped)."""
    data = _metric_data()
    ref = _ap(dump_json(tmp_path / 'clean.json', data))
    assert ref == pytest.approx(1.0)
    bad = copy.deepcopy(data)
    bad['annotations'].append(
        dict(id=4, image_id=1, category_id=1, instance_id=2, bbox=bad_box,
             area=bad_box[2] * bad_box[3]))
    assert _ap(dump_json(tmp_path / 'bad.json', bad)) == ref
    # what the metric used to do: the box counted as a GT nothing matches
    unmatched = copy.deepcopy(bad)
    unmatched['annotations'][-1].update(bbox=[30, 30, 10, 10], area=100)
    assert _ap(dump_json(tmp_path / 'unmatched.json', unmatched)) < ref


def test_metric_and_dataset_agree_on_every_kind(tmp_path):
    """Ground truth from the json (ann_file) and from the dataset's
    instances give the same AP on a file with every kind of box."""
    root = str(tmp_path)
    ann = write_cocovid(root, {1: 4}, write_images=False)

    def fn(d):
        a = d['annotations']
        a[0]['bbox'] = [4, 4, 0, 24]  # invalid
        a[1]['bbox'] = [90, 4, 20, 24]  # outside
        a[2]['iscrowd'] = 1
        extra = dict(a[3], id=99, category_id=3, bbox=[30, 30, 10, 10])
        a.append(extra)  # class 'bear', not chosen

    edit_json(ann, fn)
    classes = ('antelope', 'airplane')
    ds = build(ann, root, metainfo=dict(classes=classes))
    frames = ds.get_data_info(0)['images']
    results = {}
    for source in ('ann_file', 'dataset'):
        metric = VIDMetric(ann_file=ann if source == 'ann_file' else None,
                           eval_motion=False)
        metric.dataset_meta = dict(classes=classes)
        for f in frames:
            sample = dict(
                img_id=f['img_id'], video_id=1, frame_id=f['frame_id'],
                instances=f['instances'],
                pred_instances=dict(
                    bboxes=torch.tensor([[4., 4., 24. + f['frame_id'], 28.],
                                         [30., 30., 40., 40.]]),
                    scores=torch.tensor([0.9, 0.8]),
                    labels=torch.tensor([0, 0])))
            if source == 'ann_file':
                sample.pop('instances')
            metric.process({}, [sample])
        results[source] = metric.compute_metrics(metric.results)
    assert results['ann_file'] == results['dataset']
    # frame 3 holds the only valid box: one TP, one FP at a lower score
    # on it, the crowd frame absorbs its detection, 2 FPs elsewhere
    assert 0 < results['dataset']['bbox_mAP_50'] < 1


@pytest.mark.parametrize('fn, match', [
    (lambda d: d['annotations'][0].update(bbox=[1, 1, math.nan, 2]),
     'annotation 1 of image 1 .*non-finite bbox'),
    (lambda d: d['annotations'][0].update(category_id=7),
     'category_id 7, which is not in "categories"'),
    (lambda d: d['images'][0].update(frame_id='0'),
     'image id 1 .*frame_id must be an integer'),
])
def test_metric_errors(tmp_path, fn, match):
    data = _metric_data()
    fn(data)
    path = dump_json(tmp_path / 'ann.json', data)
    with pytest.raises(ValueError, match=match) as err:
        VIDMetric(ann_file=path)
    assert path in str(err.value)


def test_metric_drop_category_ids(tmp_path):
    data = _metric_data()
    data['annotations'].append(
        dict(id=9, image_id=1, category_id=7, instance_id=5,
             bbox=[50, 0, 10, 10], area=100))
    ref = _ap(dump_json(tmp_path / 'clean.json', _metric_data()))
    assert _ap(dump_json(tmp_path / 'ann.json', data), drop=[7]) == ref


def test_metric_truncated_json(tmp_path):
    path = str(tmp_path / 'ann.json')
    with open(path, 'w') as f:
        f.write('{"images": [')
    with pytest.raises(ValueError, match='ann.json is not valid json'):
        VIDMetric(ann_file=path)


def test_rule_is_vectorised_numpy():
    """The kinds of many boxes come from one pass (no per-box Python
    checks beyond reading the json)."""
    from mmstpn.datasets.annotation_rules import KIND_NAMES, box_kinds
    n = 2000
    rng = np.random.RandomState(0)
    boxes = rng.uniform(-20, 80, size=(n, 4))
    data = dict(
        images=[dict(id=1, width=64, height=64)],
        categories=[dict(id=1, name='a')],
        annotations=[dict(id=i, image_id=1, category_id=1, bbox=b.tolist())
                     for i, b in enumerate(boxes)])
    kinds, _ = box_kinds(data, 'x.json', log=False)
    x, y, w, h = boxes.T
    invalid = (w < 1) | (h < 1)
    outside = ~invalid & ((x >= 64) | (y >= 64) | (x + w <= 0) |
                          (y + h <= 0))
    names = np.array(KIND_NAMES)[kinds]
    assert (names == 'invalid').tolist() == invalid.tolist()
    assert (names == 'outside').tolist() == outside.tolist()
    assert ((names == 'valid') == ~(invalid | outside)).all()


def test_file_without_annotations_loads(ann, tmp_path):
    edit_json(ann, lambda d: d.update(annotations=[]))
    assert [len(i) for i in _instances(ann, tmp_path)] == [0] * 5
