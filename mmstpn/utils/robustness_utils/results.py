"""The results of the robustness tool: one store of every run's metrics.

A run is one test of one model: the clean test of the config as it is, a
corruption x severity x target of it, or a test-time setting of a sweep
(K, stride, N_P, ...; clean). A record is ``dict(model, setting, target,
corruption, severity, metrics)`` (+ ``same_as``):

* ``setting={}`` is the config as it is; sweeps add clean records
  (``target=corruption='clean', severity=0``) with their setting, so the
  clean test of the config is stored once and is both P of the corruption
  tables and the reference of the sweep;
* ``same_as`` names the run whose metrics were reused when a target is
  identical to another for that model (see
  :func:`.pipeline.effective_target`).

Numbers: the metric dicts are VIDMetric's (``vid/bbox_mAP_50``,
``vid/bbox_mAP_50_<slow|medium|fast|subset>``, values in [0, 1], -1 = no
ground truth). Following mmdet's ``robustness_eval``: ``P`` is the clean
value, ``mPC`` the mean over the corruptions and severities 1..5 run,
``rPC = mPC / P``. Corruption figures use the records of ``setting={}``.
"""
import json
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional

from mmstpn.datasets.transforms.corruption import CLIP_CORRUPT_TARGETS
from .pipeline import CLEAN

DEFAULT_METRIC = 'bbox_mAP_50'


# ------------------------------------------------------------------ metrics
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


def mean(values: Iterable[Optional[float]]) -> Optional[float]:
    """Mean of the values that are not None (None when there is none)."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


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
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(_jsonable(data), f, indent=1)
    os.replace(tmp, path)


def _setting_key(setting: Optional[Dict[str, Any]]) -> str:
    return json.dumps(_jsonable(dict(setting or {})), sort_keys=True)


def _key(r: dict) -> tuple:
    return (r['model'], _setting_key(r.get('setting')), r['target'],
            r['corruption'], r['severity'])


# -------------------------------------------------------------------- store
class RobustnessResults:
    """Metrics of every run, per model (see the module docstring).

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
            same_as: Optional[str] = None,
            setting: Optional[Dict[str, Any]] = None) -> None:
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
            setting=dict(setting or {}),
            target=target,
            corruption=CLEAN if severity == 0 else corruption,
            severity=severity,
            metrics=dict(metrics))
        if same_as:
            rec['same_as'] = same_as
        self.records = [r for r in self.records if _key(r) != _key(rec)]
        self.records.append(rec)

    def add_setting(self, model: str, setting: Dict[str, Any],
                    metrics: Dict[str, Any]) -> None:
        """Add (or replace) the clean test of a sweep setting (``{}``: the
        config as it is, i.e. the clean run of the corruption tables)."""
        self.add(model, CLEAN, CLEAN, 0, metrics, setting=setting)

    def _find(self, model: str, target: str, corruption: str, severity: int,
              setting: Optional[Dict[str, Any]]) -> Optional[dict]:
        severity = int(severity)
        key = (model, _setting_key(setting), target,
               CLEAN if severity == 0 else corruption, severity)
        for r in self.records:
            if _key(r) == key:
                return r
        return None

    def has(self,
            model: str,
            target: str,
            corruption: str,
            severity: int,
            setting: Optional[Dict[str, Any]] = None) -> bool:
        return self._find(model, target, corruption, severity,
                          setting) is not None

    def has_setting(self, model: str, setting: Dict[str, Any]) -> bool:
        return self.has(model, CLEAN, CLEAN, 0, setting)

    # ------------------------------------------------------------ queries
    def get(self,
            model: str,
            target: str,
            corruption: str,
            severity: int,
            setting: Optional[Dict[str, Any]] = None
            ) -> Optional[Dict[str, Any]]:
        """The metrics of one run (None when not run)."""
        rec = self._find(model, target, corruption, severity, setting)
        return None if rec is None else rec['metrics']

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
        """P: the clean value of the config as it is."""
        return self.value(model, CLEAN, CLEAN, 0, metric)

    @property
    def corruption_records(self) -> List[dict]:
        """The records of the config as it is (clean and corrupted)."""
        return [r for r in self.records if not r['setting']]

    @property
    def setting_records(self) -> List[dict]:
        """The clean records (the config and every sweep setting), in the
        order they were added."""
        return [r for r in self.records if r['target'] == CLEAN]

    @property
    def setting_keys(self) -> List[str]:
        """The swept keys, in the order they first appear."""
        return list(
            dict.fromkeys(k for r in self.records for k in r['setting']))

    def ran(self, model: str, target: str) -> bool:
        """Whether ``model`` has corrupted runs for ``target``."""
        return any(r['model'] == model and r['target'] == target
                   for r in self.corruption_records)

    def _axes(self):
        recs = [r for r in self.corruption_records if r['severity'] > 0]
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
        return mean(
            self.value(model, target, corruption, s, metric)
            for s in self.severities)

    def severity_mean(self, model: str, target: str, severity: int,
                      metric: Optional[str] = None) -> Optional[float]:
        """Mean over the corruptions run at one severity (the clean value
        at severity 0)."""
        if severity == 0:
            return self.clean(model, metric)
        return mean(
            self.value(model, target, c, severity, metric)
            for c in self.corruptions)

    def mpc(self, model: str, target: str, metric: Optional[str] = None
            ) -> Optional[float]:
        """mPC: mean over all corruptions and severities run."""
        return mean(
            self.value(model, target, c, s, metric) for c in self.corruptions
            for s in self.severities)

    def rpc(self, model: str, target: str, metric: Optional[str] = None
            ) -> Optional[float]:
        """rPC = mPC / P."""
        p, m = self.clean(model, metric), self.mpc(model, target, metric)
        return None if p in (None, 0) or m is None else m / p

    def clean_metric_names(self, model: str) -> List[str]:
        """The AP50 keys of ``model``'s clean run (overall, motion splits,
        subsets); ``[metric]`` when it has none."""
        return ap50_keys(self.get(model, CLEAN, CLEAN, 0) or {}) or [
            self.metric
        ]

    def setting_metric_names(self) -> List[str]:
        """The AP50 keys of all clean records."""
        names: List[str] = []
        for r in self.setting_records:
            names += [n for n in ap50_keys(r['metrics']) if n not in names]
        return names or [self.metric]

    def summary(self) -> Dict[str, Any]:
        """Per model and target: P, mPC, rPC and the per-severity and
        per-corruption means, for every AP50 metric (overall, motion
        splits, subsets)."""
        out: Dict[str, Any] = OrderedDict()
        for model in self.models:
            per_model = OrderedDict()
            for target in self.targets:
                per_target = OrderedDict()
                for m in self.clean_metric_names(model):
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
            setting_keys=self.setting_keys,
            records=self.records,
            summary=self.summary())

    def dump(self, path: str) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        write_json(self.to_dict(), path)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'RobustnessResults':
        """The store of :meth:`to_dict` (a record without ``setting`` is
        of the config as it is)."""
        res = cls(data.get('metric', DEFAULT_METRIC))
        res.meta = dict(data.get('meta', {}))
        for name, info in data.get('models', {}).items():
            res.add_model(name, **info)
        for r in data.get('records', []):
            res.add(r['model'], r['target'], r['corruption'], r['severity'],
                    r['metrics'], r.get('same_as'), r.get('setting'))
        return res

    @classmethod
    def load(cls, path: str) -> 'RobustnessResults':
        with open(path) as f:
            return cls.from_dict(json.load(f))
