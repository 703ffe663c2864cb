# Copyright (c) OpenMMLab. All rights reserved.
"""Array-level pieces of the ImageNet VID evaluation.

* :func:`compute_motion_ious` - the FGFA / MEGA "motion IoU" of every ground
  truth box (mean IoU with the same instance in the neighbouring frames).
* :class:`VIDAPEvaluator` - box AP at one IoU threshold with COCO semantics
  (pycocotools' greedy matching, crowd and ignore handling and 101-point
  interpolated precision), vectorised, and so that several "settings"
  (motion splits, image subsets) reuse the IoU computation and the global
  sort (its speed: docs/vid.md).
* :func:`vid_devkit_ap` - per-class AP as the ImageNet VID devkit computes
  it (and FGFA / MEGA / SELSA's Python port of it).

Two conventions of "ImageNet VID AP50" exist and differ:

* COCO AP50 (:class:`VIDAPEvaluator`; pycocotools ``COCOeval`` at IoU 0.5,
  i.e. MMTracking's ``CocoVideoMetric`` ``bbox_mAP_50`` and mmstpn's
  ``VIDMetric`` ``bbox_mAP_50``): continuous coordinates (``w = x2 -
  x1``), IoU threshold 0.5 for every box, precision envelope sampled at 101
  recall points, crowd / ignore boxes handled.
* VID devkit AP (:func:`vid_devkit_ap`; the ILSVRC VID devkit and FGFA's
  ``imagenet_vid_eval.py``, used by FGFA / MEGA / SELSA): inclusive pixel
  coordinates (``w = x2 - x1 + 1``), a per-ground-truth IoU threshold
  ``min(0.5, w * h / ((w + 10) * (h + 10)))``, area under the precision
  envelope (VOC all points), no crowd / ignore.

The devkit's threshold is below 0.5 only for small ground truths (``w * h
< 0.5 (w + 10) (h + 10)``, e.g. squares under 25 x 25 pixels); the two AP
formulas (101 recall points vs all points) differ slightly on any set.

All of this is pure numpy/pycocotools and knows nothing about mmengine; the
metric :class:`mmstpn.evaluation.VIDMetric` builds the arrays.
"""
from collections import defaultdict
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np
from mmdet.evaluation.functional import bbox_overlaps
from pycocotools import mask as mask_util

# pycocotools' recall thresholds: 0, 0.01, ..., 1.0 (101 points).
RECALL_THRS = np.linspace(
    .0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)

# Status codes of a detection after matching.
FP, TP, IGNORED = 0, 1, 2


def compute_motion_ious(video_ids: Sequence[Hashable],
                        instance_ids: Sequence[Optional[Hashable]],
                        frame_ids: Sequence[int],
                        bboxes: np.ndarray,
                        window: int = 10,
                        no_neighbour_value: float = 0.0) -> np.ndarray:
    """Motion IoU of every ground-truth box (FGFA / MEGA motion split).

    The motion IoU of the box of instance ``k`` in frame ``t`` of video ``v``
    is the mean IoU between that box and the boxes of the same
    ``(v, k)`` in frames ``t - window ... t + window`` (frame ``t`` itself
    excluded; frames where the instance is not annotated simply do not
    contribute). IoU uses mmdet's ``bbox_overlaps`` in the continuous
    coordinate convention (``w = x2 - x1``), the convention of CocoVID json
    files.

    Args:
        video_ids: Video of each box.
        instance_ids: Instance (track) id of each box; ``None`` means "no
            identity" (e.g. a still image), such a box has no neighbours.
        frame_ids: Frame index of each box inside its video.
        bboxes: (N, 4) boxes, x1y1x2y2.
        window: Half width of the temporal window in frames.
        no_neighbour_value: Value given to a box whose instance is annotated
            in no other frame of the window (see ``VIDMetric`` for why the
            default 0.0, i.e. "fast", is used).

    Returns:
        np.ndarray: (N,) float64 motion IoUs.
    """
    num = len(frame_ids)
    out = np.full(num, float(no_neighbour_value), dtype=np.float64)
    if num == 0:
        return out
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    frame_ids = np.asarray(frame_ids, dtype=np.int64)
    tracks: Dict[Tuple, List[int]] = defaultdict(list)
    for i, (vid, ins) in enumerate(zip(video_ids, instance_ids)):
        if ins is not None:
            tracks[(vid, ins)].append(i)
    chunk = 512
    for inds in tracks.values():
        if len(inds) < 2:
            continue
        inds = np.asarray(inds)
        order = np.argsort(frame_ids[inds], kind='stable')
        inds = inds[order]
        frames = frame_ids[inds]
        boxes = bboxes[inds]
        for s in range(0, len(inds), chunk):
            e = min(s + chunk, len(inds))
            lo = np.searchsorted(frames, frames[s] - window, side='left')
            hi = np.searchsorted(frames, frames[e - 1] + window, side='right')
            ious = bbox_overlaps(boxes[s:e], boxes[lo:hi]).astype(np.float64)
            dist = np.abs(frames[s:e, None] - frames[None, lo:hi])
            valid = (dist <= window) & (dist > 0)
            cnt = valid.sum(axis=1)
            has = cnt > 0
            mean = (ious * valid).sum(axis=1)[has] / cnt[has]
            out[inds[s:e][has]] = mean
    return out


def motion_split_masks(motion_ious: np.ndarray,
                       thrs: Sequence[float] = (0.7, 0.9)
                       ) -> Dict[str, np.ndarray]:
    """Boolean masks of the FGFA motion splits.

    slow: ``m > thrs[1]``; medium: ``thrs[0] <= m <= thrs[1]``; fast:
    ``m < thrs[0]``. Every box falls in exactly one split.
    """
    m = np.asarray(motion_ious, dtype=np.float64)
    lo, hi = thrs
    return dict(slow=m > hi, medium=(m >= lo) & (m <= hi), fast=m < lo)


class VIDAPEvaluator:
    """Box AP at one IoU threshold, COCO semantics, many settings at once.

    The COCO convention of ImageNet VID AP50 (MMTracking's
    ``CocoVideoMetric``), not the VID devkit's (:func:`vid_devkit_ap`).
    Reproduces ``pycocotools.cocoeval.COCOeval`` with ``iouThrs=[thr]``,
    ``areaRng=[all]``, ``maxDets=[inf]`` and ``useCats=1``:

    * IoU from ``pycocotools.mask.iou`` (crowd GTs: intersection over the
      detection's area);
    * per image and class, detections in decreasing score order (ties: input
      order) are matched greedily; a detection prefers the best-IoU
      unmatched non-ignored GT (ties: the later GT) and falls back to an
      ignored one only if no non-ignored GT reaches ``thr``; crowd GTs can
      absorb any number of detections;
    * a detection matched to an ignored GT is neither TP nor FP; unmatched
      detections are FPs;
    * per class, detections of all images sorted by score (ties: image id,
      then order inside the image), precision made monotone and sampled at
      101 recall points; a class without non-ignored GT has no AP.

    The constructor computes IoUs once; :meth:`match` runs the greedy
    matching for one GT-ignore pattern (a motion split);
    :meth:`average_precision` accumulates over an optional image subset.

    Args:
        num_classes: Number of classes (labels are 0 ... num_classes - 1).
        img_keys: (I,) sortable image keys (img ids) used for pycocotools'
            tie-break between images; index ``i`` refers to ``img_keys[i]``.
        det_img, det_labels, det_scores, det_bboxes: detections; image index
            into ``img_keys``, label, score, box xywh (float64).
        gt_img, gt_labels, gt_bboxes, gt_crowd: ground truths; box xywh.
            Their order inside an image is the order pycocotools sees them
            in (json order).
        iou_thr: IoU threshold.
    """

    def __init__(self,
                 num_classes: int,
                 img_keys: Sequence,
                 det_img: np.ndarray,
                 det_labels: np.ndarray,
                 det_scores: np.ndarray,
                 det_bboxes: np.ndarray,
                 gt_img: np.ndarray,
                 gt_labels: np.ndarray,
                 gt_bboxes: np.ndarray,
                 gt_crowd: np.ndarray,
                 iou_thr: float = 0.5) -> None:
        self.num_classes = int(num_classes)
        self.num_imgs = len(img_keys)
        self.iou_thr = min(float(iou_thr), 1 - 1e-10)
        self.det_img = np.asarray(det_img, dtype=np.int64)
        self.det_labels = np.asarray(det_labels, dtype=np.int64)
        self.det_scores = np.asarray(det_scores, dtype=np.float64)
        det_bboxes = np.asarray(det_bboxes, dtype=np.float64).reshape(-1, 4)
        self.gt_img = np.asarray(gt_img, dtype=np.int64)
        self.gt_labels = np.asarray(gt_labels, dtype=np.int64)
        gt_bboxes = np.asarray(gt_bboxes, dtype=np.float64).reshape(-1, 4)
        self.gt_crowd = np.asarray(gt_crowd, dtype=bool)
        num_dets, num_gts = len(self.det_img), len(self.gt_img)

        # rank of each image key in sorted order (pycocotools sorts imgIds)
        key_order = sorted(range(self.num_imgs), key=lambda i: img_keys[i])
        img_rank = np.empty(self.num_imgs, dtype=np.int64)
        img_rank[key_order] = np.arange(self.num_imgs)
        det_pos = np.arange(num_dets)

        # global accumulation order: class, -score, image rank, input order
        if num_dets:
            self._acc_order = np.lexsort(
                (det_pos, img_rank[self.det_img], -self.det_scores,
                 self.det_labels))
            sorted_labels = self.det_labels[self._acc_order]
            self._cls_bounds = np.searchsorted(
                sorted_labels, np.arange(self.num_classes + 1), side='left')
        else:
            self._acc_order = np.zeros(0, dtype=np.int64)
            self._cls_bounds = np.zeros(self.num_classes + 1, dtype=np.int64)

        # matching order inside an image: -score, input order
        det_order = np.lexsort((det_pos, -self.det_scores, self.det_img))
        det_bounds = np.searchsorted(
            self.det_img[det_order], np.arange(self.num_imgs + 1))
        gt_order = np.argsort(self.gt_img, kind='stable')
        gt_bounds = np.searchsorted(
            self.gt_img[gt_order], np.arange(self.num_imgs + 1))

        # per image: candidate detections (IoU >= thr with a same-class GT)
        # in matching order, their GT indices and IoU rows (plain lists, the
        # greedy loop is pure Python over a handful of boxes).
        self._cands = []
        for i in range(self.num_imgs):
            d = det_order[det_bounds[i]:det_bounds[i + 1]]
            g = gt_order[gt_bounds[i]:gt_bounds[i + 1]]
            if len(d) == 0 or len(g) == 0:
                continue
            ious = np.asarray(
                mask_util.iou(det_bboxes[d], gt_bboxes[g],
                              self.gt_crowd[g].astype(np.uint8).tolist()),
                dtype=np.float64).reshape(len(d), len(g))
            ious[self.det_labels[d][:, None] != self.gt_labels[g][None]] = -1
            keep = (ious >= self.iou_thr).any(axis=1)
            if not keep.any():
                continue
            self._cands.append((d[keep].tolist(), g, ious[keep].tolist()))
        self.num_dets, self.num_gts = num_dets, num_gts

    def match(self, gt_ignore: np.ndarray) -> np.ndarray:
        """Greedy matching for one ignore pattern.

        Args:
            gt_ignore: (G,) bool, GTs that are ignored (crowd GTs must be
                ignored too, as in pycocotools).

        Returns:
            np.ndarray: (D,) int8 status of each detection (FP / TP /
            IGNORED).
        """
        gt_ignore = np.asarray(gt_ignore, dtype=bool)
        assert gt_ignore.shape == (self.num_gts, )
        status = np.zeros(self.num_dets, dtype=np.int8)
        thr = self.iou_thr
        for rows, g, ious in self._cands:
            ign = gt_ignore[g].tolist()
            crowd = self.gt_crowd[g].tolist()
            order = [j for j in range(len(g)) if not ign[j]] + \
                [j for j in range(len(g)) if ign[j]]
            matched = [False] * len(g)
            for r, row in zip(rows, ious):
                best, m = thr, -1
                for j in order:
                    if matched[j] and not crowd[j]:
                        continue
                    if m > -1 and not ign[m] and ign[j]:
                        break
                    if row[j] < best:
                        continue
                    best, m = row[j], j
                if m > -1:
                    matched[m] = True
                    status[r] = IGNORED if ign[m] else TP
        return status

    def average_precision(
            self,
            status: np.ndarray,
            gt_ignore: np.ndarray,
            img_mask: Optional[np.ndarray] = None) -> np.ndarray:
        """Per-class AP from a matching.

        Args:
            status: output of :meth:`match` for ``gt_ignore``.
            gt_ignore: the ignore pattern used for ``status``.
            img_mask: (I,) bool, images to evaluate (default all). Matching is
                per image, so restricting images after matching is exact.

        Returns:
            np.ndarray: (num_classes,) AP, NaN for classes without any
            non-ignored GT in the evaluated images.
        """
        gt_keep = ~np.asarray(gt_ignore, dtype=bool)
        det_keep = None
        if img_mask is not None:
            img_mask = np.asarray(img_mask, dtype=bool)
            gt_keep &= img_mask[self.gt_img]
            det_keep = img_mask[self.det_img]
        npig = np.bincount(
            self.gt_labels[gt_keep], minlength=self.num_classes)
        aps = np.full(self.num_classes, np.nan)
        for c in range(self.num_classes):
            if npig[c] == 0:
                continue
            inds = self._acc_order[self._cls_bounds[c]:self._cls_bounds[c +
                                                                         1]]
            if det_keep is not None:
                inds = inds[det_keep[inds]]
            st = status[inds]
            tp = np.cumsum(st == TP).astype(float)
            fp = np.cumsum(st == FP).astype(float)
            rc = tp / npig[c]
            pr = tp / (fp + tp + np.spacing(1))
            if len(pr):
                pr = np.maximum.accumulate(pr[::-1])[::-1]
            q = np.zeros(len(RECALL_THRS))
            pos = np.searchsorted(rc, RECALL_THRS, side='left')
            valid = pos < len(pr)
            q[valid] = pr[pos[valid]]
            aps[c] = q.mean()
        return aps


def mean_ap(aps: np.ndarray) -> float:
    """Mean over classes that have GT; -1 (pycocotools' value) if none."""
    aps = np.asarray(aps, dtype=np.float64)
    valid = ~np.isnan(aps)
    return float(aps[valid].mean()) if valid.any() else -1.0


def vid_devkit_iou_thrs(gt_bboxes: np.ndarray,
                        default_iou_thr: float = 0.5,
                        pixel_tolerance: float = 10.) -> np.ndarray:
    """The VID devkit's per-ground-truth IoU threshold.

    Args:
        gt_bboxes: (G, 4) ``x1, y1, x2, y2`` in the devkit's inclusive pixel
            convention (``w = x2 - x1 + 1``).
        default_iou_thr: The threshold of large objects.
        pixel_tolerance: The devkit's 10 pixels.

    Returns:
        np.ndarray: (G,) ``min(default_iou_thr, w * h / ((w + tol) * (h +
        tol)))``.
    """
    gt = np.asarray(gt_bboxes, dtype=np.float64).reshape(-1, 4)
    w = gt[:, 2] - gt[:, 0] + 1
    h = gt[:, 3] - gt[:, 1] + 1
    return np.minimum(w * h / ((w + pixel_tolerance) * (h + pixel_tolerance)),
                      default_iou_thr)


def vid_devkit_ap(num_classes: int,
                  det_img: np.ndarray,
                  det_labels: np.ndarray,
                  det_scores: np.ndarray,
                  det_bboxes: np.ndarray,
                  gt_img: np.ndarray,
                  gt_labels: np.ndarray,
                  gt_bboxes: np.ndarray,
                  default_iou_thr: float = 0.5,
                  pixel_tolerance: float = 10.) -> np.ndarray:
    """Per-class AP as the ImageNet VID devkit computes it.

    * boxes are ``x1, y1, x2, y2`` in the inclusive pixel convention
      (``w = x2 - x1 + 1``; the devkit's XML ``xmin .. xmax``; a CocoVID
      ``x, y, w, h`` box is ``x, y, x + w, y + h`` there);
    * IoU of inclusive-pixel boxes, and each ground truth has its own
      threshold (:func:`vid_devkit_iou_thrs`);
    * per image, detections in decreasing score order (ties: input order)
      each take the unmatched same-class ground truth of highest IoU among
      those at or above their threshold; a detection without one is a FP;
    * per class, detections of all images in decreasing score order (ties:
      image index, then the order inside the image; the devkit leaves ties
      to an unstable sort), precision = tp / max(tp + fp, eps), recall = tp
      / (ground truths of the class); AP = area under the monotone
      precision envelope (VOC all points, sentinels (0, 0) and (1, 0)).

    There is no crowd / ignore handling (the devkit has none).

    Args:
        num_classes: Number of classes (labels 0 ... num_classes - 1).
        det_img, det_labels, det_scores, det_bboxes: Detections: image
            index, label, score, (D, 4) box.
        gt_img, gt_labels, gt_bboxes: Ground truths: image index, label,
            (G, 4) box.
        default_iou_thr: IoU threshold of large objects (0.5).
        pixel_tolerance: The devkit's 10 pixels.

    Returns:
        np.ndarray: (num_classes,) AP; NaN for a class without ground truth
        (:func:`mean_ap` averages the others).
    """
    det_img = np.asarray(det_img, dtype=np.int64).reshape(-1)
    det_labels = np.asarray(det_labels, dtype=np.int64).reshape(-1)
    det_scores = np.asarray(det_scores, dtype=np.float64).reshape(-1)
    det_bboxes = np.asarray(det_bboxes, dtype=np.float64).reshape(-1, 4)
    gt_img = np.asarray(gt_img, dtype=np.int64).reshape(-1)
    gt_labels = np.asarray(gt_labels, dtype=np.int64).reshape(-1)
    gt_bboxes = np.asarray(gt_bboxes, dtype=np.float64).reshape(-1, 4)
    gt_thrs = vid_devkit_iou_thrs(gt_bboxes, default_iou_thr,
                                  pixel_tolerance)
    tp = np.zeros(len(det_img), dtype=bool)
    det_pos = np.arange(len(det_img))
    gts_of: Dict[int, np.ndarray] = {
        int(i): np.flatnonzero(gt_img == i) for i in np.unique(gt_img)}
    for img in np.unique(det_img):
        g = gts_of.get(int(img))
        if g is None:
            continue
        d = det_pos[det_img == img]
        d = d[np.lexsort((d, -det_scores[d]))]
        ious = bbox_overlaps(
            det_bboxes[d], gt_bboxes[g], use_legacy_coordinate=True)
        ok = (ious >= gt_thrs[g][None]) & \
            (det_labels[d][:, None] == gt_labels[g][None]) & (ious > 0)
        taken = np.zeros(len(g), dtype=bool)
        for r in np.flatnonzero(ok.any(axis=1)):
            cand = ok[r] & ~taken
            if cand.any():
                k = int(np.argmax(np.where(cand, ious[r], -np.inf)))
                taken[k] = True
                tp[d[r]] = True
    order = np.lexsort((det_pos, det_img, -det_scores))
    npos = np.bincount(gt_labels, minlength=num_classes)
    aps = np.full(num_classes, np.nan)
    for c in range(num_classes):
        if npos[c] == 0:
            continue
        hits = tp[order][det_labels[order] == c]
        ctp = np.cumsum(hits).astype(np.float64)
        cfp = np.cumsum(~hits).astype(np.float64)
        rec = ctp / npos[c]
        prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
        mrec = np.concatenate(([0.], rec, [1.]))
        mpre = np.maximum.accumulate(
            np.concatenate(([0.], prec, [0.]))[::-1])[::-1]
        change = np.flatnonzero(mrec[1:] != mrec[:-1])
        aps[c] = float(np.sum((mrec[change + 1] - mrec[change]) *
                              mpre[change + 1]))
    return aps
