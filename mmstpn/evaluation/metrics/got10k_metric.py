# Copyright (c) OpenMMLab. All rights reserved.
"""GOT-10k (AO / SR) and OPE (LaSOT-style) single-object tracking metric."""
import json
import os.path as osp
import zipfile
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.registry import METRICS
from mmengine.dist import all_gather_object
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.utils import mkdir_or_exist

from ..functional import (GOT10K_IOU_THRS, OPE_CE_THRS, OPE_IOU_THRS,
                          OPE_NORM_THRS, got10k_pooled_ious, got10k_speed,
                          ope_metrics, success_curve)

RESULT_FORMATS = ('toolkit', 'trackingnet')
# OPE keys: pytracking / pysot / MMTracking, then the TrackingNet devkit's.
OPE_KEYS = ('success_auc', 'precision', 'norm_precision_pytracking', 'SR50',
            'success_trackingnet', 'precision_trackingnet',
            'norm_precision_trackingnet')

SeqKey = Tuple[str, int]


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, 'tensor') and not isinstance(x, torch.Tensor):
        x = x.tensor  # mmdet BaseBoxes
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _xyxy_to_xywh(box: Sequence[float]) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64).reshape(4).copy()
    b[2:] -= b[:2]
    return b


@METRICS.register_module()
class GOT10kMetric(BaseMetric):
    """Single-object tracking metric: GOT-10k's AO / SR or OPE.

    ``protocol='got10k'`` reports ``AO``, ``SR50``, ``SR75`` (fractions) as
    :func:`mmstpn.evaluation.functional.got10k_metrics` computes them (the
    GOT-10k toolkit's rules: frame 0 skipped, ``cover > 0`` frames only,
    boxes bounded by the image, IoUs pooled over all frames of all
    sequences, repeated runs concatenated) and ``speed_fps`` (toolkit: mean
    of 1 / per-frame time) when every frame carries its time.
    ``protocol='ope'`` reports, as :func:`~mmstpn.evaluation.functional.
    ope_metrics` computes them (frame 0 included as the given box,
    per-sequence curves averaged), the measures of pytracking / pysot /
    MMTracking: ``success_auc`` (mean of the 21-point success curve),
    ``precision`` (20 px), ``norm_precision_pytracking`` (the
    normalized-precision curve at 0.2) and ``SR50``; and those of the
    TrackingNet devkit (the evaluation server: rounded boxes, 21-point
    curves integrated with the trapezoidal rule): ``success_trackingnet``,
    ``precision_trackingnet``, ``norm_precision_trackingnet``.

    Expected data samples (one per frame; a ``TrackDataSample`` dict with
    ``video_data_samples`` is unrolled into its frames), metainfo keys:

    * ``video_name`` (sequence name; else ``str(video_id)``), ``frame_id``
      (0-based position in the sequence), ``ori_video_length`` or
      ``video_length`` (frames of the sequence; mmdet's test items set
      ``video_length`` to 1 and ``ori_video_length`` to the real length),
      optional ``run_id`` (int, repeated runs; default 0);
    * ``bbox``: the dataset's ground-truth ``x1, y1, x2, y2`` in the
      original image (else the first of the raw ``instances``); frame 0's
      box is the given box and is what frame 0 of the result files holds;
      test sequences need it on frame 0 only (``format_only``);
    * ``cover`` (``cover.label``; missing: the frame counts, warned once),
      ``width`` / ``height`` (``meta_info.ini``; else ``ori_shape``) for
      the image bound;
    * ``frame_time``: seconds the tracker spent on the frame (frame 0: its
      initialisation), measured by the tracker; required by
      ``format_only`` and by the result files, which never hold made-up
      times (without it ``format_only`` fails and, otherwise, the result
      files are skipped with a warning);
    * the prediction: ``pred_track_instances.bboxes`` or
      ``pred_instances.bboxes``, exactly ONE ``x1, y1, x2, y2`` box in the
      original image on every frame but frame 0 (frame 0's prediction, if
      any, is ignored).

    Result files (``outfile_prefix`` given, always written in
    ``format_only`` mode): GOT-10k's submission layout
    ``<outfile_prefix>/<seq>/<seq>_<r:03d>.txt`` (``x,y,w,h`` per frame,
    ``%.3f``, frame 0 = the given box, one file per run ``r = run_id + 1``)
    and ``<seq>_time.txt`` (one line per frame, one column per run,
    ``%.8f``); for ``protocol='ope'`` the toolkit's OTB / LaSOT layout
    ``<outfile_prefix>/<seq>.txt`` and ``<outfile_prefix>/times/
    <seq>_time.txt``. ``result_format='trackingnet'`` (OPE only): the
    TrackingNet server's layout, ``<outfile_prefix>/<seq>.txt`` (``x,y,w,h``
    per frame, ``%.3f``, frame 0 = the given box) zipped flat into
    ``<outfile_prefix>.zip`` (the file to upload); the times, which the
    server does not take, go to ``<outfile_prefix>/times/<seq>_time.txt``
    (outside the zip) when measured and are not required. With ground
    truth, the success curve (``success_plot.png``, and for OPE
    ``precision_plot.png`` and ``norm_precision_plot.png``) and
    ``performance.json`` go to ``outfile_prefix`` too.

    Distributed: frames are grouped per (sequence, run) in ``process``
    (mmdet's ``TrackImgSampler`` gives each process whole sequences);
    ``evaluate`` gathers every group of every process with mmengine's
    ``collect_results`` (not cut at ``len(dataset)``), merges groups of the
    same sequence, drops frames predicted twice (sampler padding) and
    checks that every sequence has all its frames.

    Args:
        protocol (str): 'got10k' or 'ope'. Defaults to 'got10k'.
        format_only (bool): Only write the result files, return ``{}``.
        outfile_prefix (str, optional): Output folder; required by
            ``format_only``.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        collect_dir (str, optional): Directory for cpu collection.
        prefix (str, optional): Metric name prefix. Defaults to 'got10k'
            ('ope' for the OPE protocol).
        result_format (str): Layout of the result files: 'toolkit' (the
            GOT-10k / OTB-LaSOT toolkit layout above) or 'trackingnet'
            (``protocol='ope'`` only: flat ``<seq>.txt`` files and their
            zip). Defaults to 'toolkit'.

    Raises:
        ValueError: An unknown ``protocol`` / ``result_format``,
            ``'trackingnet'`` without ``protocol='ope'``, or
            ``format_only`` without ``outfile_prefix``.

    See docs/sot.md.
    """
    default_prefix: Optional[str] = 'got10k'

    def __init__(self,
                 protocol: str = 'got10k',
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None,
                 prefix: Optional[str] = None,
                 result_format: str = 'toolkit') -> None:
        if protocol not in ('got10k', 'ope'):
            raise ValueError("protocol must be 'got10k' or 'ope', got "
                             f'{protocol!r}')
        if result_format not in RESULT_FORMATS:
            raise ValueError(f'result_format must be one of '
                             f'{RESULT_FORMATS}, got {result_format!r}')
        if result_format == 'trackingnet' and protocol != 'ope':
            raise ValueError("result_format='trackingnet' needs "
                             f"protocol='ope', got protocol={protocol!r}")
        if prefix is None and protocol == 'ope':
            prefix = 'ope'
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        if format_only and outfile_prefix is None:
            raise ValueError('outfile_prefix must be set when format_only '
                             'is True')
        self.protocol = protocol
        self.result_format = result_format
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self._pending: Dict[SeqKey, dict] = OrderedDict()

    # ------------------------------------------------------------------ #
    # processing
    # ------------------------------------------------------------------ #
    @staticmethod
    def _frames(data_samples: Sequence[dict]) -> List[dict]:
        frames = []
        for ds in data_samples:
            if 'video_data_samples' in ds:
                frames.extend(
                    f if isinstance(f, dict) else f.to_dict()
                    for f in ds['video_data_samples'])
            else:
                frames.append(ds)
        return frames

    def _parse_frame(self, ds: dict) -> dict:
        name = ds.get('video_name')
        if name is None:
            if ds.get('video_id') is None:
                raise KeyError(
                    'GOT10kMetric needs video_name or video_id in the '
                    f'metainfo (img_path={ds.get("img_path")!r})')
            name = str(ds['video_id'])
        if ds.get('frame_id') is None:
            raise KeyError(f'GOT10kMetric: sequence {name!r}: a data sample '
                           f'without frame_id (img_path='
                           f'{ds.get("img_path")!r})')
        frame_id = int(ds['frame_id'])
        where = f'sequence {name!r} frame {frame_id}'
        length = ds.get('ori_video_length', ds.get('video_length'))

        pred = None
        for key in ('pred_track_instances', 'pred_instances'):
            inst = ds.get(key)
            if inst is not None and 'bboxes' in inst:
                boxes = _to_numpy(inst['bboxes']).reshape(-1, 4)
                if len(boxes) != 1 and frame_id > 0:
                    raise ValueError(
                        f'GOT10kMetric: {where}: expected exactly one '
                        f'predicted box in {key}, got {len(boxes)}')
                if len(boxes) == 1:
                    pred = _xyxy_to_xywh(boxes[0])
                break
        if pred is None and frame_id > 0:
            raise KeyError(f'GOT10kMetric: {where}: no predicted box '
                           '(pred_track_instances.bboxes or '
                           'pred_instances.bboxes)')

        gt = ds.get('bbox')
        if gt is None and ds.get('instances'):
            gt = ds['instances'][0].get('bbox')
        size = None
        if ds.get('width') is not None and ds.get('height') is not None:
            size = (float(ds['width']), float(ds['height']))
        elif ds.get('ori_shape') is not None:
            size = (float(ds['ori_shape'][1]), float(ds['ori_shape'][0]))
        cover = ds.get('cover')
        time = ds.get('frame_time')
        return dict(
            name=name,
            run=int(ds.get('run_id', 0) or 0),
            frame=frame_id,
            length=None if length is None else int(length),
            pred=pred,
            gt=None if gt is None else _xyxy_to_xywh(gt),
            cover=None if cover is None else int(cover),
            size=size,
            time=None if time is None else float(time))

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the frames of a batch, one group per (sequence, run).

        Args:
            data_batch: Unused.
            data_samples: Frame data samples as dicts (see the class doc).
        """
        for ds in self._frames(data_samples):
            rec = self._parse_frame(ds)
            key = (rec['name'], rec['run'])
            group = self._pending.setdefault(
                key,
                dict(name=rec['name'], run=rec['run'], length=rec['length'],
                     frames={}))
            if rec['frame'] not in group['frames']:
                group['frames'][rec['frame']] = rec
            if group['length'] is not None and \
                    len(group['frames']) >= group['length']:
                self.results.append(self._pending.pop(key))

    def evaluate(self, size: int) -> dict:
        """Gather every process's groups (incomplete ones too) without
        cutting them at ``size``.

        Args:
            size (int): ``len(dataset)`` (sequences, not groups); the
                results are not cut at it.

        Returns:
            dict[str, float]: The metrics on rank 0, broadcast to all
            (see :meth:`compute_metrics`).
        """
        self.results.extend(self._pending.values())
        self._pending.clear()
        total = sum(all_gather_object(len(self.results)))
        return super().evaluate(total)

    # ------------------------------------------------------------------ #
    # metrics
    # ------------------------------------------------------------------ #
    def _merge(self, results: List[dict]) -> Dict[str, Dict[int, dict]]:
        """(name, run) groups -> name -> run -> frame id -> record; checks
        that every sequence and run has frames 0..F-1."""
        seqs: Dict[str, Dict[int, dict]] = OrderedDict()
        for group in results:
            runs = seqs.setdefault(group['name'], {})
            frames = runs.setdefault(group['run'], {})
            for fid, rec in group['frames'].items():
                frames.setdefault(fid, rec)
        for name, runs in seqs.items():
            lengths = set()
            for run, frames in runs.items():
                length = max(
                    [r['length'] for r in frames.values()
                     if r['length'] is not None] or [max(frames) + 1])
                missing = sorted(set(range(length)) - set(frames))
                if missing:
                    raise ValueError(
                        f'GOT10kMetric: sequence {name!r} run {run}: frames '
                        f'{missing[:10]} of its {length} frames were not '
                        'predicted')
                extra = sorted(set(frames) - set(range(length)))
                if extra:
                    raise ValueError(
                        f'GOT10kMetric: sequence {name!r} run {run}: frame '
                        f'ids {extra[:10]} beyond its {length} frames (the '
                        'ori_video_length / video_length metainfo)')
                lengths.add(length)
            if len(lengths) != 1:
                raise ValueError(f'GOT10kMetric: sequence {name!r}: runs '
                                 f'have different lengths {sorted(lengths)}')
        return OrderedDict(sorted(seqs.items()))

    @staticmethod
    def _boxes(name: str, frames: Dict[int, dict]) -> np.ndarray:
        """Predicted (F, 4) ``x, y, w, h``; frame 0 = the given box."""
        if frames[0]['gt'] is None:
            raise ValueError(f'GOT10kMetric: sequence {name!r}: frame 0 has '
                             'no ground-truth box (the given box)')
        boxes = [frames[0]['gt']] + [frames[i]['pred']
                                     for i in range(1, len(frames))]
        return np.stack(boxes)

    @staticmethod
    def _times(name: str, frames: Dict[int, dict],
               required: bool) -> Optional[np.ndarray]:
        times = [frames[i]['time'] for i in range(len(frames))]
        if any(t is None for t in times):
            if required:
                i = times.index(None)
                raise KeyError(
                    f'GOT10kMetric: sequence {name!r} frame {i}: no '
                    'frame_time in the metainfo; result files need the '
                    'measured per-frame times')
            return None
        return np.asarray(times, dtype=np.float64)

    @staticmethod
    def _single_run(name: str, runs: Dict[int, dict]) -> Dict[int, dict]:
        run_ids = sorted(runs)
        if run_ids != [0]:
            raise ValueError(f'GOT10kMetric (ope): sequence {name!r} '
                             f'has runs {run_ids}; OPE has one run')
        return runs[0]

    def _write_trackingnet(self, seqs: Dict[str, Dict[int, dict]]) -> None:
        """``<root>/<seq>.txt`` zipped flat into ``<root>.zip``; times (not
        part of the submission) to ``<root>/times/`` when measured."""
        logger = MMLogger.get_current_instance()
        root = self.outfile_prefix.rstrip('/\\')
        mkdir_or_exist(root)
        zip_path = f'{root}.zip'
        untimed = []
        with zipfile.ZipFile(zip_path, 'w', zipfile.ZIP_DEFLATED) as zf:
            for name, runs in seqs.items():
                frames = self._single_run(name, runs)
                path = osp.join(root, f'{name}.txt')
                np.savetxt(
                    path, self._boxes(name, frames), fmt='%.3f',
                    delimiter=',')
                zf.write(path, arcname=f'{name}.txt')
                times = self._times(name, frames, False)
                if times is None:
                    untimed.append(name)
                    continue
                mkdir_or_exist(osp.join(root, 'times'))
                np.savetxt(
                    osp.join(root, 'times', f'{name}_time.txt'), times,
                    fmt='%.8f')
        if untimed:
            logger.warning(
                f'GOT10kMetric: no time file for sequence {untimed[0]!r} '
                f'(and {len(untimed) - 1} more): frames without frame_time '
                '(the TrackingNet submission does not need them)')
        logger.info(f'GOT10kMetric: TrackingNet results of {len(seqs)} '
                    f'sequences written to {root}, submission {zip_path}')

    def _write(self, seqs: Dict[str, Dict[int, dict]]) -> None:
        if self.result_format == 'trackingnet':
            self._write_trackingnet(seqs)
            return
        logger = MMLogger.get_current_instance()
        root = self.outfile_prefix
        if not self.format_only:
            untimed = [
                n for n, runs in seqs.items() for r in runs.values()
                if self._times(n, r, False) is None
            ]
            if untimed:
                logger.warning(
                    'GOT10kMetric: result files not written: sequence '
                    f'{untimed[0]!r} (and {len(untimed) - 1} more) lacks '
                    'frame_time metainfo; the files need measured times')
                return
        for name, runs in seqs.items():
            run_ids = sorted(runs)
            times = np.stack(
                [self._times(name, runs[r], True) for r in run_ids], axis=1)
            if self.protocol == 'got10k':
                seq_dir = osp.join(root, name)
                mkdir_or_exist(seq_dir)
                for r in run_ids:
                    np.savetxt(
                        osp.join(seq_dir, '%s_%03d.txt' % (name, r + 1)),
                        self._boxes(name, runs[r]),
                        fmt='%.3f',
                        delimiter=',')
                np.savetxt(
                    osp.join(seq_dir, f'{name}_time.txt'),
                    times,
                    fmt='%.8f',
                    delimiter=',')
            else:
                frames = self._single_run(name, runs)
                mkdir_or_exist(osp.join(root, 'times'))
                np.savetxt(
                    osp.join(root, f'{name}.txt'),
                    self._boxes(name, frames),
                    fmt='%.3f',
                    delimiter=',')
                np.savetxt(
                    osp.join(root, 'times', f'{name}_time.txt'),
                    times[:, 0],
                    fmt='%.8f')
        logger.info(f'GOT10kMetric: results of {len(seqs)} sequences '
                    f'written to {root}')

    def _ground_truth(self, name: str, frames: Dict[int, dict]):
        gts, covers = [], []
        for i in range(len(frames)):
            rec = frames[i]
            if rec['gt'] is None:
                raise ValueError(
                    f'GOT10kMetric: sequence {name!r} frame {i} has no '
                    'ground truth (bbox); a test split can only be written '
                    'with format_only=True')
            gts.append(rec['gt'])
            covers.append(1 if rec['cover'] is None else rec['cover'])
        missing_cover = any(frames[i]['cover'] is None
                            for i in range(len(frames)))
        return np.stack(gts), np.asarray(covers), missing_cover

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Merge the groups and compute the metrics (see the class doc).

        Args:
            results (list): The gathered (sequence, run) groups.

        Returns:
            dict[str, float]: The metrics; ``{}`` for ``format_only``.
        """
        logger = MMLogger.get_current_instance()
        seqs = self._merge(results)
        if not seqs:
            raise ValueError('GOT10kMetric: no frame was processed')
        if self.outfile_prefix is not None:
            self._write(seqs)
        if self.format_only:
            return OrderedDict()

        names = list(seqs)
        preds, gts, covers, sizes, times = [], [], [], [], []
        no_cover = []
        for name in names:
            runs = seqs[name]
            run_ids = sorted(runs)
            first = runs[run_ids[0]]
            gt, cover, missing = self._ground_truth(name, first)
            if missing:
                no_cover.append(name)
            gts.append(gt)
            covers.append(cover)
            preds.append(np.stack([self._boxes(name, runs[r])
                                   for r in run_ids]))
            sizes.append(first[0]['size'])
            times.append([self._times(name, runs[r], False)
                          for r in run_ids])
        if no_cover and self.protocol == 'got10k':
            logger.warning(
                f'GOT10kMetric: {len(no_cover)} sequences (e.g. '
                f'{no_cover[0]!r}) have frames without a cover value; those '
                'frames are evaluated')

        out: Dict[str, float] = OrderedDict()
        perf: Dict[str, Any] = dict(protocol=self.protocol)
        all_times = [t for seq in times for t in seq]
        have_times = all(t is not None for t in all_times)
        if self.protocol == 'got10k':
            if any(s is None for s in sizes):
                bad = names[[s is None for s in sizes].index(True)]
                raise ValueError(f'GOT10kMetric: sequence {bad!r} has no '
                                 'image size (width / height or ori_shape)')
            per_seq = got10k_pooled_ious(preds, gts, covers, sizes, names)
            ious = np.concatenate(per_seq)
            if not len(ious):
                raise ValueError('GOT10kMetric: no frame to evaluate')
            curve = success_curve(ious, GOT10K_IOU_THRS)
            out['AO'] = float(np.mean(ious))
            out['SR50'] = float(np.mean(ious > 0.5))
            out['SR75'] = float(np.mean(ious > 0.75))
            perf['seq_wise'] = {
                n: dict(
                    ao=float(np.mean(s)) if len(s) else None,
                    length=len(g) - 1)
                for n, s, g in zip(names, per_seq, gts)
            }
            curves = dict(success_curve=(GOT10K_IOU_THRS, curve))
        else:
            if any(p.shape[0] != 1 for p in preds):
                raise ValueError('GOT10kMetric (ope): one run per sequence '
                                 'expected')
            res = ope_metrics([p[0] for p in preds], gts, names,
                              return_curve=True)
            for key in OPE_KEYS:
                out[key] = res[key]
            curves = dict(
                success_curve=(OPE_IOU_THRS, res['success_curve']),
                precision_curve=(OPE_CE_THRS, res['precision_curve']),
                norm_precision_curve=(OPE_NORM_THRS,
                                      res['norm_precision_curve']))
        if have_times:
            out['speed_fps'] = got10k_speed(all_times)
        perf['overall'] = dict(out)
        perf['overall'].update(
            {k: v[1].tolist() for k, v in curves.items()})

        if self.outfile_prefix is not None:
            mkdir_or_exist(self.outfile_prefix)
            with open(osp.join(self.outfile_prefix, 'performance.json'),
                      'w') as f:
                json.dump(perf, f, indent=2)
            self._plot(curves, out)
        logger.info(f'GOT10kMetric ({self.protocol}): {len(names)} '
                    'sequences, ' +
                    ' '.join(f'{k}={v:.4f}' for k, v in out.items()))
        return out

    def _plot(self, curves: dict, out: Dict[str, float]) -> None:
        from matplotlib.figure import Figure
        labels = dict(
            success_curve=('Overlap threshold', 'Success rate', 'success',
                           out.get('AO', out.get('success_auc'))),
            precision_curve=('Location error threshold (px)', 'Precision',
                             'precision', out.get('precision')),
            norm_precision_curve=('Normalized location error threshold',
                                  'Normalized precision', 'norm_precision',
                                  out.get('norm_precision_pytracking')))
        for key, (thrs, values) in curves.items():
            xlabel, ylabel, stem, score = labels[key]
            fig = Figure()
            ax = fig.subplots()
            ax.plot(thrs, values, label=f'[{score:.3f}]')
            ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(0, thrs[-1]),
                   ylim=(0, 1), title=f'{ylabel} ({self.protocol})')
            ax.grid(True)
            ax.legend(loc='lower left')
            fig.savefig(osp.join(self.outfile_prefix, f'{stem}_plot.png'),
                        dpi=100)
