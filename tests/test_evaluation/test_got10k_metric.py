# Copyright (c) OpenMMLab. All rights reserved.
"""GOT-10k / OPE metrics: hand-made sequences with known values, a naive
reference, and GOT10kMetric through mmengine's Evaluator."""
import json
import math
import os
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

import mmstpn  # noqa: F401
from mmdet.registry import METRICS
from mmstpn.evaluation.functional import (box_iou_xywh, got10k_clip_boxes,
                                          got10k_metrics, got10k_speed,
                                          ope_metrics, success_curve)

MMLogger.get_instance('mmengine', log_level='WARNING')
EPS = np.finfo(float).eps


# ------------------------------------------------------------- reference
def _ref_clip(box, size):
    """The toolkit's bound: x, y first, then w, h against the clipped x, y."""
    x, y, w, h = box
    width, height = size
    x = min(max(x, 0.0), width)
    y = min(max(y, 0.0), height)
    w = min(max(w, 0.0), width - x)
    h = min(max(h, 0.0), height - y)
    return x, y, w, h


def _ref_iou(a, b, size=None):
    if any(not math.isfinite(v) for v in a):
        return 0.0
    if size is not None:
        a, b = _ref_clip(a, size), _ref_clip(b, size)
    iw = max(min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]), 0.0)
    ih = max(min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]), 0.0)
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return min(max(inter / (union + EPS), 0.0), 1.0)


def _ref_got10k(preds, gts, covers, sizes):
    """Naive loops: runs concatenated, frames 1.. with cover > 0, pooled."""
    pooled = []
    for runs, gt, cover, size in zip(preds, gts, covers, sizes):
        for run in runs:
            for f in range(1, len(gt)):
                if cover[f] > 0:
                    pooled.append(_ref_iou(run[f], gt[f], size))
    n = len(pooled)
    return dict(
        AO=sum(pooled) / n,
        SR50=sum(v > 0.5 for v in pooled) / n,
        SR75=sum(v > 0.75 for v in pooled) / n)


def _shifted(box, dx=0.0, dy=0.0):
    return [box[0] + dx, box[1] + dy, box[2], box[3]]


# ------------------------------------------------------- hand-made values
def test_known_ao_shifted_boxes_cover_and_pooling():
    box = [10.0, 10.0, 20.0, 20.0]
    # sequence A: 5 frames, shifts 0, 5, 10, 20 px on frames 1..4;
    # IoU(dx) = (20 - dx) / (20 + dx): 1, 0.6, 1/3, 0
    gt_a = [box] * 5
    pred_a = [[0, 0, 1, 1]] + [_shifted(box, dx) for dx in (0, 5, 10, 20)]
    # sequence B: 3 frames; frame 1 has cover 0 (not evaluated), frame 2
    # shifted by 10 px in y: IoU 1/3
    gt_b = [box] * 3
    pred_b = [box, [500, 500, 1, 1], _shifted(box, dy=10)]
    res = got10k_metrics([pred_a, pred_b], [gt_a, gt_b],
                         covers=[[8, 8, 8, 8, 8], [8, 0, 3]])
    pooled = [1, 0.6, 1 / 3, 0, 1 / 3]
    assert res['AO'] == pytest.approx(sum(pooled) / 5)
    assert res['SR50'] == pytest.approx(2 / 5)
    assert res['SR75'] == pytest.approx(1 / 5)
    # pooled over frames, NOT the mean of per-sequence AOs
    per_seq = ((1 + 0.6 + 1 / 3 + 0) / 4 + 1 / 3) / 2
    assert abs(res['AO'] - per_seq) > 0.04
    # without covers frame 1 of B (IoU 0) counts
    res = got10k_metrics([pred_a, pred_b], [gt_a, gt_b])
    assert res['AO'] == pytest.approx((sum(pooled) + 0) / 6)
    # frame 0 never counts: a perfect frame 0 changes nothing
    pred_a2 = [box] + pred_a[1:]
    assert got10k_metrics([pred_a2], [gt_a])['AO'] == pytest.approx(
        got10k_metrics([pred_a], [gt_a])['AO'])


def test_clipping_follows_the_toolkit():
    size = (100, 100)
    # right edge: gt (90, 10, 20, 20) is cut to (90, 10, 10, 20)
    gt = [[0, 0, 5, 5], [90, 10, 20, 20]]
    pred = [[0, 0, 5, 5], [90, 10, 10, 20]]
    assert got10k_metrics([pred], [gt], image_sizes=[size])['AO'] == \
        pytest.approx(1.0)
    assert got10k_metrics([pred], [gt])['AO'] == pytest.approx(0.5)
    # left edge: the toolkit SHIFTS (-10, 0, 30, 20) to (0, 0, 30, 20)
    # (x clipped first, w only against the right edge), it does not cut
    # it to (0, 0, 20, 20): IoU with (0, 0, 20, 20) is 400 / 600
    gt = [[0, 0, 5, 5], [-10, 0, 30, 20]]
    pred = [[0, 0, 5, 5], [0, 0, 20, 20]]
    assert got10k_metrics([pred], [gt], image_sizes=[size])['AO'] == \
        pytest.approx(2 / 3)
    np.testing.assert_allclose(
        got10k_clip_boxes(np.array([[-10, 0, 30, 20], [95, 98, 10, 10],
                                    [120, -5, 10, 10]]), size),
        [[0, 0, 30, 20], [95, 98, 5, 2], [100, 0, 0, 10]])
    # a prediction completely outside the image: IoU 0
    assert box_iou_xywh(np.array([[150., 150., 10., 10.]]),
                        np.array([[90., 90., 10., 10.]]), size)[0] == 0


def test_nan_prediction_counts_as_zero():
    box = [10.0, 10.0, 20.0, 20.0]
    pred = [box, box, [np.nan, 10, 20, 20], [10, 10, np.inf, 20]]
    res = got10k_metrics([pred], [[box] * 4], image_sizes=[(64, 64)])
    assert res['AO'] == pytest.approx(1 / 3)
    assert res['SR50'] == pytest.approx(1 / 3)


def test_box_iou_of_a_single_pair():
    """box_iou_xywh takes (..., 4): one (4,) pair too (and a NaN one)."""
    from mmstpn.evaluation.functional import box_iou_xywh
    # [0, 10) x [0, 10) vs [5, 15) x [0, 10): 50 / 150
    assert float(box_iou_xywh([0, 0, 10, 10], [5, 0, 10, 10])) == \
        pytest.approx(1 / 3)
    assert float(box_iou_xywh([np.nan, 0, 10, 10], [5, 0, 10, 10])) == 0.0


def test_three_runs_are_concatenated():
    box = [0.0, 0.0, 20.0, 20.0]
    gt = [box, box]
    # frame 1 of three runs: IoU 0.4 (dx = 60/7), 0.4, 1.0
    dx = 20 * 0.6 / 1.4
    runs = [[box, _shifted(box, dx)], [box, _shifted(box, dx)], [box, box]]
    res = got10k_metrics([runs], [gt])
    assert res['AO'] == pytest.approx(0.6)
    # SR over (run, frame) pairs: 1 of 3 above 0.5; averaging the IoUs over
    # runs first (0.6 > 0.5) would give 1.0
    assert res['SR50'] == pytest.approx(1 / 3)
    # the same as an (R, F, 4) array
    assert got10k_metrics([np.array(runs)], [gt]) == res


def test_success_curve_strict_and_monotone():
    curve = success_curve([0.5, 0.75, 1.0], [0.0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve, [1, 2 / 3, 1 / 3, 0])
    rng = np.random.RandomState(0)
    preds, gts = _random_sequences(rng, 6)
    res = got10k_metrics(preds, gts, return_curve=True)
    curve = res['success_curve']
    assert curve.shape == (101, )
    assert (np.diff(curve) <= 0).all()
    assert curve[-1] == 0  # IoU > 1 never
    assert curve[50] == pytest.approx(res['SR50'])
    assert curve[75] == pytest.approx(res['SR75'])
    # the area under the 101-point curve approximates AO
    assert abs(np.trapezoid(curve, np.linspace(0, 1, 101)) - res['AO']) < 0.01


def _random_sequences(rng, num, runs=1, size=(80, 60)):
    preds, gts = [], []
    for _ in range(num):
        f = rng.randint(2, 12)
        xy = rng.uniform(-10, 70, (f, 2))
        wh = rng.uniform(2, 40, (f, 2))
        gt = np.concatenate([xy, wh], 1)
        run = [
            gt + rng.normal(0, 6, gt.shape) * [1, 1, 0.5, 0.5]
            for _ in range(runs)
        ]
        for r in run:
            r[:, 2:] = np.abs(r[:, 2:])
        preds.append(np.stack(run) if runs > 1 else run[0])
        gts.append(gt)
    return preds, gts


def test_matches_naive_reference_on_random_sequences():
    rng = np.random.RandomState(1)
    preds, gts = _random_sequences(rng, 8, runs=3)
    covers = [rng.randint(0, 9, len(g)) for g in gts]
    covers[0][1:] = 0  # a sequence without evaluated frame
    sizes = [(80, 60)] * 8
    preds[2][1, 3] = [np.nan] * 4
    res = got10k_metrics(preds, gts, covers, sizes)
    ref = _ref_got10k([p.tolist() for p in preds], [g.tolist() for g in gts],
                      covers, sizes)
    for k in ('AO', 'SR50', 'SR75'):
        assert res[k] == pytest.approx(ref[k], abs=1e-12)


def test_functional_errors():
    box = [0, 0, 4, 4]
    with pytest.raises(ValueError, match="sequence 'b': 2 predicted frames "
                       'but 3 ground-truth'):
        got10k_metrics([[box] * 2, [box] * 2], [[box] * 2, [box] * 3],
                       seq_names=['a', 'b'])
    with pytest.raises(ValueError, match='sequence 0: 2 cover values'):
        got10k_metrics([[box] * 3], [[box] * 3], covers=[[1, 1]])
    with pytest.raises(ValueError, match='no frame to evaluate'):
        got10k_metrics([[box] * 3], [[box] * 3], covers=[[1, 0, 0]])
    with pytest.raises(ValueError, match=r'\(F, 4\)'):
        got10k_metrics([[[0, 0, 4]] * 3], [[box] * 3])
    with pytest.raises(ValueError, match='frame 1 is not finite'):
        got10k_metrics([[box] * 3], [[box, [np.nan] * 4, box]])


def test_speed_is_mean_of_per_frame_fps():
    assert got10k_speed([np.array([0.01, 0.02, 0.0, np.nan]),
                         np.array([[0.04, 0.04]])]) == pytest.approx(
                             (100 + 50 + 25 + 25) / 4)
    assert got10k_speed([]) == -1.0


def test_ope_known_values():
    box = [10.0, 10.0, 20.0, 20.0]
    # seq A: frame 0 replaced by gt (IoU 1, error 0); frame 1 shifted 10 px
    # (IoU 1/3, error 10); frame 2 shifted 30 px (IoU 0, error 30);
    # frame 3 has a NaN gt: dropped
    gt_a = [box, box, box, [np.nan] * 4]
    pred_a = [[0, 0, 1, 1], _shifted(box, 10), _shifted(box, 30), box]
    # seq B: 2 frames, frame 1 perfect
    gt_b = [box, box]
    pred_b = [box, box]
    res = ope_metrics([pred_a, pred_b], [gt_a, gt_b], return_curve=True)
    thrs = np.linspace(0, 1, 21)
    curve_a = np.array([np.mean([v > t for v in (1, 1 / 3, 0)])
                        for t in thrs])
    curve_b = np.array([float(1 > t) for t in thrs])
    np.testing.assert_allclose(res['success_curve'], (curve_a + curve_b) / 2)
    assert res['success_auc'] == pytest.approx(
        np.mean((curve_a + curve_b) / 2))
    # precision at 20 px: A 2 of 3 frames, B 2 of 2 -> mean over sequences
    assert res['precision'] == pytest.approx((2 / 3 + 1) / 2)
    assert res['SR50'] == pytest.approx((1 / 3 + 1) / 2)
    assert res['precision_curve'].shape == (51, )
    assert (np.diff(res['precision_curve']) >= 0).all()


# ------------------------------------------------------------- the metric
def _frame_sample(name, fid, length, pred_xyxy, gt_xyxy, cover=8,
                  size=(64, 48), time=0.01, run=None, key='track'):
    ds = DetDataSample()
    meta = dict(
        video_name=name, video_id=0, frame_id=fid,
        video_length=1, ori_video_length=length, bbox=gt_xyxy, cover=cover,
        width=size[0], height=size[1], ori_shape=(size[1], size[0]),
        img_path=f'{name}/{fid + 1:08d}.jpg')
    if time is not None:
        meta['frame_time'] = time
    if run is not None:
        meta['run_id'] = run
    ds.set_metainfo(meta)
    inst = InstanceData()
    inst.bboxes = torch.tensor([pred_xyxy], dtype=torch.float32) \
        if pred_xyxy is not None else torch.zeros(0, 4)
    inst.scores = torch.ones(len(inst.bboxes))
    if key == 'track':
        ds.pred_track_instances = inst
    else:
        ds.pred_instances = inst
    return ds


def _xyxy(b):
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]


def _dataset(rng, num=3, runs=1):
    """Sequences with xywh preds / gts (float32-exact), covers, times."""
    seqs = []
    for s in range(num):
        f = rng.randint(3, 8)
        gt = np.round(np.concatenate(
            [rng.uniform(0, 40, (f, 2)), rng.uniform(4, 20, (f, 2))], 1), 2)
        preds = [np.round(gt + rng.normal(0, 3, gt.shape), 2)
                 for _ in range(runs)]
        for p in preds:
            p[:, 2:] = np.abs(p[:, 2:]) + 1
        cover = rng.randint(0, 9, f)
        times = [np.round(rng.uniform(0.005, 0.05, f), 6) for _ in range(runs)]
        seqs.append(dict(name=f'GOT-10k_Val_{s:06d}', gt=gt, preds=preds,
                         cover=cover, times=times))
    return seqs


def _samples(seqs, order='sequential', key='track', **kw):
    items = []
    for seq in seqs:
        for r, (pred, times) in enumerate(zip(seq['preds'], seq['times'])):
            for f in range(len(seq['gt'])):
                items.append(
                    _frame_sample(
                        seq['name'], f, len(seq['gt']),
                        _xyxy(pred[f]), _xyxy(seq['gt'][f]),
                        int(seq['cover'][f]), time=float(times[f]),
                        run=r if len(seq['preds']) > 1 else None, key=key,
                        **kw))
    if order == 'shuffled':
        random.Random(0).shuffle(items)
    return items


def _evaluate(metric_cfg, samples, batch=2):
    evaluator = Evaluator(METRICS.build(metric_cfg))
    for i in range(0, len(samples), batch):
        evaluator.process(data_samples=samples[i:i + batch])
    return evaluator.evaluate(1)  # len(dataset) is ignored (sequences)


def _expected(seqs):
    preds = [np.stack([np.concatenate([s['gt'][:1], p[1:]]) for p in
                       s['preds']]) for s in seqs]
    return got10k_metrics(preds, [s['gt'] for s in seqs],
                          [s['cover'] for s in seqs], [(64, 48)] * len(seqs))


@pytest.mark.parametrize('order,key', [('sequential', 'track'),
                                       ('shuffled', 'det')])
def test_metric_through_evaluator(order, key):
    rng = np.random.RandomState(2)
    seqs = _dataset(rng)
    res = _evaluate(dict(type='GOT10kMetric'), _samples(seqs, order, key))
    exp = _expected(seqs)
    ref = _ref_got10k(
        [[np.concatenate([s['gt'][:1], p[1:]]).tolist() for p in s['preds']]
         for s in seqs], [s['gt'].tolist() for s in seqs],
        [s['cover'] for s in seqs], [(64, 48)] * 3)
    for k in ('AO', 'SR50', 'SR75'):
        assert res[f'got10k/{k}'] == pytest.approx(exp[k], abs=1e-6)
        assert res[f'got10k/{k}'] == pytest.approx(ref[k], abs=1e-6)
    times = np.concatenate([t for s in seqs for t in s['times']])
    assert res['got10k/speed_fps'] == pytest.approx(np.mean(1 / times),
                                                    rel=1e-6)


def test_metric_track_data_samples_and_repeated_runs(tmp_path):
    rng = np.random.RandomState(3)
    seqs = _dataset(rng, num=2, runs=3)
    frames = _samples(seqs, 'shuffled')
    samples = []
    for f in frames:  # mmdet's test items: one frame per TrackDataSample
        t = TrackDataSample()
        t.video_data_samples = [f]
        samples.append(t)
    out = str(tmp_path / 'res')
    res = _evaluate(dict(type='GOT10kMetric', outfile_prefix=out), samples)
    exp = _expected(seqs)
    for k in ('AO', 'SR50', 'SR75'):
        assert res[f'got10k/{k}'] == pytest.approx(exp[k], abs=1e-6)
    # submission layout: 3 box files (one per run) and a 3-column time file
    name = seqs[0]['name']
    files = sorted(os.listdir(osp.join(out, name)))
    assert files == [f'{name}_001.txt', f'{name}_002.txt',
                     f'{name}_003.txt', f'{name}_time.txt']
    times = np.loadtxt(osp.join(out, name, f'{name}_time.txt'), delimiter=',')
    np.testing.assert_allclose(times, np.stack(seqs[0]['times'], 1),
                               atol=1e-8)
    boxes = np.loadtxt(osp.join(out, name, f'{name}_002.txt'), delimiter=',')
    np.testing.assert_allclose(boxes[0], seqs[0]['gt'][0], atol=1e-3)
    np.testing.assert_allclose(boxes[1:], seqs[0]['preds'][1][1:], atol=2e-3)
    assert osp.getsize(osp.join(out, 'success_plot.png')) > 1000
    perf = json.load(open(osp.join(out, 'performance.json')))
    assert perf['overall']['AO'] == pytest.approx(res['got10k/AO'])
    assert len(perf['overall']['success_curve']) == 101


def test_format_only_test_split(tmp_path):
    """Test split: frames 1.. have no ground truth; only files are written,
    with the measured times."""
    out = str(tmp_path / 'sub')
    given = [4.0, 5.0, 10.0, 8.0]
    preds = [None, [5, 6, 15.5, 14], [6.25, 7, 16, 15.125]]
    times = [0.125, 0.0153, 0.0161]
    samples = [
        _frame_sample('GOT-10k_Test_000001', f, 3, preds[f],
                      _xyxy(given) if f == 0 else None, cover=None,
                      time=times[f]) for f in range(3)
    ]
    for s in samples[1:]:  # test frames carry no gt / cover
        s.set_metainfo(dict(bbox=None, cover=None))
    res = _evaluate(
        dict(type='GOT10kMetric', format_only=True, outfile_prefix=out),
        samples)
    assert res == {}
    seq_dir = osp.join(out, 'GOT-10k_Test_000001')
    assert sorted(os.listdir(seq_dir)) == [
        'GOT-10k_Test_000001_001.txt', 'GOT-10k_Test_000001_time.txt'
    ]
    lines = open(osp.join(seq_dir, 'GOT-10k_Test_000001_001.txt')).read()
    assert lines.splitlines() == [
        '4.000,5.000,10.000,8.000', '5.000,6.000,10.500,8.000',
        '6.250,7.000,9.750,8.125'
    ]
    tlines = open(osp.join(seq_dir, 'GOT-10k_Test_000001_time.txt')).read()
    assert [float(v) for v in tlines.split()] == times
    # evaluating a test split is an error that names the fix
    with pytest.raises(ValueError, match="'GOT-10k_Test_000001' frame 1 has "
                       'no ground truth.*format_only=True'):
        _evaluate(dict(type='GOT10kMetric'), samples)


def test_metric_errors(tmp_path):
    rng = np.random.RandomState(4)
    seqs = _dataset(rng, num=1)
    name = seqs[0]['name']
    samples = _samples(seqs)
    # a missing frame
    with pytest.raises(ValueError, match=f"sequence '{name}' run 0: frames "
                       r'\[2\] of its'):
        _evaluate(dict(type='GOT10kMetric'), samples[:2] + samples[3:])
    # no time: no speed in evaluation, an error for the result files
    for s in samples:
        del s.frame_time
    res = _evaluate(dict(type='GOT10kMetric'), samples)
    assert 'got10k/speed_fps' not in res
    # with an outfile_prefix but no times: plot yes, result files no
    out = str(tmp_path / 'plots')
    res = _evaluate(dict(type='GOT10kMetric', outfile_prefix=out), samples)
    assert 'got10k/AO' in res
    assert sorted(os.listdir(out)) == ['performance.json', 'success_plot.png']
    with pytest.raises(KeyError, match=f"sequence '{name}' frame 0: no "
                       'frame_time'):
        _evaluate(
            dict(type='GOT10kMetric', format_only=True,
                 outfile_prefix=str(tmp_path)), samples)
    # two boxes on a frame
    bad = _frame_sample(name, 1, 3, [0, 0, 4, 4], [0, 0, 4, 4])
    two = InstanceData(bboxes=torch.zeros(2, 4), scores=torch.ones(2))
    bad.pred_track_instances = two
    with pytest.raises(ValueError, match=f"'{name}' frame 1: expected "
                       'exactly one predicted box'):
        _evaluate(dict(type='GOT10kMetric'), [bad])
    with pytest.raises(ValueError, match='outfile_prefix'):
        METRICS.build(dict(type='GOT10kMetric', format_only=True))
    with pytest.raises(ValueError, match='protocol'):
        METRICS.build(dict(type='GOT10kMetric', protocol='vot'))


def test_duplicated_frames_are_dropped():
    rng = np.random.RandomState(5)
    seqs = _dataset(rng, num=2)
    samples = _samples(seqs)
    res = _evaluate(dict(type='GOT10kMetric'), samples + samples[:3])
    exp = _expected(seqs)
    assert res['got10k/AO'] == pytest.approx(exp['AO'], abs=1e-6)


def test_split_across_processes_equals_one_process():
    """Groups from several 'processes' (sequences split between metrics,
    one sequence even split in two) merge to the single-process result."""
    rng = np.random.RandomState(6)
    seqs = _dataset(rng, num=3)
    samples = _samples(seqs)
    parts = [samples[:4], samples[4:9], samples[9:]]
    results = []
    for part in parts:
        metric = METRICS.build(dict(type='GOT10kMetric'))
        metric.process(None, [s.to_dict() for s in part])
        results.extend(metric.results + list(metric._pending.values()))
    merged = METRICS.build(dict(type='GOT10kMetric')).compute_metrics(results)
    exp = _expected(seqs)
    assert merged['AO'] == pytest.approx(exp['AO'], abs=1e-6)


def test_ope_protocol(tmp_path):
    rng = np.random.RandomState(7)
    seqs = _dataset(rng, num=3)
    out = str(tmp_path / 'ope')
    res = _evaluate(dict(type='GOT10kMetric', protocol='ope',
                         outfile_prefix=out), _samples(seqs))
    exp = ope_metrics([s['preds'][0] for s in seqs], [s['gt'] for s in seqs])
    assert res['ope/success_auc'] == pytest.approx(exp['success_auc'],
                                                   abs=1e-6)
    assert res['ope/precision'] == pytest.approx(exp['precision'], abs=1e-6)
    name = seqs[0]['name']
    assert osp.isfile(osp.join(out, f'{name}.txt'))
    assert osp.isfile(osp.join(out, 'times', f'{name}_time.txt'))
    assert osp.isfile(osp.join(out, 'precision_plot.png'))


def _dist_worker(rank, world, port, out_file):
    import torch.distributed as dist
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
        world_size=world)
    try:
        # 2 runs: 6 (sequence, run) groups for len(dataset) = 3 sequences,
        # so a collection cut at len(dataset) would lose groups
        seqs = _dataset(np.random.RandomState(8), num=3, runs=2)
        # TrackImgSampler's split: whole sequences per rank (0, 1 | 2)
        mine = seqs[:2] if rank == 0 else seqs[2:]
        evaluator = Evaluator(METRICS.build(dict(type='GOT10kMetric')))
        evaluator.process(data_samples=_samples(mine))
        res = evaluator.evaluate(3)
        if rank == 0:
            with open(out_file, 'w') as f:
                json.dump(res, f)
    finally:
        dist.destroy_process_group()


def test_two_processes_gloo(tmp_path):
    """Real collection across 2 processes through BaseMetric.evaluate."""
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out_file = str(tmp_path / 'res.json')
    # fork: the children reuse the imported modules (seconds, not 30 s)
    mp.start_processes(
        _dist_worker, args=(2, port, out_file), nprocs=2, join=True,
        start_method='fork')
    res = json.load(open(out_file))
    exp = _expected(_dataset(np.random.RandomState(8), num=3, runs=2))
    for k in ('AO', 'SR50', 'SR75'):
        assert res[f'got10k/{k}'] == pytest.approx(exp[k], abs=1e-6)


# ------------------------------------------------ OPE normalized precision
NORM_THRS = np.linspace(0, 0.5, 51)


def _ref_norm_precision(preds, gts):
    """Naive per-frame loops: frame 0 = gt, NaN-gt frames dropped, error
    sqrt((dcx / w_g)^2 + (dcy / h_g)^2) (inf for a non-finite prediction or
    a non-positive gt size), per-sequence curves (<=) averaged; pytracking
    reports the curve at 0.2 (index 20)."""
    curves = []
    for pred, gt in zip(preds, gts):
        errs = []
        for f in range(len(gt)):
            g = [float(v) for v in gt[f]]
            if any(not math.isfinite(v) for v in g):
                continue
            p = g if f == 0 else [float(v) for v in pred[f]]
            if any(not math.isfinite(v) for v in p) or g[2] <= 0 or \
                    g[3] <= 0:
                errs.append(math.inf)
                continue
            dcx = (p[0] + p[2] / 2) - (g[0] + g[2] / 2)
            dcy = (p[1] + p[3] / 2) - (g[1] + g[3] / 2)
            errs.append(math.sqrt((dcx / g[2])**2 + (dcy / g[3])**2))
        curves.append([sum(e <= t for e in errs) / len(errs)
                       for t in NORM_THRS])
    curve = [sum(c[i] for c in curves) / len(curves)
             for i in range(len(NORM_THRS))]
    return curve[20], curve


def test_ope_norm_precision_steps_at_the_shift():
    """A prediction shifted by 0.1 of the gt width on frames 1..4 (frame 0
    is the given box): norm error 0.1 there, so the curve is 1/5 below 0.1
    and 1 from 0.1 on; the pixel precision is not normalised."""
    gt = [[10.0, 10.0, 40.0, 10.0]] * 5
    pred = [[0, 0, 1, 1]] + [_shifted(gt[0], dx=4.0)] * 4  # 0.1 * 40 px
    res = ope_metrics([pred], [gt], return_curve=True)
    curve = res['norm_precision_curve']
    assert curve.shape == (51, )
    np.testing.assert_allclose(curve[:10], 1 / 5)
    np.testing.assert_allclose(curve[10:], 1.0)
    # pytracking / MMTracking report the curve at 0.2, not its mean
    assert res['norm_precision_pytracking'] == 1.0
    # the same shift along y on a box 10 high is 0.4 of h: step at 0.4
    pred_y = [[0, 0, 1, 1]] + [_shifted(gt[0], dy=4.0)] * 4
    curve_y = ope_metrics([pred_y], [gt], return_curve=True)[
        'norm_precision_curve']
    np.testing.assert_allclose(curve_y[:40], 1 / 5)
    np.testing.assert_allclose(curve_y[40:], 1.0)
    assert ope_metrics([pred_y], [gt])['norm_precision_pytracking'] == \
        pytest.approx(1 / 5)
    # pixel precision: 4 px <= 20 px on every frame
    assert res['precision'] == 1.0
    # normalised by the GROUND TRUTH's size: a prediction half as wide
    # whose center is 4 px right of the gt's (40 wide) has error 0.1
    # (by its own width it would be 0.2)
    narrow = [[0, 0, 1, 1]] + [[24.0, 10.0, 20.0, 10.0]] * 4
    np.testing.assert_allclose(
        ope_metrics([narrow], [gt], return_curve=True)[
            'norm_precision_curve'], curve)


def test_ope_norm_precision_matches_naive_loop():
    rng = np.random.RandomState(11)
    preds, gts = _random_sequences(rng, 7)
    gts[1][2] = np.nan  # LaSOT-style unannotated frame: dropped
    gts[2][1, 2] = 0.0  # zero-width gt on an evaluated frame: a miss
    preds[3][1, 0] = np.nan  # non-finite prediction: a miss
    res = ope_metrics(preds, gts, return_curve=True)
    ref, ref_curve = _ref_norm_precision(preds, gts)
    assert res['norm_precision_pytracking'] == pytest.approx(ref, abs=1e-12)
    np.testing.assert_allclose(res['norm_precision_curve'], ref_curve,
                               atol=1e-12)
    assert (np.diff(res['norm_precision_curve']) >= 0).all()
    # sequences weigh the same (curves averaged), not frames pooled
    two = ope_metrics(
        [[[0, 0, 4, 4]] * 2, [[0, 0, 4, 4]] + [[4, 0, 4, 4]] * 9],
        [[[0, 0, 4, 4]] * 2, [[0, 0, 4, 4]] * 10])
    # seq 1: all errors 0 -> 1; seq 2: 1 of 10 frames (error 1 > 0.5)
    assert two['norm_precision_pytracking'] == pytest.approx((1 + 0.1) / 2)


def test_ope_protocol_norm_precision_and_plot(tmp_path):
    rng = np.random.RandomState(12)
    seqs = _dataset(rng, num=3)
    out = str(tmp_path / 'ope')
    res = _evaluate(dict(type='GOT10kMetric', protocol='ope',
                         outfile_prefix=out), _samples(seqs))
    ref, _ = _ref_norm_precision([s['preds'][0] for s in seqs],
                                 [s['gt'] for s in seqs])
    assert res['ope/norm_precision_pytracking'] == pytest.approx(ref,
                                                                 abs=1e-5)
    assert 0 < ref < 1
    assert osp.getsize(osp.join(out, 'norm_precision_plot.png')) > 1000
    perf = json.load(open(osp.join(out, 'performance.json')))
    assert perf['overall']['norm_precision_pytracking'] == pytest.approx(
        res['ope/norm_precision_pytracking'])
    assert len(perf['overall']['norm_precision_curve']) == 51


# ------------------------------------------------- TrackingNet submission
def _tn_test_samples(name, given, preds, times):
    samples = [
        _frame_sample(name, f, len(preds), preds[f],
                      _xyxy(given) if f == 0 else None, cover=None,
                      time=None if times is None else times[f])
        for f in range(len(preds))
    ]
    for s in samples[1:]:
        s.set_metainfo(dict(bbox=None, cover=None))
    return samples


def test_trackingnet_submission(tmp_path):
    import zipfile
    out = str(tmp_path / 'tn_sub')
    given = [4.0, 5.0, 10.0, 8.0]
    samples = (
        _tn_test_samples('seqB', given,
                         [None, [5, 6, 15.5, 14], [6.25, 7, 16, 15.125]],
                         [0.125, 0.0153, 0.0161]) +
        _tn_test_samples('seqA', [1.0, 2.0, 3.0, 4.0],
                         [None, [2, 3, 5, 7]], [0.5, 0.25]))
    res = _evaluate(
        dict(type='GOT10kMetric', protocol='ope', format_only=True,
             result_format='trackingnet', outfile_prefix=out), samples)
    assert res == {}
    assert sorted(os.listdir(out)) == ['seqA.txt', 'seqB.txt', 'times']
    assert open(osp.join(out, 'seqB.txt')).read().splitlines() == [
        '4.000,5.000,10.000,8.000', '5.000,6.000,10.500,8.000',
        '6.250,7.000,9.750,8.125'
    ]
    assert open(osp.join(out, 'seqA.txt')).read().splitlines() == [
        '1.000,2.000,3.000,4.000', '2.000,3.000,3.000,4.000'
    ]
    # the zip: the <seq>.txt files at its root, nothing else
    with zipfile.ZipFile(out + '.zip') as zf:
        assert sorted(zf.namelist()) == ['seqA.txt', 'seqB.txt']
        for n in ('seqA.txt', 'seqB.txt'):
            assert zf.read(n).decode() == open(osp.join(out, n)).read()
    times = np.loadtxt(osp.join(out, 'times', 'seqB_time.txt'))
    np.testing.assert_allclose(times, [0.125, 0.0153, 0.0161])
    # without measured times: still written (the server takes no times)
    out2 = str(tmp_path / 'tn_untimed')
    _evaluate(
        dict(type='GOT10kMetric', protocol='ope', format_only=True,
             result_format='trackingnet', outfile_prefix=out2),
        _tn_test_samples('seqA', [1.0, 2.0, 3.0, 4.0],
                         [None, [2, 3, 5, 7]], None))
    assert sorted(os.listdir(out2)) == ['seqA.txt']
    with zipfile.ZipFile(out2 + '.zip') as zf:
        assert zf.namelist() == ['seqA.txt']
    # a missing frame is still an error
    with pytest.raises(ValueError, match=r"sequence 'seqB' run 0: frames "
                       r'\[1\]'):
        _evaluate(
            dict(type='GOT10kMetric', protocol='ope', format_only=True,
                 result_format='trackingnet', outfile_prefix=out2),
            [samples[0], samples[2]])


def test_trackingnet_format_with_ground_truth(tmp_path):
    """Evaluation and the submission files together (a train chunk)."""
    import zipfile
    rng = np.random.RandomState(13)
    seqs = _dataset(rng, num=2)
    out = str(tmp_path / 'tn_val')
    res = _evaluate(dict(type='GOT10kMetric', protocol='ope',
                         result_format='trackingnet', outfile_prefix=out),
                    _samples(seqs))
    exp = ope_metrics([s['preds'][0] for s in seqs], [s['gt'] for s in seqs])
    for key in ('norm_precision_pytracking', 'norm_precision_trackingnet'):
        assert res[f'ope/{key}'] == pytest.approx(exp[key], abs=1e-5)
    name = seqs[1]['name']
    boxes = np.loadtxt(osp.join(out, f'{name}.txt'), delimiter=',')
    np.testing.assert_allclose(boxes[0], seqs[1]['gt'][0], atol=1e-3)
    np.testing.assert_allclose(boxes[1:], seqs[1]['preds'][0][1:],
                               atol=2e-3)
    with zipfile.ZipFile(out + '.zip') as zf:
        assert sorted(zf.namelist()) == sorted(f'{s["name"]}.txt'
                                               for s in seqs)


def test_result_format_errors():
    with pytest.raises(ValueError, match="needs protocol='ope'"):
        METRICS.build(dict(type='GOT10kMetric', result_format='trackingnet'))
    with pytest.raises(ValueError, match='result_format must be one of'):
        METRICS.build(dict(type='GOT10kMetric', protocol='ope',
                           result_format='lasot'))
