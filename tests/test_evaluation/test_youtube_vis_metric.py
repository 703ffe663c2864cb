"""YouTubeVISMetricNp2: real AP under numpy 2 against a naive reference."""
import json

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmdet.evaluation.metrics import YouTubeVISMetric
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

import mmstpn  # noqa: F401
from mmstpn.evaluation import YouTubeVISMetricNp2, YTVISevalCompat

H = W = 64
T = 3
CLASSES = ('person', 'dog')
IOU_THRS = np.linspace(.5, .95, 10)
REC_THRS = np.linspace(0, 1, 101)


def square(x: int, y: int, s: int = 20) -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    m[y:y + s, x:x + s] = True
    return m


# ground truth: video -> list of (instance_id, label, masks per frame)
GT = {
    1: [(1, 0, [square(10, 10)] * T), (2, 1, [square(36, 36)] * T)],
    2: [(3, 0, [square(5, 30)] * T)],
}


def rle(mask: np.ndarray) -> dict:
    r = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    r['counts'] = r['counts'].decode()
    return r


def track_sample(video_id: int, preds: list) -> TrackDataSample:
    """A whole video as the test pipeline + a VIS model would give it.

    ``preds``: list of (track_id, label, score, masks per frame)."""
    frames = []
    for t in range(T):
        instances = []
        for inst_id, label, masks in GT[video_id]:
            ys, xs = np.nonzero(masks[t])
            instances.append(
                dict(bbox=[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                     bbox_label=label, ignore_flag=0,
                     instance_id=inst_id, mask=rle(masks[t])))
        ds = DetDataSample(metainfo=dict(
            img_id=video_id * 100 + t, video_id=video_id, frame_id=t,
            ori_shape=(H, W), img_shape=(H, W), ori_video_length=T,
            video_length=T, instances=instances))
        pred = InstanceData()
        n = len(preds)
        pred.masks = torch.from_numpy(
            np.stack([p[3][t] for p in preds]) if n else
            np.zeros((0, H, W), bool))
        pred.bboxes = torch.zeros((n, 4))
        pred.scores = torch.tensor([p[2] for p in preds], dtype=torch.float)
        pred.labels = torch.tensor([p[1] for p in preds], dtype=torch.long)
        pred.instances_id = torch.tensor([p[0] for p in preds],
                                         dtype=torch.long)
        ds.pred_track_instances = pred
        frames.append(ds)
    return TrackDataSample(video_data_samples=frames)


def run_metric(metric_cls, preds: dict) -> dict:
    evaluator = Evaluator(metric_cls())
    evaluator.dataset_meta = dict(classes=CLASSES)
    for video_id in GT:
        evaluator.process([track_sample(video_id, preds[video_id])], {})
    return evaluator.evaluate(len(GT))


def naive_video_ap(preds: dict, iou_thrs) -> float:
    """COCO-style 101-point AP over video tubes, averaged over IoU
    thresholds and the classes that have ground truth (written from the
    definition, greedy matching in score order)."""
    aps = []
    for label in range(len(CLASSES)):
        num_gt = sum(g[1] == label for gts in GT.values() for g in gts)
        if num_gt == 0:
            continue
        dets = sorted(((p[2], vid, np.stack(p[3]))
                       for vid, ps in preds.items() for p in ps
                       if p[1] == label), key=lambda d: -d[0])
        for thr in iou_thrs:
            used, tps = set(), []
            for _, vid, tube in dets:
                best, best_iou = None, thr
                for inst_id, glabel, gmasks in GT[vid]:
                    if glabel != label or inst_id in used:
                        continue
                    g = np.stack(gmasks)
                    iou = (g & tube).sum() / (g | tube).sum()
                    if iou >= best_iou:
                        best, best_iou = inst_id, iou
                tps.append(best is not None)
                if best is not None:
                    used.add(best)
            tp = np.cumsum(tps)
            fp = np.cumsum(np.logical_not(tps))
            rec = tp / num_gt
            prec = tp / np.maximum(tp + fp, 1)
            prec = np.maximum.accumulate(prec[::-1])[::-1]  # envelope
            q = [prec[np.searchsorted(rec, r, side='left')]
                 if np.searchsorted(rec, r, side='left') < len(rec) else 0.
                 for r in REC_THRS]
            aps.append((label, np.mean(q)))
    per_class = {}
    for label, ap in aps:
        per_class.setdefault(label, []).append(ap)
    return float(np.mean([np.mean(v) for v in per_class.values()]))


def gt_as_preds(score=0.9):
    return {
        vid: [(inst_id, label, score, masks)
              for inst_id, label, masks in gts]
        for vid, gts in GT.items()
    }


def test_perfect_predictions_give_ap_1():
    res = run_metric(YouTubeVISMetricNp2, gt_as_preds())
    assert res['youtube_vis/segm_mAP'] == 1.0
    assert res['youtube_vis/segm_mAP_50'] == 1.0
    assert res['youtube_vis/segm_mAP_75'] == 1.0
    # every tube is 20x20 (area 400 < 32**2): only the small range has gt
    assert res['youtube_vis/segm_mAP_s'] == 1.0
    assert res['youtube_vis/segm_mAP_m'] == -1.0


def test_wrong_class_known_value():
    preds = gt_as_preds()
    # video 2's person predicted as a dog, scored above the real dog
    inst_id, _, _, masks = preds[2][0]
    preds[2] = [(inst_id, 1, 0.95, masks)]
    res = run_metric(YouTubeVISMetricNp2, preds)
    # by hand: person recall 1/2 -> 51 of 101 recall points at precision 1;
    # dog: FP (0.95) then TP (0.9) -> precision 1/2 at every recall point
    by_hand = (51 / 101 + 0.5) / 2
    assert naive_video_ap(preds, IOU_THRS) == pytest.approx(by_hand)
    assert res['youtube_vis/segm_mAP'] == pytest.approx(by_hand, abs=5e-4)


def test_partial_overlap_and_ranking_match_naive_reference():
    preds = gt_as_preds()
    # person 1 shifted by 4 px: tube IoU 320/480 = 0.667 (TP up to 0.65)
    preds[1][0] = (1, 0, 0.6, [square(14, 10)] * T)
    # an extra, low-scored person FP in video 2, and a dog track that
    # exists on frames 0-1 only (tube IoU 2/3 with the 3-frame dog)
    dog = [square(36, 36), square(36, 36), np.zeros((H, W), bool)]
    preds[1][1] = (2, 1, 0.8, dog)
    preds[2].append((7, 0, 0.3, [square(40, 2)] * T))
    res = run_metric(YouTubeVISMetricNp2, preds)
    ref = naive_video_ap(preds, IOU_THRS)
    ref50 = naive_video_ap(preds, [0.5])
    ref75 = naive_video_ap(preds, [0.75])
    assert 0 < ref < ref50 and ref75 < ref50  # the case discriminates
    assert res['youtube_vis/segm_mAP'] == pytest.approx(ref, abs=5e-4)
    assert res['youtube_vis/segm_mAP_50'] == pytest.approx(ref50, abs=5e-4)
    assert res['youtube_vis/segm_mAP_75'] == pytest.approx(ref75, abs=5e-4)


@pytest.mark.skipif(
    hasattr(np, 'float'), reason='np.float exists (numpy < 1.24): the stock '
    'class works and the shim is a no-op')
def test_stock_metric_fails_without_the_shim():
    """The failure the shim exists for: if this starts passing, mmdet fixed
    ytviseval and the shim can go."""
    with pytest.raises(AttributeError, match='np.float'):
        run_metric(YouTubeVISMetric, gt_as_preds())


def test_shim_leaves_numpy_and_mmdet_untouched():
    from mmdet.evaluation.functional import YTVISeval, ytviseval
    run_metric(YouTubeVISMetricNp2, gt_as_preds())
    assert ytviseval.np is np
    assert YTVISevalCompat.accumulate is not YTVISeval.accumulate
    assert not hasattr(np, 'float') or np.float is float
    from mmdet.registry import METRICS
    assert METRICS.get('YouTubeVISMetric') is YouTubeVISMetric


def test_with_globals_refuses_unknown_names():
    from mmdet.evaluation.functional import YTVISeval

    from mmstpn.evaluation.functional.ytvis_compat import with_globals
    with pytest.raises(RuntimeError, match='has no global name.*npx'):
        with_globals(YTVISeval.accumulate, npx=None)


def test_format_only_still_writes_the_server_zip(tmp_path):
    import zipfile
    prefix = str(tmp_path / 'res')
    evaluator = Evaluator(
        YouTubeVISMetricNp2(format_only=True, outfile_prefix=prefix))
    evaluator.dataset_meta = dict(classes=CLASSES)
    preds = gt_as_preds()
    for video_id in GT:
        evaluator.process([track_sample(video_id, preds[video_id])], {})
    assert evaluator.evaluate(len(GT)) == {}
    with zipfile.ZipFile(prefix + '.submission_file.zip') as zf:
        results = json.loads(zf.read('results.json'))
    assert len(results) == 3  # one entry per predicted track
    assert {r['video_id'] for r in results} == {1, 2}
