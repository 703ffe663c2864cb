# Copyright (c) OpenMMLab. All rights reserved.
"""ImageNet VID evaluation: box AP50 over all frames plus the motion split."""
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import mmengine
import numpy as np
import torch
from mmengine.dist import all_gather_object
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.utils import mkdir_or_exist
from terminaltables import AsciiTable

from mmdet.registry import METRICS
from mmstpn.datasets.annotation_rules import (NOT_GT, box_kinds,
                                              check_cocovid_layout,
                                              check_frame_ids, load_json)
from ..functional import (VIDAPEvaluator, compute_motion_ious, mean_ap,
                          motion_split_masks, vid_devkit_ap)

MOTION_SPLITS = ('slow', 'medium', 'fast')


def _to_numpy(x: Any, dtype=None) -> np.ndarray:
    """Tensor / BaseBoxes / list / ndarray -> ndarray."""
    if hasattr(x, 'tensor') and not isinstance(x, torch.Tensor):
        x = x.tensor  # mmdet BaseBoxes
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    return x.astype(dtype) if dtype is not None else x


def _xyxy2xywh(bboxes: np.ndarray) -> np.ndarray:
    b = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, 2] -= b[:, 0]
    b[:, 3] -= b[:, 1]
    return b


def _xywh2xyxy(bboxes: np.ndarray) -> np.ndarray:
    b = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, 2] += b[:, 0]
    b[:, 3] += b[:, 1]
    return b


@METRICS.register_module()
class VIDMetric(BaseMetric):
    """Video object detection metric of ImageNet VID (FGFA / MEGA protocol).

    Reports box AP at IoU 0.5 over all evaluated frames and its motion split:

    * ``bbox_mAP_50``: mean over the classes that have (non-ignored) ground
      truth of the per-class AP. Matching and AP are those of pycocotools'
      ``COCOeval`` with ``iouThrs=[0.5]``, area range "all" and no cap on the
      number of detections: per image and class, detections in decreasing
      score order are greedily matched to the best-IoU free GT; AP is the
      101-point interpolated precision. The result equals ``COCOeval``'s
      ``stats``-style AP at IoU 0.5 (tested), but the implementation is
      vectorised and shares IoUs between splits (its speed: docs/vid.md).
    * ``bbox_mAP_50_slow`` / ``_medium`` / ``_fast``: the same AP where the
      ground truths of the other two splits are *ignored*: a detection
      matched to them is neither TP nor FP (pycocotools' ignore handling;
      a detection prefers a non-ignored GT of the split). The split of a GT
      is decided by its motion IoU ``m`` (see below): slow ``m > 0.9``,
      medium ``0.7 <= m <= 0.9``, fast ``m < 0.7`` (``motion_thrs``).
      Note: FGFA's original script charges unmatched detections on images
      with mixed splits a fractional FP; here they are plain FPs (the COCO
      rule), which is what "ignore the other splits' GTs" means elsewhere
      in OpenMMLab.
    * ``bbox_mAP_50_<name>`` for every image subset (``subset_img_ids``,
      ``subset_flags``, ``subset_complements``): all-motion AP over only the
      frames of the subset.
    * ``bbox_AP50_<class>`` for every class when ``classwise=True`` (NaN for
      a class without GT), and a per-class table in the log.

    A value of -1 means "no ground truth to evaluate" (pycocotools'
    convention), e.g. ``bbox_mAP_50_slow`` on a set without slow objects.

    Motion IoU: the motion IoU of instance ``k`` in frame ``t`` is the mean
    IoU of its box with the boxes of the same ``instance_id`` in frames
    ``t - 10 ... t + 10`` of the same video (``t`` itself excluded; frames
    where the instance is not annotated do not count). It is computed from
    all annotations of the ann file (not only the evaluated frames) when
    ``ann_file`` is given, otherwise from the gathered ground truth of the
    evaluated frames. **An instance annotated in no other frame of its
    window (or without ``instance_id``) gets motion IoU 0.0, i.e. it is
    "fast"** (``no_neighbour_motion_iou``). This follows FGFA's evaluation
    script, which reads an empty motion-IoU entry as 0, and is the
    defensible choice: such an object appears for a single frame or is
    annotated intermittently, there is no evidence that it is static, and
    counting it as "slow" would move the hardest objects into the easiest
    split. Set ``no_neighbour_motion_iou=1.0`` to count them as slow.

    Ground truth, as in mmdet's ``CocoMetric``:

    * ``ann_file`` given (CocoVID json: ``videos``, ``images`` with
      ``video_id`` / ``frame_id``, ``annotations`` with ``instance_id``,
      ``bbox`` xywh, ``category_id``, optional ``iscrowd`` / ``ignore``):
      ground truth comes from the file, chosen by the rule of
      :mod:`mmstpn.datasets.annotation_rules` that the video datasets apply
      too: NaN / inf boxes and ``category_id`` s missing from
      ``categories`` (unless in ``drop_category_ids``) are errors; boxes
      below 1 pixel, outside their image or of ``drop_category_ids`` are not
      ground truth (counted in the log); ``iscrowd`` boxes are ignored and
      matched with COCO's crowd IoU (intersection over the detection's
      area, may absorb many detections); ``ignore`` boxes are ignored with
      the ordinary IoU. Categories are mapped to ``dataset_meta['classes']``
      by name; annotations of other categories are not ground truth.
      ``frame_id`` must be an int.
    * no ``ann_file``: ground truth comes from each sample, either the raw
      ``instances`` list (``bbox`` xyxy, ``bbox_label``, ``ignore_flag``,
      ``instance_id``) or ``gt_instances`` (``bboxes``, ``labels``, optional
      ``instances_ids``) plus ``ignored_instances`` (treated like crowd, as
      mmdet does with ``ignore_flag``); boxes must be in the original image
      scale. ``video_id`` / ``frame_id`` come from the sample's metainfo;
      without them or without instance ids the motion split is skipped with
      a warning.

    Only the frames that were predicted are evaluated (as ``CocoMetric``).

    Distributed evaluation: results are gathered with mmengine's
    ``collect_results``; unlike ``BaseMetric.evaluate`` the gathered list is
    not cut at ``len(dataset)`` (a video dataset's length counts videos, and
    video samplers give ranks unequal numbers of frames); instead all
    results of all ranks are kept and frames predicted twice (padding of
    ``DefaultSampler``) are de-duplicated by ``img_id``. The result does not
    depend on how frames were spread over ranks or on their order.

    Args:
        ann_file (str, optional): CocoVID annotation file. Defaults to None.
        metric (str): Only ``'bbox'``.
        classwise (bool): Report per-class AP50. Defaults to False.
        eval_motion (bool): Report the motion split. Defaults to True.
        motion_window (int): Half width of the motion-IoU window in frames.
            Defaults to 10.
        motion_thrs (tuple[float, float]): (fast/medium, medium/slow)
            thresholds. Defaults to (0.7, 0.9).
        no_neighbour_motion_iou (float): Motion IoU of an instance with no
            neighbour in its window. Defaults to 0.0 (fast).
        subset_img_ids (dict[str, Iterable], optional): name -> img ids;
            reports ``bbox_mAP_50_<name>`` over those frames.
        subset_flags (Sequence[str], optional): boolean image fields of the
            ann file (e.g. ``['deteriorated']``; without ann file: metainfo
            keys of the samples); reports ``bbox_mAP_50_<field>`` over the
            frames whose field is true. A frame without the field is not in
            the subset.
        subset_complements (dict[str, str], optional): name -> name of a
            subset of ``subset_img_ids`` / ``subset_flags``; reports
            ``bbox_mAP_50_<name>`` over the evaluated frames that are NOT in
            that subset, e.g. ``dict(clean='deteriorated')`` (a frame
            without the field counts as clean).
        format_only (bool): Only dump the results to
            ``<outfile_prefix>.bbox.json`` and return ``{}``.
        outfile_prefix (str, optional): Dump the results (COCO results
            format plus ``video_id`` / ``frame_id``) to
            ``<outfile_prefix>.bbox.json``; required by ``format_only``.
        backend_args (dict, optional): File backend arguments of the ann
            file.
        drop_category_ids (Sequence[int]): Category ids of the ann file
            whose boxes are not ground truth (set it as the dataset's
            option of the same name). Defaults to ().
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        collect_dir (str, optional): Directory for cpu collection.
        prefix (str, optional): Metric name prefix. Defaults to 'vid'.

    Raises:
        KeyError: ``metric`` other than ``'bbox'``.
        ValueError: Bad ``motion_thrs``, unknown or clashing subset names,
            or ``format_only`` without ``outfile_prefix``.

    See docs/vid.md.
    """
    default_prefix: Optional[str] = 'vid'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, List[str]] = 'bbox',
                 classwise: bool = False,
                 eval_motion: bool = True,
                 motion_window: int = 10,
                 motion_thrs: Sequence[float] = (0.7, 0.9),
                 no_neighbour_motion_iou: float = 0.0,
                 subset_img_ids: Optional[Dict[str, Iterable]] = None,
                 subset_flags: Optional[Sequence[str]] = None,
                 subset_complements: Optional[Dict[str, str]] = None,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 drop_category_ids: Sequence[int] = (),
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None,
                 prefix: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        metrics = metric if isinstance(metric, (list, tuple)) else [metric]
        if list(metrics) != ['bbox']:
            raise KeyError(f"VIDMetric supports metric='bbox' only, got "
                           f'{metric!r}')
        self.classwise = classwise
        self.eval_motion = eval_motion
        self.motion_window = int(motion_window)
        self.motion_thrs = tuple(float(t) for t in motion_thrs)
        if len(self.motion_thrs) != 2 or \
                not self.motion_thrs[0] <= self.motion_thrs[1]:
            raise ValueError('motion_thrs must be (low, high) with low <= '
                             f'high, got {motion_thrs}')
        self.no_neighbour_motion_iou = float(no_neighbour_motion_iou)
        self.subset_img_ids = {
            str(k): set(v)
            for k, v in (subset_img_ids or {}).items()
        }
        self.subset_flags = [str(f) for f in (subset_flags or [])]
        self.subset_complements = {
            str(k): str(v)
            for k, v in (subset_complements or {}).items()
        }
        base_names = list(self.subset_img_ids) + self.subset_flags
        unknown = {
            k: v
            for k, v in self.subset_complements.items()
            if v not in base_names
        }
        if unknown:
            raise ValueError(
                f'subset_complements {unknown}: each value must name a '
                f'subset of subset_img_ids / subset_flags ({base_names})')
        names = base_names + list(self.subset_complements)
        bad = [n for n in names if n in MOTION_SPLITS]
        if bad or len(set(names)) != len(names):
            raise ValueError('subset names must be unique and differ from '
                             f'{MOTION_SPLITS}, got {names}')
        self.format_only = format_only
        if format_only and outfile_prefix is None:
            raise ValueError('outfile_prefix must be set when format_only '
                             'is True')
        self.outfile_prefix = outfile_prefix
        self.backend_args = backend_args
        self.drop_category_ids = tuple(drop_category_ids)
        self.ann_file = ann_file
        self._img_info: Optional[Dict[Any, dict]] = None
        if ann_file is not None:
            self._load_ann_file(ann_file)

    # ------------------------------------------------------------------ #
    # annotation file
    # ------------------------------------------------------------------ #
    def _load_ann_file(self, ann_file: str) -> None:
        data = load_json(ann_file, self.backend_args)
        check_cocovid_layout(data, ann_file)
        check_frame_ids(data['images'], ann_file)
        kinds, boxes = box_kinds(data, ann_file, None,
                                 self.drop_category_ids)
        self._categories = list(data.get('categories', []))
        self._img_info = {}
        for img in data['images']:
            img_id = img['id']
            if img_id in self._img_info:
                raise ValueError(f'duplicate image id {img_id!r} in '
                                 f'{ann_file}')
            video_id = img.get('video_id')
            self._img_info[img_id] = dict(
                video_id=video_id,
                # an image without video is a one-frame video of its own
                video_key=('video', video_id) if video_id is not None else
                ('image', img_id),
                frame_id=img.get('frame_id', 0),
                flags={f: bool(img.get(f, False))
                       for f in self.subset_flags},
                anns=[])
        for f in self.subset_flags:
            if not any(info['flags'][f] for info in self._img_info.values()):
                MMLogger.get_current_instance().warning(
                    f'VIDMetric: no image of {ann_file} has a true '
                    f'"{f}" field; bbox_mAP_50_{f} will be -1.')
        keep = ~np.isin(kinds, NOT_GT)
        anns = [a for a, k in zip(data.get('annotations') or [], keep) if k]
        boxes = boxes[keep]
        num = len(anns)
        self._ann_cat = np.zeros(num, dtype=np.int64)
        self._ann_bbox = np.zeros((num, 4), dtype=np.float64)
        self._ann_crowd = np.zeros(num, dtype=bool)
        self._ann_ignore = np.zeros(num, dtype=bool)
        self._ann_instance: List[Any] = [None] * num
        self._ann_video: List[Any] = [None] * num
        self._ann_frame = np.zeros(num, dtype=np.int64)
        for i, ann in enumerate(anns):
            img_id = ann['image_id']
            if img_id not in self._img_info:
                raise ValueError(f'annotation {ann.get("id")!r} of '
                                 f'{ann_file} refers to unknown image '
                                 f'{img_id!r}')
            info = self._img_info[img_id]
            info['anns'].append(i)
            self._ann_cat[i] = ann['category_id']
            self._ann_bbox[i] = boxes[i]
            self._ann_crowd[i] = bool(ann.get('iscrowd', False))
            self._ann_ignore[i] = bool(ann.get('ignore', False))
            self._ann_instance[i] = ann.get('instance_id')
            self._ann_video[i] = info['video_key']
            self._ann_frame[i] = info['frame_id']
        self._ann_motion: Optional[np.ndarray] = None

    def _ann_motion_ious(self) -> np.ndarray:
        if self._ann_motion is None:
            self._ann_motion = compute_motion_ious(
                self._ann_video, self._ann_instance, self._ann_frame,
                _xywh2xyxy(self._ann_bbox), self.motion_window,
                self.no_neighbour_motion_iou)
        return self._ann_motion

    def _cat_ids(self, classes: Sequence[str]) -> List[int]:
        if self._img_info is None:
            return list(range(len(classes)))
        name2id: Dict[str, Any] = {}
        for cat in self._categories:
            if cat['name'] in name2id:
                raise ValueError(f'category name {cat["name"]!r} appears '
                                 f'twice in {self.ann_file}')
            name2id[cat['name']] = cat['id']
        missing = [c for c in classes if c not in name2id]
        if missing:
            raise ValueError(f'classes {missing} of dataset_meta are not '
                             f'categories of {self.ann_file}')
        return [name2id[c] for c in classes]

    # ------------------------------------------------------------------ #
    # processing
    # ------------------------------------------------------------------ #
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the predictions (and, without ann file, the GT) of a batch.

        Args:
            data_batch: unused.
            data_samples: ``DetDataSample.to_dict()`` of the key frames.
        """
        for ds in data_samples:
            if 'img_id' not in ds:
                raise KeyError('VIDMetric needs `img_id` in the metainfo of '
                               'every data sample')
            img_id = ds['img_id']
            if self._img_info is not None and img_id not in self._img_info:
                raise KeyError(
                    f'VIDMetric: prediction for img_id={img_id!r} '
                    f'(img_path={ds.get("img_path")!r}) but no image with '
                    f'this id in the annotation file {self.ann_file}')
            pred = ds['pred_instances']
            result = dict(
                img_id=img_id,
                bboxes=_to_numpy(pred['bboxes'], np.float32).reshape(-1, 4),
                scores=_to_numpy(pred['scores'], np.float32).reshape(-1),
                labels=_to_numpy(pred['labels'], np.int64).reshape(-1),
                video_id=ds.get('video_id'),
                frame_id=ds.get('frame_id'))
            if self._img_info is None:
                if not self.format_only:
                    result['gt'] = self._parse_sample_gt(ds)
                result['flags'] = {
                    f: bool(ds.get(f, False))
                    for f in self.subset_flags
                }
            self.results.append(result)

    @staticmethod
    def _parse_sample_gt(ds: dict) -> dict:
        if 'instances' in ds:
            inst = ds['instances']
            bboxes = np.array([i['bbox'] for i in inst],
                              dtype=np.float64).reshape(-1, 4)
            labels = np.array([i['bbox_label'] for i in inst],
                              dtype=np.int64)
            crowd = np.array([bool(i.get('ignore_flag', 0)) for i in inst],
                             dtype=bool)
            ids = [i.get('instance_id') for i in inst]
        elif 'gt_instances' in ds:
            parts = [(ds['gt_instances'], False)]
            if ds.get('ignored_instances') is not None:
                parts.append((ds['ignored_instances'], True))
            bboxes, labels, crowd, ids = [], [], [], []
            for part, is_crowd in parts:
                if 'bboxes' not in part:
                    continue
                b = _to_numpy(part['bboxes'], np.float64).reshape(-1, 4)
                bboxes.append(b)
                labels.append(_to_numpy(part['labels'], np.int64).reshape(-1))
                crowd.append(np.full(len(b), is_crowd))
                if 'instances_ids' in part:
                    ids += _to_numpy(part['instances_ids']).tolist()
                else:
                    ids += [None] * len(b)
            bboxes = np.concatenate(bboxes) if bboxes else np.zeros((0, 4))
            labels = np.concatenate(labels) if labels else np.zeros(
                0, np.int64)
            crowd = np.concatenate(crowd) if crowd else np.zeros(0, bool)
        else:
            raise KeyError(
                'VIDMetric without ann_file needs the ground truth in each '
                'sample (`instances` or `gt_instances`); img_id='
                f'{ds.get("img_id")!r} has neither')
        return dict(
            bboxes=bboxes, labels=labels, crowd=crowd, instance_ids=ids)

    def evaluate(self, size: int) -> dict:
        """Gather every rank's results without cutting them at ``size``.

        ``size`` (``len(dataset)``) counts videos for video datasets and
        ranks may hold unequal numbers of frames, so the number of results
        of all ranks is used instead; duplicates are removed by ``img_id`` in
        :meth:`compute_metrics`.

        Args:
            size (int): ``len(dataset)``; the results are not cut at it.

        Returns:
            dict[str, float]: The metrics (see :meth:`compute_metrics`),
            broadcast to all ranks.
        """
        total = sum(all_gather_object(len(self.results)))
        return super().evaluate(total)

    # ------------------------------------------------------------------ #
    # metrics
    # ------------------------------------------------------------------ #
    def results2json(self, results: Sequence[dict], cat_ids: Sequence[int],
                     outfile_prefix: str) -> str:
        """Dump results in the COCO results format plus ``video_id`` /
        ``frame_id``.

        Args:
            results (Sequence[dict]): Per frame ``img_id``, ``bboxes`` (xyxy,
                original image), ``scores``, ``labels``.
            cat_ids (Sequence[int]): Category id of each label.
            outfile_prefix (str): The file is
                ``<outfile_prefix>.bbox.json``.

        Returns:
            str: The file name.
        """
        out = []
        for res in results:
            info = self._img_info.get(res['img_id']) \
                if self._img_info is not None else None
            video_id = info['video_id'] if info else res.get('video_id')
            frame_id = info['frame_id'] if info else res.get('frame_id')
            xywh = _xyxy2xywh(res['bboxes']).tolist()
            for box, score, label in zip(xywh, res['scores'].tolist(),
                                         res['labels'].tolist()):
                item = dict(
                    image_id=res['img_id'],
                    category_id=cat_ids[label],
                    bbox=box,
                    score=score)
                if video_id is not None:
                    item['video_id'] = video_id
                if frame_id is not None:
                    item['frame_id'] = int(frame_id)
                out.append(item)
        filename = f'{outfile_prefix}.bbox.json'
        dirname = osp.dirname(osp.abspath(filename))
        mkdir_or_exist(dirname)
        mmengine.dump(out, filename)
        return filename

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the metrics of the class docstring from all frames.

        Args:
            results (list): The gathered per-frame results (frames predicted
                twice are kept once, by ``img_id``).

        Returns:
            dict[str, float]: ``bbox_mAP_50``, the motion split, subsets
            and, with ``classwise``, per-class AP50; ``{}`` with
            ``format_only``.

        Raises:
            ValueError: ``dataset_meta`` without ``classes``, or a predicted
                label out of range.
        """
        logger = MMLogger.get_current_instance()
        if not self.dataset_meta or 'classes' not in self.dataset_meta:
            raise ValueError('VIDMetric needs dataset_meta["classes"]')
        classes = list(self.dataset_meta['classes'])
        num_classes = len(classes)

        # de-duplicate frames (distributed padding), keep the first copy
        seen, uniq = set(), []
        for res in results:
            if res['img_id'] not in seen:
                seen.add(res['img_id'])
                uniq.append(res)
        if len(uniq) != len(results):
            logger.info(f'VIDMetric: dropped {len(results) - len(uniq)} '
                        'duplicate frame results')
        results = uniq
        for res in results:
            lab = res['labels']
            if len(lab) and (lab.min() < 0 or lab.max() >= num_classes):
                raise ValueError(
                    f'prediction label out of range [0, {num_classes}) for '
                    f'img_id={res["img_id"]!r}: {lab.min()}..{lab.max()}')
        cat_ids = self._cat_ids(classes)

        if self.outfile_prefix is not None:
            filename = self.results2json(results, cat_ids,
                                         self.outfile_prefix)
            logger.info(f'VIDMetric: results written to {filename}')
        if self.format_only:
            return OrderedDict()

        img_keys = [res['img_id'] for res in results]
        num_imgs = len(img_keys)
        # ----- detections
        counts = [len(res['labels']) for res in results]
        det_img = np.repeat(np.arange(num_imgs), counts)
        if sum(counts):
            det_bboxes = _xyxy2xywh(
                np.concatenate([res['bboxes'] for res in results]))
            det_scores = np.concatenate(
                [res['scores'] for res in results]).astype(np.float64)
            det_labels = np.concatenate([res['labels'] for res in results])
        else:
            det_bboxes = np.zeros((0, 4))
            det_scores = np.zeros(0)
            det_labels = np.zeros(0, np.int64)

        # ----- ground truth
        motion_ok = self.eval_motion
        if self._img_info is not None:
            cat2label = {c: i for i, c in enumerate(cat_ids)}
            ann_label = np.array(
                [cat2label.get(c, -1) for c in self._ann_cat.tolist()],
                dtype=np.int64)
            per_img = [
                np.asarray(self._img_info[k]['anns'], dtype=np.int64)
                for k in img_keys
            ]
            ann_inds = np.concatenate(per_img) if per_img else np.zeros(
                0, np.int64)
            gt_img = np.repeat(np.arange(num_imgs), [len(p) for p in per_img])
            keep = ann_label[ann_inds] >= 0
            ann_inds, gt_img = ann_inds[keep], gt_img[keep]
            gt_labels = ann_label[ann_inds]
            gt_bboxes = self._ann_bbox[ann_inds]
            gt_crowd = self._ann_crowd[ann_inds]
            gt_ignore = self._ann_ignore[ann_inds] | gt_crowd
            gt_motion = self._ann_motion_ious()[ann_inds] \
                if motion_ok else None
            flags = {
                f: np.array([self._img_info[k]['flags'][f] for k in img_keys],
                            dtype=bool)
                for f in self.subset_flags
            }
        else:
            gts = [res['gt'] for res in results]
            gt_img = np.repeat(np.arange(num_imgs),
                               [len(g['labels']) for g in gts])
            cat = (lambda xs, shape: np.concatenate(xs)
                   if xs else np.zeros(shape))
            gt_xyxy = cat([g['bboxes'] for g in gts], (0, 4)).reshape(-1, 4)
            gt_bboxes = _xyxy2xywh(gt_xyxy)
            gt_labels = cat([g['labels'] for g in gts], 0).astype(np.int64)
            gt_crowd = cat([g['crowd'] for g in gts], 0).astype(bool)
            gt_ignore = gt_crowd.copy()
            ids = [i for g in gts for i in g['instance_ids']]
            videos = [
                res['video_id'] for res, g in zip(results, gts)
                for _ in g['labels']
            ]
            frames = [
                res['frame_id'] for res, g in zip(results, gts)
                for _ in g['labels']
            ]
            if len(gt_labels) and (gt_labels.min() < 0
                                   or gt_labels.max() >= num_classes):
                raise ValueError('ground-truth label out of range')
            gt_motion = None
            if motion_ok:
                missing = any(v is None for v in videos) or any(
                    f is None for f in frames) or any(
                        i is None for i, c in zip(ids, gt_crowd) if not c)
                if missing:
                    logger.warning(
                        'VIDMetric: motion split skipped, the samples lack '
                        'video_id / frame_id metainfo or GT instance ids')
                    motion_ok = False
                else:
                    gt_motion = compute_motion_ious(
                        videos, ids, np.asarray(frames, dtype=np.int64),
                        gt_xyxy, self.motion_window,
                        self.no_neighbour_motion_iou)
            flags = {
                f: np.array([res['flags'][f] for res in results], dtype=bool)
                for f in self.subset_flags
            }

        evaluator = VIDAPEvaluator(num_classes, img_keys, det_img,
                                   det_labels, det_scores, det_bboxes, gt_img,
                                   gt_labels, gt_bboxes, gt_crowd)
        eval_results: Dict[str, float] = OrderedDict()
        status = evaluator.match(gt_ignore)
        aps = evaluator.average_precision(status, gt_ignore)
        eval_results['bbox_mAP_50'] = mean_ap(aps)
        # the ImageNet VID devkit's convention, under its own key: inclusive
        # pixel boxes (x, y, x + w, y + h), size-dependent IoU threshold, the
        # ground truth the dataset rule keeps (ignored / crowd boxes left out)
        kept = ~gt_ignore
        eval_results['bbox_mAP_50_vid_devkit'] = mean_ap(vid_devkit_ap(
            num_classes, det_img, det_labels, det_scores,
            _xywh2xyxy(det_bboxes), gt_img[kept], gt_labels[kept],
            _xywh2xyxy(gt_bboxes[kept])))
        class_table = {'all': aps}
        num_gts = {'all': int((~gt_ignore).sum())}

        if motion_ok:
            split_masks = motion_split_masks(gt_motion, self.motion_thrs)
            for name in MOTION_SPLITS:
                ignore = gt_ignore | ~split_masks[name]
                split_aps = evaluator.average_precision(
                    evaluator.match(ignore), ignore)
                eval_results[f'bbox_mAP_50_{name}'] = mean_ap(split_aps)
                class_table[name] = split_aps
                num_gts[name] = int((~ignore).sum())

        subsets = {
            name: np.array([k in img_set for k in img_keys], dtype=bool)
            for name, img_set in self.subset_img_ids.items()
        }
        subsets.update(flags)
        for name, ref in self.subset_complements.items():
            subsets[name] = ~subsets[ref]
        for name, mask in subsets.items():
            sub_aps = evaluator.average_precision(status, gt_ignore, mask)
            eval_results[f'bbox_mAP_50_{name}'] = mean_ap(sub_aps)
            num_gts[name] = int((~gt_ignore & mask[gt_img]).sum())
            logger.info(f'VIDMetric: subset "{name}": {int(mask.sum())} of '
                        f'{num_imgs} frames')

        if self.classwise:
            for c, name in enumerate(classes):
                eval_results[f'bbox_AP50_{name}'] = float(aps[c])
            header = ['class'] + [f'AP50 {k}' for k in class_table]
            rows = [header]
            for c, name in enumerate(classes):
                rows.append([name] + [
                    'nan' if np.isnan(v[c]) else f'{v[c]:.4f}'
                    for v in class_table.values()
                ])
            logger.info('\n' + AsciiTable(rows).table)

        logger.info(
            f'VIDMetric: {num_imgs} frames, {len(det_labels)} detections, '
            'non-ignored GT per split: ' +
            ', '.join(f'{k}={v}' for k, v in num_gts.items()))
        logger.info('VIDMetric: ' + ' '.join(
            f'{k}={v:.4f}' for k, v in eval_results.items()
            if not k.startswith('bbox_AP50_')))
        return eval_results
