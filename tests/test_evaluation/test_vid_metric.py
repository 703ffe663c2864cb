# Copyright (c) OpenMMLab. All rights reserved.
import json
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from vid_test_utils import (CLASSES, cat_ids_in_class_order, drop_non_gt,
                            is_ground_truth, make_cocovid,
                            make_sample, random_predictions, reference_ap50,
                            reference_motion_ious)

import mmstpn  # noqa: F401
from mmdet.registry import METRICS
from mmstpn.evaluation import (VIDMetric, compute_motion_ious,
                               motion_split_masks)

MMLogger.get_instance('mmengine', log_level='WARNING')


def _write(tmp_path, data, name='ann.json'):
    path = osp.join(str(tmp_path), name)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


def _run(metric, data, preds, shuffle_seed=None, duplicates=0, **kw):
    """Feed predictions through process() and compute_metrics()."""
    imgs = {i['id']: i for i in data['images']}
    samples = [
        make_sample(imgs[k], p, data=data, **kw) for k, p in preds.items()
    ]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(samples)
    samples = samples + samples[:duplicates]
    for i in range(0, len(samples), 4):
        metric.process({}, samples[i:i + 4])
    res = metric.compute_metrics(metric.results)
    metric.results.clear()
    return res


def _metric(ann_file=None, **kw):
    m = VIDMetric(ann_file=ann_file, **kw)
    m.dataset_meta = dict(classes=CLASSES)
    return m


def _split_ignores(data, motion):
    """ann ids of each motion split."""
    out = dict(slow=set(), medium=set(), fast=set())
    for ann_id, m in motion.items():  # the GT annotations
        out['slow' if m > 0.9 else 'fast' if m < 0.7 else 'medium'].add(
            ann_id)
    return out


# ---------------------------------------------------------------------------
# (a) random synthetic CocoVID sets vs pycocotools
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('seed', [0, 1, 2, 3, 4])
def test_random_sets_match_pycocotools(tmp_path, seed):
    data = make_cocovid(seed)
    preds = random_predictions(
        data, seed, tie_scores=seed % 2 == 1, p_missing_img=0.1)
    metric = _metric(
        _write(tmp_path, data), classwise=True, subset_flags=['deteriorated'])
    res = _run(metric, data, preds, shuffle_seed=seed)

    ref_map, ref_cls = reference_ap50(data, preds)
    assert res['bbox_mAP_50'] == pytest.approx(ref_map, abs=1e-12)
    assert 0.0 < res['bbox_mAP_50'] < 1.0
    # the VID devkit's convention under its own key: the devkit formula on
    # the same frames, ground truth and detections
    devkit = _devkit_reference(data, preds, shuffle_seed=seed)
    assert res['bbox_mAP_50_vid_devkit'] == pytest.approx(devkit, abs=1e-9)
    assert 0.0 < devkit < 1.0
    for name, ref in zip(CLASSES, ref_cls):
        if np.isnan(ref):
            assert np.isnan(res[f'bbox_AP50_{name}'])
        else:
            assert res[f'bbox_AP50_{name}'] == pytest.approx(ref, abs=1e-12)

    # motion split: each split == pycocotools with the other splits ignored
    motion = reference_motion_ious(data)
    splits = _split_ignores(data, motion)
    for name in ('slow', 'medium', 'fast'):
        others = set().union(*(v for k, v in splits.items() if k != name))
        ref, _ = reference_ap50(data, preds, extra_ignore=others)
        assert res[f'bbox_mAP_50_{name}'] == pytest.approx(ref, abs=1e-12)

    # deteriorated subset == pycocotools on those frames only
    det_ids = [
        i['id'] for i in data['images']
        if i['deteriorated'] and i['id'] in preds
    ]
    ref, _ = reference_ap50(data, preds, img_ids=det_ids)
    assert res['bbox_mAP_50_deteriorated'] == pytest.approx(ref, abs=1e-12)


def test_motion_ious_match_brute_force():
    data = drop_non_gt(
        make_cocovid(3, num_videos=3, num_frames=40, p_absent=0.3))
    img = {i['id']: i for i in data['images']}
    anns = data['annotations']
    xyxy = np.array([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                      a['bbox'][1] + a['bbox'][3]] for a in anns])
    got = compute_motion_ious([img[a['image_id']]['video_id'] for a in anns],
                              [a['instance_id'] for a in anns],
                              [img[a['image_id']]['frame_id'] for a in anns],
                              xyxy)
    ref = reference_motion_ious(data)
    np.testing.assert_allclose(got, [ref[a['id']] for a in anns], atol=1e-5)
    # all three splits are populated by the generator
    assert (got > 0.9).any() and (got < 0.7).any()
    assert ((got >= 0.7) & (got <= 0.9)).any()


# ---------------------------------------------------------------------------
# (b) hand-made cases
# ---------------------------------------------------------------------------
def _one_video(gts, num_frames=1):
    """gts: list of (frame, class_name, xywh, extra dict)."""
    cats = [dict(id=3 * i + 1, name=n) for i, n in enumerate(CLASSES)]
    name2id = {c['name']: c['id'] for c in cats}
    images = [
        dict(id=f + 1, video_id=1, frame_id=f, width=640, height=480)
        for f in range(num_frames)
    ]
    anns = []
    for k, (f, name, box, extra) in enumerate(gts):
        a = dict(
            id=k + 1,
            image_id=f + 1,
            video_id=1,
            category_id=name2id[name],
            instance_id=extra.pop('instance_id', k),
            bbox=list(map(float, box)),
            area=float(box[2] * box[3]),
            iscrowd=0)
        a.update(extra)
        anns.append(a)
    return dict(
        categories=cats,
        videos=[dict(id=1)],
        images=images,
        annotations=anns)


def _preds(num_frames, dets):
    """dets: list of (frame, class_name, xywh, score)."""
    out = {}
    for f in range(num_frames):
        sel = [d for d in dets if d[0] == f]
        b = np.array([[x, y, x + w, y + h] for _, _, (x, y, w, h), _ in sel],
                     np.float32).reshape(-1, 4)
        s = np.array([d[3] for d in sel], np.float32)
        lab = np.array([CLASSES.index(d[1]) for d in sel], np.int64)
        out[f + 1] = (b, s, lab)
    return out


A, B = 'airplane', 'bear'
BOX1, BOX2, BOX3 = (10, 10, 100, 80), (300, 200, 120, 90), (50, 300, 60, 60)
FAR = (500, 20, 40, 40)

HAND_CASES = {
    # name: (gts, dets, expected bbox_mAP_50)
    'perfect': ([(0, A, BOX1, {}), (0, B, BOX2, {}),
                 (1, A, BOX3, {})], [(0, A, BOX1, .9), (0, B, BOX2, .8),
                                     (1, A, BOX3, .7)], 1.0),
    'fp_above_tp': ([(0, A, BOX1, {})], [(0, A, FAR, .9),
                                         (0, A, BOX1, .8)], 0.5),
    'missed_gt': ([(0, A, BOX1, {}), (1, A, BOX2, {})], [(0, A, BOX1, .9)],
                  51 / 101),
    'duplicate': ([(0, A, BOX1, {}), (1, A, BOX2, {})],
                  [(0, A, BOX1, .9), (0, A, BOX1, .8),
                   (1, A, BOX2, .7)], (51 + 50 * 2 / 3) / 101),
    'wrong_class': ([(0, A, BOX1, {})], [(0, B, BOX1, .9),
                                         (0, A, BOX1, .5)], 1.0),
    'class_without_predictions': ([(0, A, BOX1, {}), (0, B, BOX2, {})],
                                  [(0, A, BOX1, .9)], 0.5),
    'crowd_absorbs_many': ([(0, A, BOX1, {}),
                            (0, A, (300, 200, 200, 200), dict(iscrowd=1))],
                           [(0, A, (310, 210, 50, 50), .95),
                            (0, A, (400, 300, 50, 50), .93),
                            (0, A, BOX1, .9)], 1.0),
    # a non-crowd ignored GT can only absorb one detection
    'ignore_flag': ([(0, A, BOX1, {}), (0, A, BOX2, dict(ignore=True))],
                    [(0, A, BOX2, .9), (0, A, BOX2, .8),
                     (0, A, BOX1, .7)], 0.5),
    # a detection prefers the non-ignored GT even with a lower IoU
    'prefer_non_ignored': ([(0, A, (0, 0, 100, 100), {}),
                            (0, A, (0, 0, 100, 90), dict(ignore=True))],
                           [(0, A, (0, 0, 100, 88), .9)], 1.0),
}


@pytest.mark.parametrize('case', sorted(HAND_CASES))
def test_hand_made_cases(tmp_path, case):
    gts, dets, expected = HAND_CASES[case]
    gts = [(f, c, b, dict(e)) for f, c, b, e in gts]
    num_frames = 1 + max(g[0] for g in gts)
    data = _one_video(gts, num_frames)
    preds = _preds(num_frames, dets)
    res = _run(_metric(_write(tmp_path, data)), data, preds)
    assert res['bbox_mAP_50'] == pytest.approx(expected, abs=1e-12)
    ref, _ = reference_ap50(data, preds)
    assert res['bbox_mAP_50'] == pytest.approx(ref, abs=1e-12)


def test_class_without_gt_is_not_averaged(tmp_path):
    data = _one_video([(0, A, BOX1, {})])
    preds = _preds(1, [(0, A, BOX1, .9), (0, B, BOX2, .95)])
    res = _run(_metric(_write(tmp_path, data), classwise=True), data, preds)
    assert res['bbox_mAP_50'] == pytest.approx(1.0)
    assert res['bbox_AP50_airplane'] == pytest.approx(1.0)
    assert np.isnan(res['bbox_AP50_bear'])


def test_no_predictions_at_all(tmp_path):
    data = _one_video([(0, A, BOX1, {})])
    res = _run(_metric(_write(tmp_path, data)), data, _preds(1, []))
    assert res['bbox_mAP_50'] == 0.0


# ---------------------------------------------------------------------------
# motion split on a hand-made video
# ---------------------------------------------------------------------------
def _motion_video():
    """21 frames: airplane 0 static, airplane 1 jumps by its width every
    frame, airplane 2 shifts by 10% of its width per frame (medium), airplane
    3 only visible in frame 10 (no neighbours)."""
    gts = []
    for f in range(21):
        gts.append((f, A, (10, 10, 100, 100), dict(instance_id=0)))
        gts.append((f, A, (5 + 25 * f, 300, 20, 20), dict(instance_id=1)))
        gts.append((f, A, (200 + 3 * f, 150, 100, 100), dict(instance_id=2)))
    gts.append((10, A, (520, 20, 50, 50), dict(instance_id=3)))
    return _one_video(gts, 21)


def test_motion_split_hand_made(tmp_path):
    data = _motion_video()
    ann_file = _write(tmp_path, data)
    motion = reference_motion_ious(data)
    by_inst = {}
    for a in data['annotations']:
        by_inst.setdefault(a['instance_id'], []).append(motion[a['id']])
    assert min(by_inst[0]) == 1.0  # slow
    assert max(by_inst[1]) == 0.0  # fast
    assert all(0.7 <= m <= 0.9 for m in by_inst[2])  # medium
    assert by_inst[3] == [0.0]  # no neighbour -> fast

    def dets(instances, score):
        return [(a['image_id'] - 1, A, tuple(a['bbox']), score)
                for a in data['annotations']
                if a['instance_id'] in instances]

    # predictions for the static instance only
    res = _run(_metric(ann_file), data, _preds(21, dets({0}, .9)))
    assert res['bbox_mAP_50_slow'] == 1.0  # fast/medium GTs ignored
    assert res['bbox_mAP_50_fast'] == 0.0
    assert res['bbox_mAP_50_medium'] == 0.0
    assert 0.0 < res['bbox_mAP_50'] < 0.5

    # static (high score) + fast (low score): in the fast split the static
    # detections hit ignored GTs, so they are not FPs ahead of the fast ones
    preds = _preds(21, dets({0}, .9) + dets({1, 3}, .5))
    res = _run(_metric(ann_file), data, preds)
    assert res['bbox_mAP_50_fast'] == 1.0
    assert res['bbox_mAP_50_slow'] == 1.0
    assert res['bbox_mAP_50_medium'] == 0.0
    fast_ids = {
        a['id']
        for a in data['annotations'] if a['instance_id'] not in (1, 3)
    }
    ref, _ = reference_ap50(data, preds, extra_ignore=fast_ids)
    assert res['bbox_mAP_50_fast'] == pytest.approx(ref, abs=1e-12)

    # medium only
    res = _run(_metric(ann_file), data, _preds(21, dets({2}, .7)))
    assert res['bbox_mAP_50_medium'] == 1.0
    assert res['bbox_mAP_50_slow'] == 0.0

    # counting lone instances as slow moves instance 3 to the slow split
    res = _run(
        _metric(ann_file, no_neighbour_motion_iou=1.0), data,
        _preds(21, dets({0}, .9)))
    assert res['bbox_mAP_50_slow'] < 1.0


def test_motion_split_boundaries():
    m = motion_split_masks(
        np.array([0.0, 0.6999, 0.7, 0.8, 0.9, 0.9001, 1.0]))
    assert m['fast'].tolist() == [1, 1, 0, 0, 0, 0, 0]
    assert m['medium'].tolist() == [0, 0, 1, 1, 1, 0, 0]
    assert m['slow'].tolist() == [0, 0, 0, 0, 0, 1, 1]


def test_motion_window_boundary():
    box = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], np.float64)
    # frames 0 and 10: neighbours (IoU 0); frames 0 and 11: no neighbours
    assert compute_motion_ious([1, 1], [5, 5], [0, 10], box,
                               no_neighbour_value=0.5).tolist() == [0., 0.]
    assert compute_motion_ious([1, 1], [5, 5], [0, 11], box,
                               no_neighbour_value=0.5).tolist() == [.5, .5]
    # other video / other instance / no instance id: no neighbours
    same = np.array([[0, 0, 10, 10]] * 2, np.float64)
    assert compute_motion_ious([1, 2], [5, 5], [0, 1], same,
                               no_neighbour_value=0.5).tolist() == [.5, .5]
    assert compute_motion_ious([1, 1], [None, None], [0, 1], same,
                               no_neighbour_value=0.5).tolist() == [.5, .5]
    assert compute_motion_ious([1, 1], [5, 5], [0, 1], same).tolist() == [
        1., 1.
    ]


# ---------------------------------------------------------------------------
# GT from the samples (no ann_file) == GT from the ann file
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('gt_style', ['instances', 'gt_instances'])
def test_without_ann_file_matches_ann_file(tmp_path, gt_style):
    data = make_cocovid(11, p_ignore=0.0)  # `ignore` is not in sample GT
    preds = random_predictions(data, 11)
    with_file = _run(
        _metric(_write(tmp_path, data), subset_flags=['deteriorated']), data,
        preds)
    without = _run(
        _metric(None, subset_flags=['deteriorated']),
        data,
        preds,
        shuffle_seed=3,
        with_gt=True,
        gt_style=gt_style)
    assert set(with_file) == set(without)
    for k, v in with_file.items():
        assert without[k] == pytest.approx(v, abs=1e-12), k


def test_without_ann_file_no_instance_ids_skips_motion():
    data = make_cocovid(12, p_ignore=0.0)
    preds = random_predictions(data, 12)
    metric = _metric(None)
    imgs = {i['id']: i for i in data['images']}
    for k, p in preds.items():
        ds = make_sample(imgs[k], p, with_gt=True, data=data)
        for inst in ds['instances']:
            inst.pop('instance_id')
        metric.process({}, [ds])
    res = metric.compute_metrics(metric.results)
    assert set(res) == {'bbox_mAP_50', 'bbox_mAP_50_vid_devkit'}
    assert res['bbox_mAP_50'] == pytest.approx(
        reference_ap50(data, preds)[0], abs=1e-12)


# ---------------------------------------------------------------------------
# distributed gathering, registry, format_only, bad input
# ---------------------------------------------------------------------------
def test_evaluate_keeps_all_frames_and_dedups(tmp_path):
    """len(dataset) of a video dataset counts videos: evaluate() must not cut
    the results at it; duplicated frames (sampler padding) count once; the
    order of frames (ranks interleaved) does not matter."""
    data = make_cocovid(5)
    preds = random_predictions(data, 5)
    metric = METRICS.build(
        dict(type='VIDMetric', ann_file=_write(tmp_path, data)))
    metric.dataset_meta = dict(classes=CLASSES)
    imgs = {i['id']: i for i in data['images']}
    samples = [make_sample(imgs[k], p) for k, p in preds.items()]
    random.Random(0).shuffle(samples)
    for s in samples + samples[:7]:
        metric.process({}, [s])
    res = metric.evaluate(size=len(data['videos']))
    assert res['vid/bbox_mAP_50'] == pytest.approx(
        reference_ap50(data, preds)[0], abs=1e-12)
    assert {'vid/bbox_mAP_50_slow', 'vid/bbox_mAP_50_medium',
            'vid/bbox_mAP_50_fast'} <= set(res)
    assert metric.results == []


def test_subset_img_ids(tmp_path):
    data = make_cocovid(6)
    preds = random_predictions(data, 6)
    ids = [i['id'] for i in data['images'] if i['frame_id'] < 8]
    res = _run(
        _metric(_write(tmp_path, data), subset_img_ids=dict(first8=ids)),
        data, preds)
    assert res['bbox_mAP_50_first8'] == pytest.approx(
        reference_ap50(data, preds, img_ids=ids)[0], abs=1e-12)
    assert res['bbox_mAP_50_first8'] != res['bbox_mAP_50']


@pytest.mark.parametrize('with_ann_file', [True, False])
def test_subset_complements(tmp_path, with_ann_file):
    """``subset_complements=dict(clean='deteriorated')``: pycocotools over
    the predicted frames whose flag is false (a frame without the field
    counts as clean); a complement of an img-id subset too."""
    data = make_cocovid(7, p_ignore=0.0)
    for img in data['images'][::7]:     # no field: clean
        del img['deteriorated']
    preds = random_predictions(data, 7, p_missing_img=0.1)
    ids = [i['id'] for i in data['images'] if i['frame_id'] < 8]
    kw = dict(
        subset_flags=['deteriorated'], subset_img_ids=dict(first8=ids),
        subset_complements=dict(clean='deteriorated', late='first8'))
    if with_ann_file:
        res = _run(_metric(_write(tmp_path, data), **kw), data, preds)
    else:
        res = _run(_metric(None, **kw), data, preds, with_gt=True)
    clean = [
        i['id'] for i in data['images']
        if not i.get('deteriorated', False) and i['id'] in preds
    ]
    late = [i['id'] for i in data['images']
            if i['frame_id'] >= 8 and i['id'] in preds]
    det = [i['id'] for i in data['images']
           if i.get('deteriorated') and i['id'] in preds]
    assert len(clean) > 20 and len(det) > 10
    for key, img_ids in (('clean', clean), ('late', late),
                         ('deteriorated', det)):
        ref = reference_ap50(data, preds, img_ids=img_ids)[0]
        assert res[f'bbox_mAP_50_{key}'] == pytest.approx(ref, abs=1e-12)
    assert res['bbox_mAP_50_clean'] not in (res['bbox_mAP_50'],
                                            res['bbox_mAP_50_deteriorated'])


def test_subset_complements_bad_names():
    with pytest.raises(ValueError, match='subset_complements'):
        VIDMetric(subset_flags=['deteriorated'],
                  subset_complements=dict(clean='blurred'))
    with pytest.raises(ValueError, match='unique'):
        VIDMetric(subset_flags=['deteriorated'],
                  subset_complements=dict(deteriorated='deteriorated'))
    with pytest.raises(ValueError, match='unique'):
        VIDMetric(subset_flags=['deteriorated'],
                  subset_complements=dict(fast='deteriorated'))


def test_format_only(tmp_path):
    data = make_cocovid(8)
    preds = random_predictions(data, 8)
    prefix = osp.join(str(tmp_path), 'out', 'results')
    metric = _metric(
        _write(tmp_path, data), format_only=True, outfile_prefix=prefix)
    res = _run(metric, data, preds)
    assert res == {}
    with open(prefix + '.bbox.json') as f:
        out = json.load(f)
    assert len(out) == sum(len(p[1]) for p in preds.values())
    imgs = {i['id']: i for i in data['images']}
    cat_ids = cat_ids_in_class_order(data)
    first = next(k for k, p in preds.items() if len(p[1]))
    item = next(o for o in out if o['image_id'] == first)
    b, s, lab = preds[first]
    x1, y1, x2, y2 = b[0].tolist()
    assert item['bbox'] == pytest.approx([x1, y1, x2 - x1, y2 - y1])
    assert item['score'] == pytest.approx(float(s[0]))
    assert item['category_id'] == cat_ids[lab[0]]
    assert item['video_id'] == imgs[first]['video_id']
    assert item['frame_id'] == imgs[first]['frame_id']
    assert {o['category_id'] for o in out} <= set(cat_ids)
    # pycocotools accepts the file
    from pycocotools.coco import COCO
    gt = COCO()
    gt.dataset = data
    gt.createIndex()
    assert len(gt.loadRes(prefix + '.bbox.json').anns) == len(out)

    with pytest.raises(ValueError, match='outfile_prefix'):
        VIDMetric(format_only=True)


def test_unknown_img_id_raises(tmp_path):
    data = _one_video([(0, A, BOX1, {})])
    metric = _metric(_write(tmp_path, data))
    ds = make_sample(dict(id=424242, video_id=1, frame_id=3),
                     _preds(1, [(0, A, BOX1, .9)])[1])
    with pytest.raises(KeyError, match='424242'):
        metric.process({}, [ds])


def test_bad_classes_and_labels(tmp_path):
    data = _one_video([(0, A, BOX1, {})])
    metric = VIDMetric(ann_file=_write(tmp_path, data))
    metric.dataset_meta = dict(classes=('airplane', 'unicorn'))
    metric.process({}, [make_sample(data['images'][0], _preds(1, [])[1])])
    with pytest.raises(ValueError, match='unicorn'):
        metric.compute_metrics(metric.results)

    metric = _metric(_write(tmp_path, data))
    b, s, _ = _preds(1, [(0, A, BOX1, .9)])[1]
    metric.process({}, [
        make_sample(data['images'][0], (b, s, np.array([7], np.int64)))
    ])
    with pytest.raises(ValueError, match='label out of range'):
        metric.compute_metrics(metric.results)

    with pytest.raises(KeyError):
        VIDMetric(metric='segm')


def test_missing_gt_without_ann_file():
    metric = _metric(None)
    ds = make_sample(dict(id=1, video_id=1, frame_id=0),
                     _preds(1, [(0, A, BOX1, .9)])[1])
    with pytest.raises(KeyError, match='ground truth'):
        metric.process({}, [ds])
    # accepts mmdet box types / tensors on gt_instances too
    ds['gt_instances'] = dict(
        bboxes=torch.tensor([[10., 10., 110., 90.]]),
        labels=torch.tensor([0]))
    metric.process({}, [ds])
    res = metric.compute_metrics(metric.results)
    assert res['bbox_mAP_50'] == pytest.approx(1.0)


def test_through_mmengine_evaluator(tmp_path):
    """Real DetDataSamples through mmengine's Evaluator (to_dict path)."""
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData

    from mmdet.structures import DetDataSample
    data = make_cocovid(9)
    preds = random_predictions(data, 9)
    evaluator = Evaluator(
        dict(type='mmdet.VIDMetric', ann_file=_write(tmp_path, data)))
    evaluator.dataset_meta = dict(classes=CLASSES)
    imgs = {i['id']: i for i in data['images']}
    for k, (b, s, lab) in preds.items():
        img = imgs[k]
        ds = DetDataSample(
            metainfo=dict(
                img_id=k,
                video_id=img['video_id'],
                frame_id=img['frame_id'],
                ori_shape=(480, 640)))
        ds.pred_instances = InstanceData(
            bboxes=torch.from_numpy(b),
            scores=torch.from_numpy(s),
            labels=torch.from_numpy(lab))
        evaluator.process([ds])
    res = evaluator.evaluate(len(data['videos']))
    assert res['vid/bbox_mAP_50'] == pytest.approx(
        reference_ap50(data, preds)[0], abs=1e-12)


def _dist_worker(rank, world_size, init_file, ann_file, collect_dir,
                 out_file):
    import pickle

    import torch.distributed as torch_dist
    torch_dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=world_size)
    try:
        with open(ann_file) as f:
            data = json.load(f)
        preds = random_predictions(data, 13)
        imgs = {i['id']: i for i in data['images']}
        metric = VIDMetric(ann_file=ann_file, collect_dir=collect_dir)
        metric.dataset_meta = dict(classes=CLASSES)
        # whole videos per rank, unequal numbers of frames per rank
        mine = [0, 1] if rank == 0 else [2]
        vids = [data['videos'][i]['id'] for i in mine]
        for k, p in preds.items():
            if imgs[k]['video_id'] in vids:
                metric.process({}, [make_sample(imgs[k], p)])
        res = metric.evaluate(size=len(data['videos']))
        if rank == 0:
            with open(out_file, 'wb') as f:
                pickle.dump(res, f)
    finally:
        torch_dist.destroy_process_group()


def test_distributed_two_ranks_whole_videos(tmp_path):
    import pickle

    import torch.multiprocessing as mp
    data = make_cocovid(13, num_frames=10)
    ann_file = _write(tmp_path, data)
    out_file = osp.join(str(tmp_path), 'res.pkl')
    mp.spawn(
        _dist_worker,
        args=(2, osp.join(str(tmp_path), 'init'), ann_file,
              osp.join(str(tmp_path), 'collect'), out_file),
        nprocs=2,
        join=True)
    with open(out_file, 'rb') as f:
        res = pickle.load(f)
    preds = random_predictions(data, 13)
    assert res['vid/bbox_mAP_50'] == pytest.approx(
        reference_ap50(data, preds)[0], abs=1e-12)


def _devkit_reference(data, preds, shuffle_seed=None):
    """Mean VID-devkit AP computed from the json and the predictions
    directly, on the evaluated frames (those with predictions) and the
    annotations the ground-truth rule keeps, crowd / ignore left out
    (``vid_devkit_ap`` itself is tested against an independent devkit
    implementation in test_toolkit_conventions.py). Frames are in the
    order ``_run`` fed them (the devkit breaks score ties by frame)."""
    from mmstpn.evaluation.functional import mean_ap, vid_devkit_ap
    label = {c: i for i, c in enumerate(cat_ids_in_class_order(data))}
    keys = list(preds)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(keys)
    order = {img_id: i for i, img_id in enumerate(keys)}
    by_id = {img['id']: img for img in data['images']}
    gts = [a for a in data['annotations']
           if a['image_id'] in order and a['category_id'] in label
           and is_ground_truth(a, by_id[a['image_id']])
           and not a.get('iscrowd') and not a.get('ignore')]
    det = [(order[i], int(lab), float(sc), [float(v) for v in box])
           for i in keys
           for box, sc, lab in zip(*preds[i])]
    aps = vid_devkit_ap(
        len(label), np.array([d[0] for d in det], np.int64),
        np.array([d[1] for d in det], np.int64),
        np.array([d[2] for d in det]),
        np.array([d[3] for d in det], np.float64).reshape(-1, 4),
        np.array([order[a['image_id']] for a in gts], np.int64),
        np.array([label[a['category_id']] for a in gts], np.int64),
        np.array([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                   a['bbox'][1] + a['bbox'][3]] for a in gts],
                 np.float64).reshape(-1, 4))
    return mean_ap(aps)
