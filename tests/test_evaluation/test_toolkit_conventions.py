"""Each tracking / VID metric against an independent implementation of the
formula of the toolkit it is named after (written here from the toolkits'
published code: pysot-toolkit, pytracking ``analysis/extract_results.py`` +
``plot_results.py``, MMTracking ``eval_sot_ope.py``, the TrackingNet
devkit ``metrics.py``, the ImageNet VID devkit / FGFA
``imagenet_vid_eval.py``), plus hand-made cases where the conventions
differ."""
import math

import numpy as np
import pytest

from mmstpn.evaluation.functional import (VIDAPEvaluator, mean_ap,
                                          ope_metrics, trackingnet_metrics,
                                          vid_devkit_ap)


# --------------------------------------------------------- OPE references
def _iou_xywh(p, g):
    iw = max(0.0, min(p[0] + p[2], g[0] + g[2]) - max(p[0], g[0]))
    ih = max(0.0, min(p[1] + p[3], g[1] + g[3]) - max(p[1], g[1]))
    inter = iw * ih
    return min(1.0, max(0.0, inter / (p[2] * p[3] + g[2] * g[3] - inter)))


def ref_pysot(preds, gts):
    """pysot-toolkit OPE: frame 0 = gt; success over np.arange(0, 1.05,
    0.05) with '>', per-sequence curves averaged, AUC = their mean;
    precision: center x + (w - 1) / 2, '<=' 0..50 px, value at 20 px."""
    iou_thrs = np.arange(0, 1.05, 0.05)
    succ, prec = [], []
    for pred, gt in zip(preds, gts):
        n = len(gt)
        ious, dists = [], []
        for f in range(n):
            p = gt[f] if f == 0 else pred[f]
            g = gt[f]
            ious.append(_iou_xywh(p, g))
            cp = (p[0] + (p[2] - 1) / 2, p[1] + (p[3] - 1) / 2)
            cg = (g[0] + (g[2] - 1) / 2, g[1] + (g[3] - 1) / 2)
            dists.append(math.hypot(cp[0] - cg[0], cp[1] - cg[1]))
        succ.append([sum(i > t for i in ious) / n for t in iou_thrs])
        prec.append([sum(d <= t for d in dists) / n for t in range(51)])
    return dict(success_auc=float(np.mean(succ)),
                precision=float(np.mean([p[20] for p in prec])),
                SR50=float(np.mean([s[10] for s in succ])))


def ref_pytracking_norm_precision(preds, gts):
    """pytracking: centers xy + 0.5 (wh - 1), both divided by the gt's wh,
    error = their distance; thresholds arange(0, 51) / 100, '<='; curves
    averaged over sequences; reported value at index 20 (0.2)."""
    thrs = [t / 100 for t in range(51)]
    curves = []
    for pred, gt in zip(preds, gts):
        errs = []
        for f in range(len(gt)):
            p = gt[f] if f == 0 else pred[f]
            g = gt[f]
            cp = [(p[i] + 0.5 * (p[i + 2] - 1)) / g[i + 2] for i in (0, 1)]
            cg = [(g[i] + 0.5 * (g[i + 2] - 1)) / g[i + 2] for i in (0, 1)]
            errs.append(math.hypot(cp[0] - cg[0], cp[1] - cg[1]))
        curves.append([sum(e <= t for e in errs) / len(errs) for t in thrs])
    return float(np.mean(curves, axis=0)[20])


def ref_mmtracking(preds, gts):
    """MMTracking eval_sot_ope: x1y1x2y2 boxes, centers 0.5 (x1 + x2),
    normalised by (gt wh + 1e-16); success '>' over arange(0, 1.05, 0.05),
    precision / norm precision '<=' over 0..50 and 0..0.5 at index 20."""
    succ, prec, norm = [], [], []
    for pred, gt in zip(preds, gts):
        n = len(gt)
        p_all = [gt[0]] + list(pred[1:])
        ious, d, nd = [], [], []
        for p, g in zip(p_all, gt):
            px1, py1, px2, py2 = p[0], p[1], p[0] + p[2], p[1] + p[3]
            gx1, gy1, gx2, gy2 = g[0], g[1], g[0] + g[2], g[1] + g[3]
            iw = max(0.0, min(px2, gx2) - max(px1, gx1))
            ih = max(0.0, min(py2, gy2) - max(py1, gy1))
            inter = iw * ih
            ious.append(inter / ((px2 - px1) * (py2 - py1) +
                                 (gx2 - gx1) * (gy2 - gy1) - inter))
            cp = (0.5 * (px1 + px2), 0.5 * (py1 + py2))
            cg = (0.5 * (gx1 + gx2), 0.5 * (gy1 + gy2))
            d.append(math.hypot(cp[0] - cg[0], cp[1] - cg[1]))
            wh = (gx2 - gx1 + 1e-16, gy2 - gy1 + 1e-16)
            nd.append(math.hypot(cp[0] / wh[0] - cg[0] / wh[0],
                                 cp[1] / wh[1] - cg[1] / wh[1]))
        succ.append([sum(i > t for i in ious) / n
                     for t in np.arange(0, 1.05, 0.05)])
        prec.append([sum(x <= t for x in d) / n for t in range(51)])
        norm.append([sum(x <= t / 100 for x in nd) / n for t in range(51)])
    return dict(success_auc=float(np.mean(succ)),
                precision=float(np.mean(prec, axis=0)[20]),
                norm_precision=float(np.mean(norm, axis=0)[20]))


def ref_trackingnet(preds, gts):
    """TrackingNet devkit metrics.py: every coordinate rounded, frame 0 =
    gt, inclusive-pixel IoU (x2 = x1 + w - 1, inter = x2 - x1 + 1), centers
    x1 + (w + 1) / 2, 21-point curves, averaged over sequences, each
    integrated with the trapezoidal rule over linspace(0, 1, 21)."""
    n_pts = 21
    xs = [i / (n_pts - 1) for i in range(n_pts)]
    s_thr = np.linspace(0, 1, n_pts)
    p_thr = np.linspace(0, 50, n_pts)
    n_thr = np.linspace(0, 0.5, n_pts)
    tot = dict(success=np.zeros(n_pts), precision=np.zeros(n_pts),
               norm_precision=np.zeros(n_pts))
    for pred, gt in zip(preds, gts):
        ious, dist, ndist = [], [], []
        for f in range(len(gt)):
            g = [round(v) for v in gt[f]]
            p = g if f == 0 else [round(v) for v in pred[f]]
            ax2, ay2 = g[0] + g[2] - 1, g[1] + g[3] - 1
            sx2, sy2 = p[0] + p[2] - 1, p[1] + p[3] - 1
            iw = max(0, min(ax2, sx2) - max(g[0], p[0]) + 1)
            ih = max(0, min(ay2, sy2) - max(g[1], p[1]) + 1)
            inter = iw * ih
            union = g[2] * g[3] + p[2] * p[3] - inter
            ious.append(inter / union if union else float('nan'))
            acx, acy = g[0] + (g[2] + 1) / 2, g[1] + (g[3] + 1) / 2
            scx, scy = p[0] + (p[2] + 1) / 2, p[1] + (p[3] + 1) / 2
            dist.append(math.sqrt((acx - scx)**2 + (acy - scy)**2))
            ndist.append(math.sqrt(((acx - scx) / g[2])**2 +
                                   ((acy - scy) / g[3])**2))
        n = len(gt)
        tot['success'] += [sum(i > t for i in ious) / n for t in s_thr]
        tot['precision'] += [sum(x <= t for x in dist) / n for t in p_thr]
        tot['norm_precision'] += [sum(x <= t for x in ndist) / n
                                  for t in n_thr]
    out = {}
    for key, curve in tot.items():
        curve = curve / len(gts)
        out[f'{key}_trackingnet'] = sum(
            (curve[i] + curve[i + 1]) / 2 * (xs[i + 1] - xs[i])
            for i in range(n_pts - 1))
    return out


def _sequences(seed, num=6):
    rng = np.random.RandomState(seed)
    preds, gts = [], []
    for _ in range(num):
        n = rng.randint(5, 40)
        xy = rng.uniform(0, 300, (n, 2))
        wh = rng.uniform(8, 90, (n, 2))
        gt = np.concatenate([xy, wh], 1)
        # small jitter, then a few far misses and size errors
        pred = gt + rng.normal(0, 1, (n, 4)) * [6, 6, 4, 4]
        far = rng.rand(n) < 0.2
        pred[far, :2] += rng.uniform(30, 120, (far.sum(), 2))
        pred[:, 2:] = np.maximum(pred[:, 2:], 1.0)
        preds.append(pred)
        gts.append(gt)
    return preds, gts


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_ope_matches_pysot_pytracking_and_mmtracking(seed):
    preds, gts = _sequences(seed)
    res = ope_metrics(preds, gts)
    pysot = ref_pysot(preds, gts)
    mmtrack = ref_mmtracking(preds, gts)
    for key in ('success_auc', 'precision', 'SR50'):
        assert res[key] == pytest.approx(pysot[key], abs=1e-12), key
    assert res['success_auc'] == pytest.approx(mmtrack['success_auc'],
                                               abs=1e-12)
    assert res['precision'] == pytest.approx(mmtrack['precision'], abs=1e-12)
    ref = ref_pytracking_norm_precision(preds, gts)
    assert res['norm_precision_pytracking'] == pytest.approx(ref, abs=1e-12)
    assert res['norm_precision_pytracking'] == pytest.approx(
        mmtrack['norm_precision'], abs=1e-12)
    assert 0.1 < res['norm_precision_pytracking'] < 0.95  # not degenerate


@pytest.mark.parametrize('seed', [0, 3, 4])
def test_trackingnet_matches_the_devkit(seed):
    preds, gts = _sequences(seed)
    res = trackingnet_metrics(preds, gts)
    ref = ref_trackingnet(preds, gts)
    for key, value in ref.items():
        assert res[key] == pytest.approx(value, abs=1e-12), key
    # ope_metrics reports the same values under the same keys
    ope = ope_metrics(preds, gts)
    for key, value in ref.items():
        assert ope[key] == pytest.approx(value, abs=1e-12), key


def test_the_two_normalized_precisions_differ_by_design():
    """gt 10 x 10; frame 1 shifted 3 px (normalised error 0.3, IoU 7/13);
    frame 2 exact."""
    gt = [[0.0, 0.0, 10.0, 10.0]] * 3
    pred = [[0, 0, 1, 1], [3.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]]
    res = ope_metrics([pred], [gt])
    # pytracking / MMTracking: the curve at 0.2, where frame 1 misses
    assert res['norm_precision_pytracking'] == pytest.approx(2 / 3)
    # TrackingNet: 2/3 up to 0.275, 1 from 0.3: 0.05 * (11 * 2/3 + 5/6 + 8)
    assert res['norm_precision_trackingnet'] == pytest.approx(0.05 * 97 / 6)
    # success: IoU 1, 7/13, 1 -> mean of the 21-point curve vs its integral
    assert res['success_auc'] == pytest.approx(17 / 21)
    assert res['success_trackingnet'] == pytest.approx(0.05 * 16.5)
    # precision: 3 px <= 20 px; TrackingNet integrates 0, 2.5, ..., 50 px
    assert res['precision'] == 1.0
    assert res['precision_trackingnet'] == pytest.approx(0.05 * 19.5)


def test_trackingnet_rounds_the_boxes():
    """0.4 px offsets vanish in the devkit (rounded), not in pytracking."""
    gt = [[10.0, 10.0, 4.0, 4.0]] * 2
    pred = [gt[0], [10.4, 10.4, 4.4, 3.6]]
    res = ope_metrics([pred], [gt])
    assert res['norm_precision_trackingnet'] == 1.0
    assert res['success_trackingnet'] == pytest.approx(0.975)
    assert res['success_auc'] < 20 / 21  # IoU < 1 on frame 1 unrounded


# ----------------------------------------------------------- VID devkit
def ref_vid_devkit(dets, gts, num_classes):
    """FGFA imagenet_vid_eval.py: per image, detections by score; each
    takes the unmatched same-class gt of max IoU among those with IoU >=
    its own threshold (inclusive pixels); global sort; VOC AP."""
    tp = {}
    for img in {d[0] for d in dets}:
        mine = sorted([d for d in dets if d[0] == img],
                      key=lambda d: -d[2])
        g = [x for x in gts if x[0] == img]
        used = [False] * len(g)
        for d in mine:
            best, k = -1.0, -1
            for j, (_, glab, gb) in enumerate(g):
                if glab != d[1] or used[j]:
                    continue
                bb = d[3]
                iw = min(bb[2], gb[2]) - max(bb[0], gb[0]) + 1
                ih = min(bb[3], gb[3]) - max(bb[1], gb[1]) + 1
                if iw > 0 and ih > 0:
                    ua = ((bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1) +
                          (gb[2] - gb[0] + 1) * (gb[3] - gb[1] + 1) - iw * ih)
                    ov = iw * ih / ua
                    gw, gh = gb[2] - gb[0] + 1, gb[3] - gb[1] + 1
                    thr = min(0.5, gw * gh / ((gw + 10) * (gh + 10)))
                    if ov >= thr and ov > best:
                        best, k = ov, j
            if k >= 0:
                used[k] = True
            tp[id(d)] = k >= 0
    aps = []
    for c in range(num_classes):
        npos = sum(1 for x in gts if x[1] == c)
        if not npos:
            aps.append(float('nan'))
            continue
        mine = sorted([d for d in dets if d[1] == c], key=lambda d: -d[2])
        ctp = cfp = 0
        rec, prec = [], []
        for d in mine:
            ctp += tp[id(d)]
            cfp += not tp[id(d)]
            rec.append(ctp / npos)
            prec.append(ctp / max(ctp + cfp, np.finfo(float).eps))
        mrec = [0.0] + rec + [1.0]
        mpre = [0.0] + prec + [0.0]
        for i in range(len(mpre) - 2, -1, -1):
            mpre[i] = max(mpre[i], mpre[i + 1])
        aps.append(sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]
                       for i in range(len(mrec) - 1)
                       if mrec[i + 1] != mrec[i]))
    return np.array(aps)


def _arrays(dets, gts):
    return dict(
        det_img=[d[0] for d in dets], det_labels=[d[1] for d in dets],
        det_scores=[d[2] for d in dets], det_bboxes=[d[3] for d in dets],
        gt_img=[g[0] for g in gts], gt_labels=[g[1] for g in gts],
        gt_bboxes=[g[2] for g in gts])


def test_vid_devkit_small_object_case_and_coco_ap50():
    """A 10 x 10 px gt (devkit threshold 100 / 400 = 0.25) with a detection
    of IoU 1/3: a TP for the devkit, a FP for COCO AP50."""
    gts = [(0, 0, [0, 0, 9, 9]), (1, 0, [0, 0, 99, 99])]
    dets = [(0, 0, 0.9, [5, 0, 14, 9]),  # IoU 50 / 150 (inclusive pixels)
            (1, 0, 0.8, [0, 0, 99, 99]),  # exact
            (1, 0, 0.7, [0, 0, 99, 99])]  # duplicate: FP
    aps = vid_devkit_ap(1, **_arrays(dets, gts))
    # TP, TP, FP: recall 0.5, 1, 1 at precision 1, 1, 2/3 -> AP 1
    assert aps[0] == pytest.approx(1.0)
    np.testing.assert_allclose(aps, ref_vid_devkit(dets, gts, 1))
    # COCO AP50 (VIDMetric's bbox_mAP_50, MMTracking's CocoVideoMetric):
    # the same boxes as CocoVID x, y, w, h (x2 = x + w): FP, TP, FP ->
    # precision 1/2 up to recall 1/2: 51 of the 101 recall points
    xywh = [[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in
            [d[3] for d in dets]]
    gxywh = [[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in
             [g[2] for g in gts]]
    coco = VIDAPEvaluator(1, [0, 1], [0, 1, 1], [0, 0, 0], [0.9, 0.8, 0.7],
                          xywh, [0, 1], [0, 0], gxywh, [False, False])
    ignore = np.zeros(2, dtype=bool)
    ap50 = coco.average_precision(coco.match(ignore), ignore)
    assert ap50[0] == pytest.approx(0.5 * 51 / 101)


@pytest.mark.parametrize('seed', [0, 1])
def test_vid_devkit_matches_an_independent_loop(seed):
    rng = np.random.RandomState(seed)
    dets, gts = [], []
    for img in range(12):
        for _ in range(rng.randint(0, 4)):
            x, y = rng.randint(0, 200, 2)
            w, h = rng.randint(4, 80, 2)  # small and large objects
            lab = rng.randint(3)
            gts.append((img, lab, [x, y, x + w - 1, y + h - 1]))
            for _ in range(rng.randint(0, 3)):
                j = rng.normal(0, 0.25, 4) * [w, h, w, h]
                dets.append((img, int(rng.randint(3) if rng.rand() < 0.2
                                      else lab), float(rng.rand()),
                             [x + j[0], y + j[1], x + w - 1 + j[2],
                              y + h - 1 + j[3]]))
        for _ in range(rng.randint(0, 2)):  # background detections
            x, y = rng.randint(0, 200, 2)
            dets.append((img, int(rng.randint(3)), float(rng.rand()),
                         [x, y, x + 20, y + 20]))
    aps = vid_devkit_ap(3, **_arrays(dets, gts))
    ref = ref_vid_devkit(dets, gts, 3)
    np.testing.assert_allclose(aps, ref, atol=1e-12)
    assert 0 < mean_ap(aps) < 1


# ------------------------------------------------------------ MOT: trackeval
MOT_T = 6


def _mot_case():
    """Ground truth (frame, id, x, y, w, h, conf, class, visibility) and
    predictions (frame, id, x, y, w, h, score), MOTChallenge conventions
    (frames 1-based): an exact track, an id switch, a late and partly
    missed track, a false positive, a prediction on a distractor
    (class 7, removed by trackeval's preprocessing) and a zero-marked
    (conf 0, ignored) ground truth."""
    gt, pred = [], []
    for f in range(1, MOT_T + 1):
        gt.append((f, 1, 10 + 5 * f, 20, 40, 80, 1, 1, 1.0))
        gt.append((f, 2, 200, 30 + 3 * f, 30, 70, 1, 1, 0.8))
        if f >= 3:
            gt.append((f, 3, 120, 150, 25, 60, 1, 1, 0.6))
        gt.append((f, 4, 300, 200, 20, 50, 0, 1, 1.0))  # zero-marked
        if f <= 3:
            gt.append((f, 5, 400, 40, 30, 60, 1, 7, 1.0))  # distractor
        pred.append((f, 10, 10 + 5 * f + 1.25, 21, 40, 78.5, 0.9))
        pred.append((f, 20 if f <= 3 else 30, 200.5, 30 + 3 * f, 30, 70,
                     0.8))
        if f >= 4:
            pred.append((f, 40, 121, 152.25, 24, 58, 0.7))
        if 2 <= f <= 5:
            pred.append((f, 50, 500, 300, 30, 60, 0.6))  # false positive
        if f <= 3:
            pred.append((f, 60, 401, 41, 30, 60, 0.5))  # on the distractor
        pred.append((f, 70, 300, 200, 20, 50, 0.4))  # on the zero-marked gt
    return gt, pred


def _trackeval_direct(tmp_path, gt, pred):
    """trackeval's own MOTChallenge layout and evaluator, no mmdet."""
    import trackeval
    seq = 'MOT17-90-TOY'
    gt_root = tmp_path / 'gt'
    seq_dir = gt_root / 'MOT17-train' / seq
    (seq_dir / 'gt').mkdir(parents=True)
    (seq_dir / 'seqinfo.ini').write_text(
        f'[Sequence]\nname={seq}\nimDir=img1\nframeRate=30\n'
        f'seqLength={MOT_T}\nimWidth=640\nimHeight=480\nimExt=.jpg\n')
    (seq_dir / 'gt' / 'gt.txt').write_text(''.join(
        f'{f},{i},{x},{y},{w},{h},{c},{k},{v}\n'
        for f, i, x, y, w, h, c, k, v in gt))
    (gt_root / 'seqmaps').mkdir()
    (gt_root / 'seqmaps' / 'MOT17-train.txt').write_text(f'name\n{seq}\n')
    trk = tmp_path / 'trackers' / 'MOT17-train' / 'mine' / 'data'
    trk.mkdir(parents=True)
    (trk / f'{seq}.txt').write_text(''.join(
        f'{f},{i},{x},{y},{w},{h},{s},-1,-1,-1\n'
        for f, i, x, y, w, h, s in pred))
    eval_cfg = trackeval.Evaluator.get_default_eval_config()
    eval_cfg.update(USE_PARALLEL=False, PRINT_RESULTS=False,
                    PRINT_CONFIG=False, TIME_PROGRESS=False,
                    OUTPUT_SUMMARY=False, OUTPUT_DETAILED=False,
                    PLOT_CURVES=False, PRINT_ONLY_COMBINED=True)
    mot = trackeval.datasets.MotChallenge2DBox
    data_cfg = mot.get_default_dataset_config()
    data_cfg.update(GT_FOLDER=str(gt_root),
                    TRACKERS_FOLDER=str(tmp_path / 'trackers'),
                    BENCHMARK='MOT17', SPLIT_TO_EVAL='train',
                    TRACKERS_TO_EVAL=['mine'], PRINT_CONFIG=False)
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(),
               trackeval.metrics.Identity()]
    res, _ = trackeval.Evaluator(eval_cfg).evaluate(
        [mot(data_cfg)], metrics)
    res = res['MotChallenge2DBox']['mine']['COMBINED_SEQ']['pedestrian']
    return dict(HOTA=float(np.mean(res['HOTA']['HOTA'])),
                DetA=float(np.mean(res['HOTA']['DetA'])),
                AssA=float(np.mean(res['HOTA']['AssA'])),
                MOTA=float(res['CLEAR']['MOTA']),
                MOTP=float(res['CLEAR']['MOTP']),
                IDSW=float(res['CLEAR']['IDSW']),
                FP=float(res['CLEAR']['CLR_FP']),
                FN=float(res['CLEAR']['CLR_FN']),
                IDF1=float(res['Identity']['IDF1']))


def _mot_metric(gt, pred):
    """mmdet's MOTChallengeMetric (trackeval inside) on data samples of the
    same case, as a video dataset gives them."""
    import torch
    from mmdet.structures import DetDataSample, TrackDataSample
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData

    import mmstpn  # noqa: F401
    frames = []
    for t in range(MOT_T):
        f = t + 1
        instances = [
            dict(bbox=[x, y, x + w, y + h], instance_id=i, mot_conf=c,
                 category_id=k, visibility=v, bbox_label=0, ignore_flag=0)
            for ff, i, x, y, w, h, c, k, v in gt if ff == f
        ]
        ds = DetDataSample(metainfo=dict(
            img_path=f'data/MOT17/train/MOT17-90-TOY/img1/{f:06d}.jpg',
            frame_id=t, ori_video_length=MOT_T, video_length=MOT_T,
            instances=instances, img_id=t))
        mine = [p for p in pred if p[0] == f]
        ds.pred_track_instances = InstanceData(
            bboxes=torch.tensor([[x, y, x + w, y + h]
                                 for _, _, x, y, w, h, _ in mine],
                                dtype=torch.float64),
            scores=torch.tensor([p[6] for p in mine]),
            labels=torch.zeros(len(mine), dtype=torch.long),
            instances_id=torch.tensor([p[1] for p in mine]))
        frames.append(ds)
    evaluator = Evaluator(dict(type='MOTChallengeMetric',
                               metric=['HOTA', 'CLEAR', 'Identity']))
    evaluator.dataset_meta = dict(classes=('pedestrian', ))
    evaluator.process([TrackDataSample(video_data_samples=frames)], {})
    res = evaluator.evaluate(1)
    return {k.split('/')[-1]: v for k, v in res.items()}


def test_mot_metric_matches_trackeval_run_directly(tmp_path):
    gt, pred = _mot_case()
    ref = _trackeval_direct(tmp_path, gt, pred)
    res = _mot_metric(gt, pred)
    # not a trivial case: an id switch, misses and a false positive
    assert ref['IDSW'] >= 1 and ref['FN'] >= 1 and ref['FP'] >= 6
    assert 0.3 < ref['HOTA'] < 0.95
    for key, value in ref.items():
        assert res[key] == pytest.approx(value, abs=1e-9), key
