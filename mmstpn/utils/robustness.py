"""Robustness / ablation evaluation of video detectors: the config surgery,
result aggregation, tables, JSON and plots behind
``tools/analysis_tools/test_robustness.py``.

Nothing here runs a model: the tool runs mmengine's test loop for every
setting and hands the metric dicts to :class:`RobustnessResults` (corruption
x severity x target, per model) or :class:`SweepResults` (test-time K,
stride, N_P, ...). Import by full path: ``from mmstpn.utils.robustness
import RobustnessResults``.

Numbers: the metric dicts are VIDMetric's (``vid/bbox_mAP_50``,
``vid/bbox_mAP_50_<slow|medium|fast|subset>``, values in [0, 1], -1 = no
ground truth); tables print them in percent. Following mmdet's
``robustness_eval``: ``P`` is the clean value, ``mPC`` the mean over the
corruptions and severities 1..5 run, ``rPC = mPC / P``.
"""
import copy
import itertools
import json
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from terminaltables import AsciiTable

from mmstpn.datasets.transforms.corruption import CLIP_CORRUPT_TARGETS

CLEAN = 'clean'  # target / corruption name of the uncorrupted test
DEFAULT_METRIC = 'bbox_mAP_50'
CORRUPT_STAGES = ('clip', 'loaded')
# SupportFrameSample arguments a sweep may change (pipeline only: the
# model and its checkpoint stay)
SAMPLER_KEYS = ('num_ref_imgs', 'stride', 'method', 'frame_range',
                'filter_key_img')
NUM_PROMPTS_KEYS = ('num_prompts', 'np', 'n_p')


# --------------------------------------------------------------------------
# config surgery
# --------------------------------------------------------------------------
def type_name(transform: Any) -> str:
    """The registered name of a transform config (``'mmdet.Resize'`` ->
    ``'Resize'``; a class -> its name)."""
    t = transform.get('type') if isinstance(transform, dict) else transform
    if not isinstance(t, str):
        t = getattr(t, '__name__', str(t))
    return t.split('.')[-1]


def test_dataset_cfg(cfg: Any) -> Any:
    """The innermost dataset config of ``cfg.test_dataloader`` (through
    wrappers that hold a ``dataset``)."""
    dataset = cfg['test_dataloader']['dataset']
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def find_sampler(pipeline: Sequence[dict]) -> Optional[dict]:
    """The ``SupportFrameSample`` config of ``pipeline`` or None."""
    for t in pipeline:
        if type_name(t) == 'SupportFrameSample':
            return t
    return None


def support_mode(pipeline: Sequence[dict]) -> str:
    """How the test pipeline provides support frames.

    Returns:
        str: ``'online'``, ``'offline'`` (test_with_adaptive_stride),
        ``'frames'`` (support frames loaded with every key frame) or
        ``'none'`` (no SupportFrameSample or ``num_ref_imgs=0``: a
        single-frame model).
    """
    sampler = find_sampler(pipeline)
    if sampler is None or sampler.get('num_ref_imgs', 2) == 0:
        return 'none'
    method = sampler.get('method', 'bilateral_uniform')
    if method == 'online':
        return 'online'
    if method == 'test_with_adaptive_stride':
        return 'offline'
    return 'frames'


def effective_target(mode: str, target: str) -> str:
    """The target that gives the same run in ``mode``.

    ``'support'`` without support frames is the clean test and ``'both'``
    is ``'key'``; online, ``'both'`` is ``'key'`` and ``'support'`` is not
    definable (ValueError, see :class:`~mmstpn.datasets.ClipCorrupt`).

    Args:
        mode (str): :func:`support_mode` of the test pipeline.
        target (str): 'key', 'support' or 'both'.

    Returns:
        str: 'key', 'support', 'both' or :data:`CLEAN`.
    """
    if target not in CLIP_CORRUPT_TARGETS:
        raise ValueError(f'target must be one of {CLIP_CORRUPT_TARGETS}, '
                         f'got {target!r}')
    if mode == 'online':
        if target == 'support':
            raise ValueError(
                "target 'support' is not definable in online mode: no "
                'support frames are loaded, each frame\'s cached pass is '
                'the support of the later frames. Use --target key (online '
                "'key' = 'both': a frame is corrupted for its own pass and "
                'as support)')
        return 'key'
    if mode == 'none':
        return CLEAN if target == 'support' else 'key'
    return target


def insert_clip_corrupt(pipeline: Sequence[dict],
                        corrupt_cfg: dict,
                        stage: str = 'clip') -> List[dict]:
    """A copy of the test ``pipeline`` with ``ClipCorrupt`` inserted.

    Args:
        pipeline (Sequence[dict]): ``SupportFrameSample`` ->
            ``TransformBroadcaster`` -> ``PackClipInputs`` style pipeline.
        corrupt_cfg (dict): The ``ClipCorrupt`` config (with ``type``).
        stage (str): ``'clip'``: right before ``PackClipInputs`` (after the
            last ``TransformBroadcaster``), i.e. on the frames the network
            sees, after ``Resize``; ``'loaded'``: right after
            ``LoadImageFromFile``, at the source size (as mmdet's
            ``test_robustness.py``), by splitting the broadcaster in two.

    Returns:
        list[dict]: The new pipeline.
    """
    pipeline = [copy.deepcopy(t) for t in pipeline]
    corrupt_cfg = copy.deepcopy(dict(corrupt_cfg))
    if stage not in CORRUPT_STAGES:
        raise ValueError(f'stage must be one of {CORRUPT_STAGES}, got '
                         f'{stage!r}')
    names = [type_name(t) for t in pipeline]
    if 'TransformBroadcaster' not in names:
        raise ValueError(
            'the test pipeline has no TransformBroadcaster: ClipCorrupt '
            'works on the per-frame lists of SupportFrameSample + '
            f'TransformBroadcaster; got {names}')
    if stage == 'clip':
        if 'PackClipInputs' in names:
            pos = names.index('PackClipInputs')
        else:
            pos = len(names) - 1 - names[::-1].index(
                'TransformBroadcaster') + 1
        return pipeline[:pos] + [corrupt_cfg] + pipeline[pos:]
    pos = names.index('TransformBroadcaster')
    bcast = pipeline[pos]
    inner = list(bcast['transforms'])
    inner_names = [type_name(t) for t in inner]
    if 'LoadImageFromFile' not in inner_names:
        raise ValueError("stage='loaded' needs LoadImageFromFile inside the "
                         f'first TransformBroadcaster; got {inner_names}')
    cut = inner_names.index('LoadImageFromFile') + 1
    first = dict(copy.deepcopy(bcast), transforms=inner[:cut])
    new = pipeline[:pos] + [first, corrupt_cfg]
    if inner[cut:]:
        new.append(dict(copy.deepcopy(bcast), transforms=inner[cut:]))
    return new + pipeline[pos + 1:]


def set_sampler_args(pipeline: Sequence[dict],
                     args: Dict[str, Any]) -> List[dict]:
    """A copy of ``pipeline`` whose ``SupportFrameSample`` takes ``args``."""
    pipeline = [copy.deepcopy(t) for t in pipeline]
    if not args:
        return pipeline
    sampler = find_sampler(pipeline)
    if sampler is None:
        raise ValueError('the test pipeline has no SupportFrameSample to '
                         f'set {sorted(args)} on')
    sampler.update(copy.deepcopy(args))
    return pipeline


# --------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------
def _value(text: str) -> Any:
    low = text.lower()
    if low in ('true', 'false'):
        return low == 'true'
    if low in ('none', 'null'):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_sweep(items: Sequence[str]) -> 'OrderedDict[str, List[Any]]':
    """``['num_ref_imgs=2,4,8,14', 'stride=1,4']`` ->
    ``{'num_ref_imgs': [2, 4, 8, 14], 'stride': [1, 4]}``.

    Values are ints, floats, true/false, none or strings; ``:`` separates
    the items of a list value (``frame_range=-4:4,-9:9``).
    """
    out: 'OrderedDict[str, List[Any]]' = OrderedDict()
    for item in items:
        if '=' not in item:
            raise ValueError(f'--sweep items are KEY=V1,V2,...; got {item!r}')
        key, values = item.split('=', 1)
        key = key.strip()
        if key.lower() in NUM_PROMPTS_KEYS:
            key = 'num_prompts'
        vals = []
        for v in values.split(','):
            v = v.strip()
            if not v:
                continue
            vals.append([_value(x) for x in v.split(':')] if ':' in v else
                        _value(v))
        if not key or not vals:
            raise ValueError(f'--sweep item {item!r} has no key or values')
        if key in out:
            raise ValueError(f'--sweep key {key!r} given twice')
        out[key] = vals
    return out


def parse_sweep_checkpoints(items: Sequence[str]) -> 'OrderedDict[int, str]':
    """``['2=np2.pth,5=np5.pth']`` (or separate items) -> ``{2: 'np2.pth',
    5: 'np5.pth'}``: one checkpoint per N_P."""
    out: 'OrderedDict[int, str]' = OrderedDict()
    for item in items:
        for part in item.split(','):
            part = part.strip()
            if not part:
                continue
            if '=' not in part:
                raise ValueError('--sweep-checkpoints items are NP=CKPT; '
                                 f'got {part!r}')
            num, path = part.split('=', 1)
            try:
                num = int(num)
            except ValueError:
                raise ValueError(f'--sweep-checkpoints: N_P must be an int, '
                                 f'got {num!r}') from None
            if num < 0:
                raise ValueError(f'--sweep-checkpoints: N_P must be >= 0, '
                                 f'got {num}')
            out[num] = path
    return out


def sweep_settings(sweep: Dict[str, List[Any]],
                   grid: bool = False) -> List[Dict[str, Any]]:
    """The settings of a sweep: one key at a time (the others at the
    config's value), or the full grid.

    Returns:
        list[dict]: ``{key: value}`` per setting, in order.
    """
    if grid:
        keys = list(sweep)
        return [
            dict(zip(keys, combo))
            for combo in itertools.product(*(sweep[k] for k in keys))
        ]
    return [{k: v} for k, vals in sweep.items() for v in vals]


def split_setting(setting: Dict[str, Any]) -> Tuple[dict, dict]:
    """Split a sweep setting into SupportFrameSample arguments and config
    overrides (``num_prompts`` -> ``model.backbone.num_prompts``; dotted
    keys as ``--cfg-options``)."""
    sampler, cfg = {}, {}
    for k, v in setting.items():
        if k in SAMPLER_KEYS:
            sampler[k] = v
        elif k == 'num_prompts':
            cfg['model.backbone.num_prompts'] = v
        elif '.' in k:
            cfg[k] = v
        else:
            raise ValueError(
                f'unknown sweep key {k!r}: use one of {SAMPLER_KEYS} '
                '(SupportFrameSample), num_prompts (N_P) or a dotted config '
                'key (e.g. model.test_cfg.rcnn.score_thr)')
    return sampler, cfg


def setting_label(setting: Dict[str, Any]) -> str:
    """``{'num_ref_imgs': 4, 'stride': 1}`` -> ``'num_ref_imgs=4 stride=1'``
    (``'config'`` for the empty setting)."""
    if not setting:
        return 'config'
    return ' '.join(f'{k}={_fmt_value(v)}' for k, v in setting.items())


def _fmt_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ':'.join(str(x) for x in v)
    return str(v)


# --------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------
def get_metric(metrics: Dict[str, Any], name: str = DEFAULT_METRIC
               ) -> Optional[float]:
    """``metrics[name]`` or ``metrics['<prefix>/' + name]``; None when
    absent. ``-1`` (no ground truth) and NaN give None too."""
    if not metrics:
        return None
    value = metrics.get(name)
    if value is None:
        hits = [v for k, v in metrics.items() if k.split('/')[-1] == name]
        value = hits[0] if hits else None
    if value is None:
        return None
    value = float(value)
    if math.isnan(value) or value < 0:
        return None
    return value


def ap50_keys(metrics: Dict[str, Any]) -> List[str]:
    """The AP50 summary keys of a VIDMetric dict, prefix dropped, in the
    order overall, motion splits, subsets (per-class keys excluded)."""
    names = [k.split('/')[-1] for k in metrics]
    main = [n for n in names if n == DEFAULT_METRIC]
    splits = [
        f'{DEFAULT_METRIC}_{s}' for s in ('slow', 'medium', 'fast')
        if f'{DEFAULT_METRIC}_{s}' in names
    ]
    rest = [
        n for n in names
        if n.startswith(DEFAULT_METRIC + '_') and n not in splits
    ]
    return main + splits + rest


def _mean(values: Iterable[Optional[float]]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _pct(v: Optional[float], signed: bool = False) -> str:
    if v is None:
        return 'n/a'
    return f'{100 * v:+.1f}' if signed else f'{100 * v:.1f}'


def _jsonable(obj: Any) -> Any:
    """Floats (NaN -> None), ints, strings, lists and dicts only."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, 'item'):  # numpy / torch scalars
        obj = obj.item()
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, int):
        return obj
    return str(obj)


def write_json(data: dict, path: str) -> None:
    """Write ``data`` as indented JSON (NaN -> null), atomically."""
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(_jsonable(data), f, indent=1)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# corruption results
# --------------------------------------------------------------------------
class RobustnessResults:
    """Metrics per model x target x corruption x severity.

    A record is ``dict(model, target, corruption, severity, metrics,
    same_as)``: the clean test is ``target=corruption='clean',
    severity=0``; ``same_as`` names the run whose metrics were reused when
    a target is identical to another for that model (see
    :func:`effective_target`).

    Args:
        metric (str): The metric of the tables and plots. Defaults to
            ``'bbox_mAP_50'`` (matched with or without the ``vid/``
            prefix).
    """

    def __init__(self, metric: str = DEFAULT_METRIC) -> None:
        self.metric = metric
        self.records: List[dict] = []
        self.models: 'OrderedDict[str, dict]' = OrderedDict()
        self.meta: Dict[str, Any] = {}

    # ------------------------------------------------------------ filling
    def add_model(self, name: str, **info) -> None:
        """Describe a model (config, checkpoint, mode, ...)."""
        self.models.setdefault(name, {}).update(info)

    def add(self,
            model: str,
            target: str,
            corruption: str,
            severity: int,
            metrics: Dict[str, Any],
            same_as: Optional[str] = None) -> None:
        """Add (or replace) the metrics of one run."""
        if model not in self.models:
            self.add_model(model)
        severity = int(severity)
        if (severity == 0) != (target == CLEAN):
            raise ValueError('severity 0 is the clean test (target '
                             f"'{CLEAN}') and only it; got target "
                             f'{target!r}, severity {severity}')
        rec = dict(
            model=model,
            target=target,
            corruption=CLEAN if severity == 0 else corruption,
            severity=severity,
            metrics=dict(metrics))
        if same_as:
            rec['same_as'] = same_as
        self.records = [r for r in self.records if _key(r) != _key(rec)]
        self.records.append(rec)

    def has(self, model: str, target: str, corruption: str,
            severity: int) -> bool:
        key = (model, target, CLEAN if int(severity) == 0 else corruption,
               int(severity))
        return any(_key(r) == key for r in self.records)

    # ------------------------------------------------------------ queries
    def get(self, model: str, target: str, corruption: str,
            severity: int) -> Optional[Dict[str, Any]]:
        """The metrics of one run (None when not run)."""
        key = (model, target, CLEAN if int(severity) == 0 else corruption,
               int(severity))
        for r in self.records:
            if _key(r) == key:
                return r['metrics']
        return None

    def value(self,
              model: str,
              target: str,
              corruption: str,
              severity: int,
              metric: Optional[str] = None) -> Optional[float]:
        return get_metric(
            self.get(model, target, corruption, severity),
            metric or self.metric)

    def clean(self, model: str, metric: Optional[str] = None
              ) -> Optional[float]:
        """P: the clean value."""
        return self.value(model, CLEAN, CLEAN, 0, metric)

    def _axes(self, model: Optional[str] = None):
        recs = [
            r for r in self.records
            if r['severity'] > 0 and (model is None or r['model'] == model)
        ]
        targets = [t for t in CLIP_CORRUPT_TARGETS
                   if any(r['target'] == t for r in recs)]
        corruptions = list(dict.fromkeys(r['corruption'] for r in recs))
        severities = sorted({r['severity'] for r in recs})
        return targets, corruptions, severities

    @property
    def targets(self) -> List[str]:
        return self._axes()[0]

    @property
    def corruptions(self) -> List[str]:
        return self._axes()[1]

    @property
    def severities(self) -> List[int]:
        return self._axes()[2]

    def corruption_mean(self, model: str, target: str, corruption: str,
                        metric: Optional[str] = None) -> Optional[float]:
        """Mean over the severities run of one corruption."""
        return _mean(
            self.value(model, target, corruption, s, metric)
            for s in self.severities)

    def severity_mean(self, model: str, target: str, severity: int,
                      metric: Optional[str] = None) -> Optional[float]:
        """Mean over the corruptions run at one severity (the clean value
        at severity 0)."""
        if severity == 0:
            return self.clean(model, metric)
        return _mean(
            self.value(model, target, c, severity, metric)
            for c in self.corruptions)

    def mpc(self, model: str, target: str, metric: Optional[str] = None
            ) -> Optional[float]:
        """mPC: mean over all corruptions and severities run."""
        return _mean(
            self.value(model, target, c, s, metric) for c in self.corruptions
            for s in self.severities)

    def rpc(self, model: str, target: str, metric: Optional[str] = None
            ) -> Optional[float]:
        """rPC = mPC / P."""
        p, m = self.clean(model, metric), self.mpc(model, target, metric)
        return None if p in (None, 0) or m is None else m / p

    def summary(self) -> Dict[str, Any]:
        """Per model and target: P, mPC, rPC and the per-severity and
        per-corruption means, for every AP50 metric (overall, motion
        splits, subsets)."""
        out: Dict[str, Any] = OrderedDict()
        for model in self.models:
            clean = self.get(model, CLEAN, CLEAN, 0) or {}
            metrics = ap50_keys(clean) or [self.metric]
            per_model = OrderedDict()
            for target in self.targets:
                per_target = OrderedDict()
                for m in metrics:
                    per_target[m] = OrderedDict(
                        P=self.clean(model, m),
                        mPC=self.mpc(model, target, m),
                        rPC=self.rpc(model, target, m),
                        by_severity=OrderedDict(
                            (str(s), self.severity_mean(model, target, s, m))
                            for s in [0] + self.severities),
                        by_corruption=OrderedDict(
                            (c, self.corruption_mean(model, target, c, m))
                            for c in self.corruptions))
                per_model[target] = per_target
            out[model] = per_model
        return out

    # ------------------------------------------------------------ output
    def to_dict(self) -> Dict[str, Any]:
        return OrderedDict(
            kind='robustness',
            metric=self.metric,
            meta=self.meta,
            models=self.models,
            targets=self.targets,
            corruptions=self.corruptions,
            severities=self.severities,
            records=self.records,
            summary=self.summary())

    def dump(self, path: str) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        write_json(self.to_dict(), path)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'RobustnessResults':
        res = cls(data.get('metric', DEFAULT_METRIC))
        res.meta = dict(data.get('meta', {}))
        for name, info in data.get('models', {}).items():
            res.add_model(name, **info)
        for r in data.get('records', []):
            res.add(r['model'], r['target'], r['corruption'], r['severity'],
                    r['metrics'], r.get('same_as'))
        return res

    @classmethod
    def load(cls, path: str) -> 'RobustnessResults':
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def format_table(self, model: str, target: str,
                     metric: Optional[str] = None) -> str:
        """Rows: corruptions, then their mean; columns: the severities and
        the mean over them; the clean value and mPC / rPC in the title."""
        metric = metric or self.metric
        sevs = self.severities
        rows = [['corruption'] + [str(s) for s in sevs] + ['mean']]
        for c in self.corruptions:
            vals = [self.value(model, target, c, s, metric) for s in sevs]
            same = {
                r.get('same_as')
                for r in self.records if r['model'] == model
                and r['target'] == target and r['corruption'] == c
            } - {None}
            name = c + (f' (= {same.pop()})' if len(same) == 1 else '')
            rows.append([name] + [_pct(v) for v in vals] +
                        [_pct(self.corruption_mean(model, target, c, metric))])
        rows.append(['mean'] + [
            _pct(self.severity_mean(model, target, s, metric)) for s in sevs
        ] + [_pct(self.mpc(model, target, metric))])
        title = (f' {model} | target={target} | {metric} (%) | clean P='
                 f'{_pct(self.clean(model, metric))} mPC='
                 f'{_pct(self.mpc(model, target, metric))} rPC='
                 f'{_pct(self.rpc(model, target, metric))} ')
        table = AsciiTable(rows, title)
        for i in range(1, len(rows[0])):
            table.justify_columns[i] = 'right'
        return _titled(table)

    def format_compare(self, target: str, models: Optional[Sequence[str]] =
                       None, metric: Optional[str] = None) -> str:
        """Models side by side under one target: per corruption the mean
        over severities, the differences to the first model, then mPC and
        rPC."""
        metric = metric or self.metric
        models = list(models or self.models)
        ref = models[0]
        header = ['corruption'] + models + [
            f'{ref} - {m}' for m in models[1:]
        ]
        rows = [header]

        def line(label, vals):
            diffs = [
                None if vals[0] is None or v is None else vals[0] - v
                for v in vals[1:]
            ]
            rows.append([label] + [_pct(v) for v in vals] +
                        [_pct(d, signed=True) for d in diffs])

        line('clean (P)', [self.clean(m, metric) for m in models])
        for c in self.corruptions:
            line(c,
                 [self.corruption_mean(m, target, c, metric) for m in models])
        line('mPC', [self.mpc(m, target, metric) for m in models])
        line('rPC', [self.rpc(m, target, metric) for m in models])
        sev = ','.join(str(s) for s in self.severities)
        table = AsciiTable(
            rows, f' target={target} | {metric} (%), mean over severities '
            f'{sev} ')
        for i in range(1, len(header)):
            table.justify_columns[i] = 'right'
        return _titled(table)

    def format_overview(self, metric: Optional[str] = None) -> str:
        """One row per model and target: P, the mean at every severity,
        mPC and rPC."""
        metric = metric or self.metric
        sevs = self.severities
        rows = [['model', 'target', 'clean'] + [f'sev {s}' for s in sevs] +
                ['mPC', 'rPC']]
        for m in self.models:
            for t in self.targets:
                if not any(r['model'] == m and r['target'] == t
                           for r in self.records):
                    continue
                rows.append([m, t, _pct(self.clean(m, metric))] + [
                    _pct(self.severity_mean(m, t, s, metric)) for s in sevs
                ] + [
                    _pct(self.mpc(m, t, metric)),
                    _pct(self.rpc(m, t, metric))
                ])
        table = AsciiTable(
            rows, f' {metric} (%), mean over {len(self.corruptions)} '
            'corruptions ')
        for i in range(2, len(rows[0])):
            table.justify_columns[i] = 'right'
        return _titled(table)

    def format_metrics_overview(self) -> str:
        """One row per model and target, ``mPC / P`` of every AP50 metric
        (overall, motion splits, subsets such as ``deteriorated``)."""
        metrics: List[str] = []
        for m in self.models:
            clean = self.get(m, CLEAN, CLEAN, 0) or {}
            metrics += [k for k in ap50_keys(clean) if k not in metrics]
        if not metrics:
            return ''
        rows = [['model', 'target'] +
                [k.replace(DEFAULT_METRIC, 'AP50') for k in metrics]]
        for m in self.models:
            for t in self.targets:
                if not any(r['model'] == m and r['target'] == t
                           for r in self.records):
                    continue
                rows.append([m, t] + [
                    f'{_pct(self.mpc(m, t, k))} / {_pct(self.clean(m, k))}'
                    for k in metrics
                ])
        table = AsciiTable(rows, ' mPC / clean P (%) of every AP50 metric ')
        for i in range(2, len(rows[0])):
            table.justify_columns[i] = 'right'
        return _titled(table)

    def format_report(self, metric: Optional[str] = None) -> str:
        """Every table: per model and target, the comparison per target
        (with two or more models) and the overview."""
        parts = []
        for m in self.models:
            for t in self.targets:
                if any(r['model'] == m and r['target'] == t
                       for r in self.records):
                    parts.append(self.format_table(m, t, metric))
        if len(self.models) > 1:
            parts += [self.format_compare(t, metric=metric)
                      for t in self.targets]
        if self.targets:
            parts.append(self.format_overview(metric))
            overview = self.format_metrics_overview()
            if overview:
                parts.append(overview)
        return '\n\n'.join(parts)

    def plot(self, path: str, metric: Optional[str] = None,
             title: Optional[str] = None) -> str:
        """Metric vs severity (0 = clean), averaged over the corruptions:
        one line per target (colour) and model (line style)."""
        metric = metric or self.metric
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        sevs = [0] + self.severities
        styles = ['-', '--', ':', '-.']
        markers = ['o', 's', '^', 'D']
        colors = dict(key='tab:blue', support='tab:orange', both='tab:red')
        for i, m in enumerate(self.models):
            for t in self.targets:
                if not any(r['model'] == m and r['target'] == t
                           for r in self.records):
                    continue
                ys = [self.severity_mean(m, t, s, metric) for s in sevs]
                ax.plot(
                    sevs, [math.nan if y is None else 100 * y for y in ys],
                    linestyle=styles[i % len(styles)],
                    marker=markers[i % len(markers)],
                    color=colors.get(t),
                    label=f'{m}: {t}')
        ax.set_xlabel('severity (0 = clean)')
        ax.set_ylabel(f'{metric} (%)')
        ax.set_xticks(sevs)
        ax.grid(alpha=0.3)
        ax.set_title(title or 'corrupted frames: key / support / both '
                     f'(mean of {len(self.corruptions)} corruptions)',
                     fontsize=10)
        ax.legend(fontsize=8)
        return _save(fig, path)

    def plot_per_corruption(self, path: str, metric: Optional[str] = None
                            ) -> str:
        """One panel per corruption, lines as in :meth:`plot`."""
        metric = metric or self.metric
        plt = _pyplot()
        corrs = self.corruptions
        cols = min(5, max(1, len(corrs)))
        rows_n = max(1, math.ceil(len(corrs) / cols))
        fig, axes = plt.subplots(
            rows_n, cols, figsize=(3.2 * cols, 2.6 * rows_n), squeeze=False,
            sharex=True, sharey=True)
        sevs = [0] + self.severities
        styles = ['-', '--', ':', '-.']
        colors = dict(key='tab:blue', support='tab:orange', both='tab:red')
        for ax, c in zip(axes.flat, corrs):
            for i, m in enumerate(self.models):
                for t in self.targets:
                    if not any(r['model'] == m and r['target'] == t
                               for r in self.records):
                        continue
                    ys = [self.clean(m, metric)] + [
                        self.value(m, t, c, s, metric)
                        for s in self.severities
                    ]
                    ax.plot(
                        sevs,
                        [math.nan if y is None else 100 * y for y in ys],
                        linestyle=styles[i % len(styles)],
                        marker='.',
                        color=colors.get(t),
                        label=f'{m}: {t}')
            ax.set_title(c, fontsize=9)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(corrs):]:
            ax.axis('off')
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.supxlabel('severity (0 = clean)', fontsize=9)
        fig.supylabel(f'{metric} (%)', fontsize=9)
        top = 1 - 0.45 / (2.6 * rows_n)
        fig.tight_layout(rect=(0, 0, 1, top))
        fig.legend(handles, labels, loc='upper center',
                   bbox_to_anchor=(0.5, 1.0),
                   ncol=min(6, max(1, len(labels))), fontsize=8,
                   frameon=False)
        return _save(fig, path)


def _titled(table: AsciiTable) -> str:
    """The table with its title on a line of its own (AsciiTable drops a
    title longer than the table is wide)."""
    title, table.title = (table.title or '').strip(), None
    return f'{title}\n{table.table}' if title else table.table


def _key(r: dict) -> tuple:
    return (r['model'], r['target'], r['corruption'], r['severity'])


# --------------------------------------------------------------------------
# sweep results
# --------------------------------------------------------------------------
class SweepResults:
    """Clean metrics per model and test-time setting (K, stride, N_P, ...).

    A record is ``dict(model, setting, metrics)``; ``setting={}`` is the
    config as it is (the reference of every sweep).
    """

    def __init__(self, metric: str = DEFAULT_METRIC) -> None:
        self.metric = metric
        self.records: List[dict] = []
        self.models: 'OrderedDict[str, dict]' = OrderedDict()
        self.meta: Dict[str, Any] = {}

    def add_model(self, name: str, **info) -> None:
        self.models.setdefault(name, {}).update(info)

    def add(self, model: str, setting: Dict[str, Any],
            metrics: Dict[str, Any]) -> None:
        if model not in self.models:
            self.add_model(model)
        setting = dict(setting)
        self.records = [
            r for r in self.records
            if not (r['model'] == model and r['setting'] == setting)
        ]
        self.records.append(
            dict(model=model, setting=setting, metrics=dict(metrics)))

    def has(self, model: str, setting: Dict[str, Any]) -> bool:
        return any(r['model'] == model and r['setting'] == dict(setting)
                   for r in self.records)

    @property
    def keys(self) -> List[str]:
        return list(
            dict.fromkeys(k for r in self.records for k in r['setting']))

    def metric_names(self) -> List[str]:
        names: List[str] = []
        for r in self.records:
            names += [n for n in ap50_keys(r['metrics']) if n not in names]
        return names or [self.metric]

    def format_table(self) -> str:
        """One row per model and setting, one column per AP50 metric."""
        metrics = self.metric_names()
        short = [m.replace(DEFAULT_METRIC, 'AP50') for m in metrics]
        rows = [['model', 'setting'] + short]
        for r in self.records:
            rows.append([r['model'], setting_label(r['setting'])] +
                        [_pct(get_metric(r['metrics'], m)) for m in metrics])
        table = AsciiTable(rows, ' test-time ablation, clean (%) ')
        for i in range(2, len(rows[0])):
            table.justify_columns[i] = 'right'
        return _titled(table)

    def to_dict(self) -> Dict[str, Any]:
        return OrderedDict(
            kind='sweep',
            metric=self.metric,
            meta=self.meta,
            models=self.models,
            keys=self.keys,
            records=self.records)

    def dump(self, path: str) -> None:
        write_json(self.to_dict(), path)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'SweepResults':
        res = cls(data.get('metric', DEFAULT_METRIC))
        res.meta = dict(data.get('meta', {}))
        for name, info in data.get('models', {}).items():
            res.add_model(name, **info)
        for r in data.get('records', []):
            res.add(r['model'], r['setting'], r['metrics'])
        return res

    def plot(self, path: str, metric: Optional[str] = None) -> str:
        """One panel per swept key: the metric (and its motion splits /
        subsets when there is one model) vs the key's value; with several
        keys in one setting (a grid), one line per value of the others.
        The unchanged config (``setting={}``) of every model is drawn as a
        horizontal reference line."""
        metric = metric or self.metric
        plt = _pyplot()
        keys = self.keys or ['setting']
        fig, axes = plt.subplots(
            1, len(keys), figsize=(4.6 * len(keys), 3.8), squeeze=False)
        models = list(self.models)
        multi_metric = len(models) == 1
        metrics = self.metric_names() if multi_metric else [metric]
        styles = ['-', '--', ':', '-.']
        for ax, key in zip(axes.flat, keys):
            recs = [r for r in self.records if key in r['setting']]
            ticks: set = set()
            for mi, model in enumerate(models):
                mrecs = [r for r in recs if r['model'] == model]
                # group by the values of the other keys (grid sweeps)
                groups: 'OrderedDict[str, list]' = OrderedDict()
                for r in mrecs:
                    rest = {
                        k: v for k, v in r['setting'].items() if k != key
                    }
                    groups.setdefault(setting_label(rest) if rest else '',
                                      []).append(r)
                for gi, (glabel, grecs) in enumerate(groups.items()):
                    xs_raw = [r['setting'][key] for r in grecs]
                    numeric = all(
                        isinstance(x, (int, float)) and not isinstance(
                            x, bool) for x in xs_raw)
                    order = sorted(
                        range(len(grecs)),
                        key=lambda i: xs_raw[i] if numeric else i)
                    xs = [xs_raw[i] if numeric else _fmt_value(xs_raw[i])
                          for i in order]
                    if numeric:
                        ticks.update(xs)
                    for ki, m in enumerate(metrics):
                        ys = [
                            get_metric(grecs[i]['metrics'], m) for i in order
                        ]
                        label = ' '.join(
                            p for p in (
                                model if len(models) > 1 else '',
                                m.replace(DEFAULT_METRIC, 'AP50')
                                if len(metrics) > 1 else '', glabel) if p)
                        ax.plot(
                            xs, [math.nan if y is None else 100 * y
                                 for y in ys],
                            linestyle=styles[(mi + gi) % len(styles)],
                            marker='o',
                            color=f'C{ki if multi_metric else mi}',
                            label=label or model)
                ref = [
                    r for r in self.records
                    if r['model'] == model and not r['setting']
                ]
                if ref:
                    y = get_metric(ref[0]['metrics'], metric)
                    if y is not None:
                        ax.axhline(
                            100 * y,
                            color='gray' if multi_metric else f'C{mi}',
                            linestyle=':',
                            linewidth=1,
                            label=f'{model} (config)')
            if ticks and len(ticks) <= 12:
                ax.set_xticks(sorted(ticks))
            ax.set_xlabel(key)
            ax.set_ylabel(f'{"AP50" if multi_metric else metric} (%)')
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle('test-time ablation (clean)', fontsize=10)
        fig.tight_layout()
        return _save(fig, path)


# --------------------------------------------------------------------------
# plotting helpers
# --------------------------------------------------------------------------
def _pyplot():
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str) -> str:
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def suffixed(path: str, suffix: str) -> str:
    """``'out/plot.png', '_sweep'`` -> ``'out/plot_sweep.png'``."""
    stem, ext = osp.splitext(path)
    return f'{stem}{suffix}{ext or ".png"}'
