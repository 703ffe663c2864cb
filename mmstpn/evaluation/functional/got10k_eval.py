# Copyright (c) OpenMMLab. All rights reserved.
"""Single-object tracking metrics: GOT-10k (AO / SR) and OPE (LaSOT, OTB).

Every box is ``x, y, w, h`` (top-left corner, width, height, continuous
coordinates: the box covers ``[x, x + w) x [y, y + h)``).

GOT-10k, as the official toolkit computes it (``got10k/experiments/
got10k.py`` ``ExperimentGOT10k.report`` and ``got10k/utils/metrics.py``
``rect_iou``):

* both boxes are bounded by the image (w, h) from ``meta_info.ini``'s
  ``resolution``: ``x`` and ``y`` are clipped to ``[0, W]`` / ``[0, H]``
  FIRST, then ``w`` to ``[0, W - x]`` and ``h`` to ``[0, H - y]``. A box
  that hangs over the left / top edge is therefore shifted inside, not cut
  (``x=-10, w=30`` becomes ``x=0, w=30``); one over the right / bottom edge
  is cut. :func:`got10k_clip_boxes` reproduces exactly this.
* IoU = intersection / (union + eps), clipped to [0, 1];
* frame 0 (the given box) is skipped and only frames with ``cover > 0``
  count (``cover.label`` 1..8, i.e. the target is at least partly visible);
* repeated runs: the IoUs of the R runs of a sequence are CONCATENATED
  (``np.concatenate(seq_ious)``), not averaged frame by frame. AO is the
  same either way (every run has the same frames), SR is not: SR is the
  fraction of (run, frame) pairs above the threshold;
* all IoUs of all sequences are pooled: AO = mean, SR_t = mean(IoU > t)
  (strictly greater), success curve = mean(IoU > thr) for
  ``thr = linspace(0, 1, 101)``. The toolkit reports SR at 0.5 only; the
  evaluation server also reports SR0.75, computed the same way;
* speed: mean of ``1 / t`` over every per-frame time ``t`` that is finite
  and > 0 (frame 0's initialisation time included), pooled over sequences;
  -1 when there is none.

Deviation: a predicted box with a NaN / inf coordinate gets IoU 0 (a
failure). The toolkit would propagate the NaN into AO.

OPE (one-pass evaluation), as pytracking (``pytracking/analysis/
extract_results.py`` + ``plot_results.py``), pysot-toolkit and MMTracking
(``mmtrack/evaluation/functional/eval_sot_ope.py``) compute it; the three
agree on these measures (their IoUs are the same continuous-coordinate
IoU, their center offsets the same difference): frame 0's prediction is
replaced by the ground truth and INCLUDED, no image bound, frames whose
ground truth has a NaN are dropped (LaSOT); per sequence, success curve =
mean(IoU > thr) for ``thr = linspace(0, 1, 21)`` and precision curve =
mean(center error <= thr) for ``thr = 0, 1, ..., 50`` pixels; the curves
are averaged over sequences (each sequence weighs the same); ``success_auc``
= mean of the averaged success curve, ``precision`` = its value at 20 px.
Center = ``x + (w - 1) / 2`` as the toolkits (the -1 cancels out in the
error).

Normalized precision comes in two conventions, reported under two keys:

* ``norm_precision_pytracking`` (pytracking, MMTracking; what LaSOT tables
  and most TrackingNet tables computed offline report): per frame the
  center error divided per axis by the GROUND-TRUTH size, ``sqrt(((cx_p -
  cx_g) / w_g) ** 2 + ((cy_p - cy_g) / h_g) ** 2)``, on the frames above;
  per sequence the curve mean(error <= thr) for ``thr = 0, 0.01, ...,
  0.5`` (51 points), averaged over sequences; the reported value is the
  curve AT 0.2 (index 20), not its mean.
* ``norm_precision_trackingnet`` (the TrackingNet devkit ``metrics.py``,
  i.e. the evaluation server): every coordinate of both boxes rounded to
  an integer (``np.round``) first; the same normalised error; per sequence
  a 21-point curve for ``thr = linspace(0, 0.5, 21)``, averaged over
  sequences, and the reported value is its trapezoidal integral over an
  abscissa ``linspace(0, 1, 21)`` (``np.trapz(curve, x=linspace(0, 1,
  21))``). The devkit reports success and precision the same way
  (``success_trackingnet``: 21-point success curve of the rounded boxes'
  inclusive-pixel IoU, integrated; ``precision_trackingnet``: 21-point
  precision curve over ``linspace(0, 50, 21)`` px, integrated, not read
  at 20 px). See :func:`trackingnet_metrics`.

A frame whose ground truth has a non-positive width or height (undefined
normalised error) or whose prediction is not finite counts as a miss at
every threshold (pytracking counts a non-positive ground-truth size as a
hit in normalized precision outside LaSOT; such boxes do not occur on the
evaluated frames of LaSOT / TrackingNet).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

# GOT-10k success-curve thresholds (101 points).
GOT10K_IOU_THRS = np.linspace(0, 1, 101)
# OPE success-curve thresholds (21 points) and center-error thresholds (px).
OPE_IOU_THRS = np.linspace(0, 1, 21)
OPE_CE_THRS = np.arange(0, 51)
OPE_PRECISION_PX = 20
# OPE normalized-precision thresholds of pytracking / MMTracking (0, 0.01,
# ..., 0.5) and the index of 0.2, the value they report.
OPE_NORM_THRS = np.linspace(0, 0.5, 51)
OPE_NORM_PRECISION_AT = 20
# TrackingNet devkit: 21-point curves (IoU, pixels, normalised error), each
# integrated with np.trapz over the abscissa linspace(0, 1, 21).
TRACKINGNET_IOU_THRS = np.linspace(0, 1, 21)
TRACKINGNET_CE_THRS = np.linspace(0, 50, 21)
TRACKINGNET_NORM_THRS = np.linspace(0, 0.5, 21)
TRACKINGNET_X = np.linspace(0, 1, 21)

ArrayLike = Union[np.ndarray, Sequence]


def _seq_name(i: int, seq_names: Optional[Sequence[str]]) -> str:
    return f'sequence {seq_names[i]!r}' if seq_names is not None \
        else f'sequence {i}'


def _as_boxes(boxes: ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f'{what}: expected an (F, 4) array of x, y, w, h '
                         f'boxes, got shape {arr.shape}')
    return arr


def _as_runs(boxes: ArrayLike, what: str) -> np.ndarray:
    """(F, 4) or (R, F, 4) or a list of R (F, 4) arrays -> (R, F, 4)."""
    if isinstance(boxes, (list, tuple)) and len(boxes) and \
            np.ndim(boxes[0]) == 2:
        runs = [_as_boxes(b, f'{what} run {r}') for r, b in enumerate(boxes)]
        if len({len(r) for r in runs}) != 1:
            raise ValueError(f'{what}: runs have different frame counts '
                             f'{[len(r) for r in runs]}')
        return np.stack(runs)
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 2:
        return _as_boxes(arr, what)[None]
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ValueError(f'{what}: expected (F, 4) or (R, F, 4) boxes, got '
                         f'shape {arr.shape}')
    return arr


def got10k_clip_boxes(boxes: np.ndarray,
                      image_size: Sequence[float]) -> np.ndarray:
    """Bound ``x, y, w, h`` boxes by the image as the GOT-10k toolkit does.

    Args:
        boxes (np.ndarray): (..., 4) boxes.
        image_size (Sequence[float]): (width, height).

    Returns:
        np.ndarray: A new array; x, y clipped to [0, W] / [0, H], then w, h
        to [0, W - x] / [0, H - y].
    """
    width, height = float(image_size[0]), float(image_size[1])
    out = np.array(boxes, dtype=np.float64, copy=True)
    out[..., 0] = np.clip(out[..., 0], 0, width)
    out[..., 1] = np.clip(out[..., 1], 0, height)
    out[..., 2] = np.clip(out[..., 2], 0, width - out[..., 0])
    out[..., 3] = np.clip(out[..., 3], 0, height - out[..., 1])
    return out


def box_iou_xywh(boxes1: np.ndarray,
                 boxes2: np.ndarray,
                 image_size: Optional[Sequence[float]] = None) -> np.ndarray:
    """Element-wise IoU of two (..., 4) ``x, y, w, h`` arrays.

    Args:
        boxes1 (np.ndarray): Predictions; rows with a non-finite value get
            IoU 0.
        boxes2 (np.ndarray): Ground truth, same shape.
        image_size (Sequence[float], optional): (width, height): bound both
            with :func:`got10k_clip_boxes` first.

    Returns:
        np.ndarray: (...) IoUs in [0, 1].
    """
    b1 = np.asarray(boxes1, dtype=np.float64)
    b2 = np.asarray(boxes2, dtype=np.float64)
    if b1.shape != b2.shape:
        raise ValueError(f'box arrays differ in shape: {b1.shape} vs '
                         f'{b2.shape}')
    bad = ~np.isfinite(b1).all(-1)
    b1 = np.where(bad[..., None], 0.0, b1)
    if image_size is not None:
        b1 = got10k_clip_boxes(b1, image_size)
        b2 = got10k_clip_boxes(b2, image_size)
    iw = np.maximum(
        np.minimum(b1[..., 0] + b1[..., 2], b2[..., 0] + b2[..., 2]) -
        np.maximum(b1[..., 0], b2[..., 0]), 0)
    ih = np.maximum(
        np.minimum(b1[..., 1] + b1[..., 3], b2[..., 1] + b2[..., 3]) -
        np.maximum(b1[..., 1], b2[..., 1]), 0)
    inter = iw * ih
    union = b1[..., 2] * b1[..., 3] + b2[..., 2] * b2[..., 3] - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        ious = np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)
    # np.where: also for a single (4,) pair, whose IoU is a numpy scalar
    return np.where(bad, 0.0, ious)


def success_curve(ious: ArrayLike,
                  thrs: ArrayLike = GOT10K_IOU_THRS) -> np.ndarray:
    """Fraction of IoUs strictly above each threshold.

    Args:
        ious (ArrayLike): (N,) IoUs.
        thrs (ArrayLike): (T,) thresholds. Defaults to 101 points in [0, 1].

    Returns:
        np.ndarray: (T,) success rates (non-increasing in ``thrs``).
    """
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    thrs = np.asarray(thrs, dtype=np.float64).reshape(-1)
    if not len(ious):
        raise ValueError('success_curve: no IoU to evaluate')
    return np.mean(ious[:, None] > thrs[None, :], axis=0)


def got10k_sequence_ious(pred_boxes: ArrayLike,
                         gt_boxes: ArrayLike,
                         cover: Optional[ArrayLike] = None,
                         image_size: Optional[Sequence[float]] = None,
                         name: str = 'sequence') -> np.ndarray:
    """The IoUs one GOT-10k sequence contributes to the pool.

    Args:
        pred_boxes (ArrayLike): (F, 4) boxes of one run, or (R, F, 4) / a
            list of R (F, 4) arrays for R repeated runs.
        gt_boxes (ArrayLike): (F, 4) ground truth.
        cover (ArrayLike, optional): (F,) ``cover.label`` values; None:
            every frame counts.
        image_size (Sequence[float], optional): (width, height); None: no
            bound.
        name (str): Used in error messages.

    Returns:
        np.ndarray: IoUs of frames 1..F-1 with ``cover > 0``, run after run
        (R * n values).
    """
    runs = _as_runs(pred_boxes, f'{name}: pred_boxes')
    gt = _as_boxes(gt_boxes, f'{name}: gt_boxes')
    if runs.shape[1] != len(gt):
        raise ValueError(f'{name}: {runs.shape[1]} predicted frames but '
                         f'{len(gt)} ground-truth frames')
    if cover is None:
        keep = np.ones(len(gt) - 1, dtype=bool)
    else:
        cover = np.asarray(cover).reshape(-1)
        if len(cover) != len(gt):
            raise ValueError(f'{name}: {len(cover)} cover values but '
                             f'{len(gt)} frames')
        keep = cover[1:] > 0
    if image_size is not None and len(image_size) != 2:
        raise ValueError(f'{name}: image_size must be (width, height), got '
                         f'{image_size!r}')
    gt_eval = gt[1:][keep]
    if not np.isfinite(gt_eval).all():
        frame = 1 + int(np.flatnonzero(keep)[
            np.flatnonzero(~np.isfinite(gt_eval).all(1))[0]])
        raise ValueError(f'{name}: ground truth of frame {frame} is not '
                         'finite but the frame is evaluated (cover > 0)')
    ious = [
        box_iou_xywh(run[1:][keep], gt_eval, image_size) for run in runs
    ]
    return np.concatenate(ious)


def got10k_pooled_ious(pred_boxes: Sequence[ArrayLike],
                       gt_boxes: Sequence[ArrayLike],
                       covers: Optional[Sequence[ArrayLike]] = None,
                       image_sizes: Optional[Sequence[Sequence[float]]] = None,
                       seq_names: Optional[Sequence[str]] = None
                       ) -> List[np.ndarray]:
    """Per-sequence IoU arrays (see :func:`got10k_sequence_ious`).

    Args: see :func:`got10k_metrics`.

    Returns:
        list[np.ndarray]: One array per sequence.
    """
    num = len(gt_boxes)
    if len(pred_boxes) != num:
        raise ValueError(f'{len(pred_boxes)} predicted sequences but {num} '
                         'ground-truth sequences')
    for what, seq in (('covers', covers), ('image_sizes', image_sizes),
                      ('seq_names', seq_names)):
        if seq is not None and len(seq) != num:
            raise ValueError(f'{what} has {len(seq)} entries for {num} '
                             'sequences')
    return [
        got10k_sequence_ious(
            pred_boxes[i], gt_boxes[i],
            covers[i] if covers is not None else None,
            image_sizes[i] if image_sizes is not None else None,
            _seq_name(i, seq_names)) for i in range(num)
    ]


def got10k_metrics(pred_boxes: Sequence[ArrayLike],
                   gt_boxes: Sequence[ArrayLike],
                   covers: Optional[Sequence[ArrayLike]] = None,
                   image_sizes: Optional[Sequence[Sequence[float]]] = None,
                   seq_names: Optional[Sequence[str]] = None,
                   return_curve: bool = False) -> Dict[str, object]:
    """AO, SR0.5 and SR0.75 exactly as the GOT-10k toolkit (module doc).

    Args:
        pred_boxes (Sequence): Per sequence (F, 4) ``x, y, w, h`` boxes, or
            (R, F, 4) / a list of R (F, 4) for R repeated runs. Frame 0 is
            ignored.
        gt_boxes (Sequence): Per sequence (F, 4) ground truth.
        covers (Sequence, optional): Per sequence (F,) ``cover.label``
            values; None: every frame counts.
        image_sizes (Sequence, optional): Per sequence (width, height);
            None: no bound.
        seq_names (Sequence[str], optional): Names for error messages.
        return_curve (bool): Add ``success_curve`` (101 values).

    Returns:
        dict: ``AO``, ``SR50``, ``SR75`` (fractions in [0, 1], floats) and,
        when asked, ``success_curve`` (np.ndarray).
    """
    per_seq = got10k_pooled_ious(pred_boxes, gt_boxes, covers, image_sizes,
                                 seq_names)
    ious = np.concatenate(per_seq) if per_seq else np.zeros(0)
    if not len(ious):
        raise ValueError('got10k_metrics: no frame to evaluate (every '
                         'sequence has one frame or cover 0 everywhere)')
    out: Dict[str, object] = dict(
        AO=float(np.mean(ious)),
        SR50=float(np.mean(ious > 0.5)),
        SR75=float(np.mean(ious > 0.75)))
    if return_curve:
        out['success_curve'] = success_curve(ious, GOT10K_IOU_THRS)
    return out


def got10k_speed(times: Union[ArrayLike, Sequence[ArrayLike]]) -> float:
    """Toolkit speed: mean of 1/t over the finite times t > 0 (seconds).

    Args:
        times: One array or a list of per-sequence arrays (any shape, e.g.
            (F, R) for R runs); they are pooled.

    Returns:
        float: Frames per second, -1.0 when no time is usable.
    """
    if isinstance(times, (list, tuple)):
        parts = [np.asarray(t, dtype=np.float64).reshape(-1) for t in times]
        flat = np.concatenate(parts) if parts else np.zeros(0)
    else:
        flat = np.asarray(times, dtype=np.float64).reshape(-1)
    flat = flat[np.isfinite(flat)]
    flat = flat[flat > 0]
    return float(np.mean(1.0 / flat)) if len(flat) else -1.0


def center_errors(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Euclidean distance of the box centers (toolkit: ``x + (w - 1)/2``);
    inf for a row of ``boxes1`` with a non-finite value."""
    b1 = np.asarray(boxes1, dtype=np.float64)
    b2 = np.asarray(boxes2, dtype=np.float64)
    c1 = b1[..., :2] + (b1[..., 2:] - 1) / 2
    c2 = b2[..., :2] + (b2[..., 2:] - 1) / 2
    err = np.sqrt(np.sum((c1 - c2)**2, axis=-1))
    err[~np.isfinite(b1).all(-1)] = np.inf
    return err


def normalized_center_errors(boxes1: np.ndarray,
                             boxes2: np.ndarray) -> np.ndarray:
    """Center error normalised by the ground truth's size (module doc).

    Args:
        boxes1 (np.ndarray): (..., 4) predicted ``x, y, w, h``.
        boxes2 (np.ndarray): (..., 4) ground truth, same shape.

    Returns:
        np.ndarray: (...) ``sqrt((dx / w_g) ** 2 + (dy / h_g) ** 2)``; inf
        where the prediction is not finite or ``w_g`` / ``h_g`` <= 0.
    """
    b1 = np.asarray(boxes1, dtype=np.float64)
    b2 = np.asarray(boxes2, dtype=np.float64)
    if b1.shape != b2.shape:
        raise ValueError(f'box arrays differ in shape: {b1.shape} vs '
                         f'{b2.shape}')
    # centers x + w / 2 (the toolkit's -1 of ``x + (w - 1) / 2`` cancels);
    # subtracted as centers so that equal boxes give exactly 0
    diff = (b1[..., :2] + b1[..., 2:] / 2) - (b2[..., :2] + b2[..., 2:] / 2)
    size = b2[..., 2:]
    bad = ~np.isfinite(b1).all(-1) | (size <= 0).any(-1) | \
        ~np.isfinite(size).all(-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        err = np.sqrt(np.sum((diff / np.where(size > 0, size, 1.0))**2,
                             axis=-1))
    return np.where(bad, np.inf, err)


def _ope_frames(pred_boxes: Sequence[ArrayLike],
                gt_boxes: Sequence[ArrayLike],
                seq_names: Optional[Sequence[str]] = None
                ) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Per sequence the (predicted, ground-truth) ``x, y, w, h`` boxes OPE
    evaluates: frame 0's prediction replaced by the ground truth, frames
    whose ground truth has a NaN dropped."""
    num = len(gt_boxes)
    if len(pred_boxes) != num:
        raise ValueError(f'{len(pred_boxes)} predicted sequences but {num} '
                         'ground-truth sequences')
    if not num:
        raise ValueError('ope_metrics: no sequence to evaluate')
    out = []
    for i in range(num):
        name = _seq_name(i, seq_names)
        pred = _as_boxes(pred_boxes[i], f'{name}: pred_boxes').copy()
        gt = _as_boxes(gt_boxes[i], f'{name}: gt_boxes')
        if len(pred) != len(gt):
            raise ValueError(f'{name}: {len(pred)} predicted frames but '
                             f'{len(gt)} ground-truth frames')
        pred[0] = gt[0]
        valid = np.isfinite(gt).all(1)
        if not valid.any():
            raise ValueError(f'{name}: no frame with a finite ground truth')
        out.append((pred[valid], gt[valid]))
    return out


def _hits_at_most(errors: np.ndarray, thrs: np.ndarray) -> np.ndarray:
    """mean(errors <= thr) for each threshold (NaN / inf: a miss)."""
    with np.errstate(invalid='ignore'):
        return np.mean(errors[:, None] <= thrs[None, :], axis=0)


def _trapezoid(curve: np.ndarray, x: np.ndarray) -> float:
    """The trapezoidal rule (``np.trapz``, renamed ``np.trapezoid`` in
    numpy 2)."""
    return float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(x)))


def ope_metrics(pred_boxes: Sequence[ArrayLike],
                gt_boxes: Sequence[ArrayLike],
                seq_names: Optional[Sequence[str]] = None,
                return_curve: bool = False) -> Dict[str, object]:
    """OPE measures of pytracking / pysot / MMTracking and of the
    TrackingNet devkit (module doc).

    Args:
        pred_boxes (Sequence): Per sequence (F, 4) ``x, y, w, h``; frame 0
            is replaced by the ground truth.
        gt_boxes (Sequence): Per sequence (F, 4); rows with a NaN (LaSOT's
            unannotated frames) are not evaluated.
        seq_names (Sequence[str], optional): Names for error messages.
        return_curve (bool): Add ``success_curve`` (21),
            ``precision_curve`` (51, thresholds 0..50 px),
            ``norm_precision_curve`` (51, thresholds linspace(0, 0.5, 51))
            and the TrackingNet devkit's curves (see
            :func:`trackingnet_metrics`).

    Returns:
        dict: All in [0, 1]. pytracking / pysot / MMTracking:
        ``success_auc`` (mean of the 21-point success curve),
        ``precision`` (at 20 px), ``norm_precision_pytracking`` (the
        normalized-precision curve at 0.2), ``SR50`` (success rate at IoU
        0.5, the success curve's middle point). TrackingNet devkit:
        ``success_trackingnet``, ``precision_trackingnet``,
        ``norm_precision_trackingnet``.
    """
    seqs = _ope_frames(pred_boxes, gt_boxes, seq_names)
    succ, prec, norm = [], [], []
    for pred, gt in seqs:
        succ.append(success_curve(box_iou_xywh(pred, gt), OPE_IOU_THRS))
        prec.append(_hits_at_most(center_errors(pred, gt), OPE_CE_THRS))
        norm.append(
            _hits_at_most(normalized_center_errors(pred, gt), OPE_NORM_THRS))
    succ_curve = np.mean(succ, axis=0)
    prec_curve = np.mean(prec, axis=0)
    norm_curve = np.mean(norm, axis=0)
    out: Dict[str, object] = dict(
        success_auc=float(np.mean(succ_curve)),
        precision=float(prec_curve[OPE_PRECISION_PX]),
        norm_precision_pytracking=float(norm_curve[OPE_NORM_PRECISION_AT]),
        SR50=float(succ_curve[len(OPE_IOU_THRS) // 2]))
    if return_curve:
        out['success_curve'] = succ_curve
        out['precision_curve'] = prec_curve
        out['norm_precision_curve'] = norm_curve
    out.update(_trackingnet_from_frames(seqs, return_curve))
    return out


def trackingnet_metrics(pred_boxes: Sequence[ArrayLike],
                        gt_boxes: Sequence[ArrayLike],
                        seq_names: Optional[Sequence[str]] = None,
                        return_curve: bool = False) -> Dict[str, object]:
    """Success, precision and normalized precision as the TrackingNet
    devkit's ``metrics.py`` (the evaluation server) computes them.

    On the OPE frames (frame 0 = the ground truth; NaN ground-truth rows
    dropped, TrackingNet has none), per sequence:

    * every ``x, y, w, h`` of both boxes rounded to an integer
      (``np.round``, half to even);
    * IoU of inclusive-pixel boxes (``x2 = x + w - 1``; intersection width
      ``max(0, min(x2) - max(x) + 1)``; areas ``w * h``); an empty union
      is a miss;
    * center distance and the distance normalised per axis by the rounded
      ground truth's w / h (a zero size: a miss);
    * a prediction with a non-finite value: a miss everywhere;
    * 21-point curves: mean(IoU > t), t = linspace(0, 1, 21); mean(dist
      <= t), t = linspace(0, 50, 21) px; mean(norm dist <= t), t =
      linspace(0, 0.5, 21).

    The curves are averaged over sequences and each reported value is the
    curve's trapezoidal integral over the abscissa linspace(0, 1, 21)
    (``np.trapz(curve, x=linspace(0, 1, 21))``), a fraction in [0, 1].

    Args: see :func:`ope_metrics`.

    Returns:
        dict: ``success_trackingnet``, ``precision_trackingnet``,
        ``norm_precision_trackingnet`` and, when asked, their 21-point
        curves (``*_curve_trackingnet``).
    """
    return _trackingnet_from_frames(
        _ope_frames(pred_boxes, gt_boxes, seq_names), return_curve)


def _trackingnet_from_frames(seqs: List[Tuple[np.ndarray, np.ndarray]],
                             return_curve: bool) -> Dict[str, object]:
    curves: Dict[str, List[np.ndarray]] = dict(
        success=[], precision=[], norm_precision=[])
    for pred, gt in seqs:
        p, g = np.round(pred), np.round(gt)
        bad = ~np.isfinite(p).all(1)
        p = np.where(bad[:, None], 0.0, p)
        # inclusive pixels: x2 = x + w - 1, width = x2 - x + 1
        inter = np.prod(
            np.clip(
                np.minimum(p[:, :2] + p[:, 2:], g[:, :2] + g[:, 2:]) -
                np.maximum(p[:, :2], g[:, :2]), 0, None),
            axis=1)
        union = np.prod(p[:, 2:], axis=1) + np.prod(g[:, 2:], axis=1) - inter
        diff = (p[:, :2] + p[:, 2:] / 2) - (g[:, :2] + g[:, 2:] / 2)
        size = g[:, 2:]
        with np.errstate(invalid='ignore', divide='ignore'):
            iou = np.where(union > 0, inter / np.where(union > 0, union, 1),
                           np.nan)
            norm = np.sqrt(np.sum((diff / np.where(size != 0, size, 1))**2,
                                  axis=1))
        dist = np.sqrt(np.sum(diff**2, axis=1))
        iou[bad] = np.nan
        dist[bad] = np.inf
        norm[bad | (size == 0).any(1)] = np.inf
        with np.errstate(invalid='ignore'):
            curves['success'].append(
                np.mean(iou[:, None] > TRACKINGNET_IOU_THRS[None], axis=0))
        curves['precision'].append(_hits_at_most(dist, TRACKINGNET_CE_THRS))
        curves['norm_precision'].append(
            _hits_at_most(norm, TRACKINGNET_NORM_THRS))
    out: Dict[str, object] = {}
    for key, per_seq in curves.items():
        curve = np.mean(per_seq, axis=0)
        out[f'{key}_trackingnet'] = _trapezoid(curve, TRACKINGNET_X)
        if return_curve:
            out[f'{key}_curve_trackingnet'] = curve
    return out
