"""Text tables of the robustness tool's results (percent)."""
from typing import List, Optional, Sequence

from terminaltables import AsciiTable

from .pipeline import CLEAN
from .results import DEFAULT_METRIC, RobustnessResults, ap50_keys, get_metric
from .sweep import setting_label


def _pct(v: Optional[float], signed: bool = False) -> str:
    if v is None:
        return 'n/a'
    return f'{100 * v:+.1f}' if signed else f'{100 * v:.1f}'


def format_table(res: RobustnessResults, model: str, target: str,
                 metric: Optional[str] = None) -> str:
    """Rows: corruptions, then their mean; columns: the severities and
    the mean over them; the clean value and mPC / rPC in the title."""
    metric = metric or res.metric
    sevs = res.severities
    rows = [['corruption'] + [str(s) for s in sevs] + ['mean']]
    for c in res.corruptions:
        vals = [res.value(model, target, c, s, metric) for s in sevs]
        same = {
            r.get('same_as')
            for r in res.corruption_records if r['model'] == model
            and r['target'] == target and r['corruption'] == c
        } - {None}
        name = c + (f' (= {same.pop()})' if len(same) == 1 else '')
        rows.append([name] + [_pct(v) for v in vals] +
                    [_pct(res.corruption_mean(model, target, c, metric))])
    rows.append(['mean'] + [
        _pct(res.severity_mean(model, target, s, metric)) for s in sevs
    ] + [_pct(res.mpc(model, target, metric))])
    title = (f' {model} | target={target} | {metric} (%) | clean P='
             f'{_pct(res.clean(model, metric))} mPC='
             f'{_pct(res.mpc(model, target, metric))} rPC='
             f'{_pct(res.rpc(model, target, metric))} ')
    table = AsciiTable(rows, title)
    for i in range(1, len(rows[0])):
        table.justify_columns[i] = 'right'
    return _titled(table)


def format_compare(res: RobustnessResults,
                   target: str,
                   models: Optional[Sequence[str]] = None,
                   metric: Optional[str] = None) -> str:
    """Models side by side under one target: per corruption the mean
    over severities, the differences to the first model, then mPC and
    rPC."""
    metric = metric or res.metric
    models = list(models or res.models)
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

    line('clean (P)', [res.clean(m, metric) for m in models])
    for c in res.corruptions:
        line(c,
             [res.corruption_mean(m, target, c, metric) for m in models])
    line('mPC', [res.mpc(m, target, metric) for m in models])
    line('rPC', [res.rpc(m, target, metric) for m in models])
    sev = ','.join(str(s) for s in res.severities)
    table = AsciiTable(
        rows, f' target={target} | {metric} (%), mean over severities '
        f'{sev} ')
    for i in range(1, len(header)):
        table.justify_columns[i] = 'right'
    return _titled(table)


def format_overview(res: RobustnessResults,
                    metric: Optional[str] = None) -> str:
    """One row per model and target: P, the mean at every severity,
    mPC and rPC."""
    metric = metric or res.metric
    sevs = res.severities
    rows = [['model', 'target', 'clean'] + [f'sev {s}' for s in sevs] +
            ['mPC', 'rPC']]
    for m in res.models:
        for t in res.targets:
            if not res.ran(m, t):
                continue
            rows.append([m, t, _pct(res.clean(m, metric))] + [
                _pct(res.severity_mean(m, t, s, metric)) for s in sevs
            ] + [
                _pct(res.mpc(m, t, metric)),
                _pct(res.rpc(m, t, metric))
            ])
    table = AsciiTable(
        rows, f' {metric} (%), mean over {len(res.corruptions)} '
        'corruptions ')
    for i in range(2, len(rows[0])):
        table.justify_columns[i] = 'right'
    return _titled(table)


def format_metrics_overview(res: RobustnessResults) -> str:
    """One row per model and target, ``mPC / P`` of every AP50 metric
    (overall, motion splits, subsets such as ``deteriorated``)."""
    metrics: List[str] = []
    for m in res.models:
        clean = res.get(m, CLEAN, CLEAN, 0) or {}
        metrics += [k for k in ap50_keys(clean) if k not in metrics]
    if not metrics:
        return ''
    rows = [['model', 'target'] +
            [k.replace(DEFAULT_METRIC, 'AP50') for k in metrics]]
    for m in res.models:
        for t in res.targets:
            if not res.ran(m, t):
                continue
            rows.append([m, t] + [
                f'{_pct(res.mpc(m, t, k))} / {_pct(res.clean(m, k))}'
                for k in metrics
            ])
    table = AsciiTable(rows, ' mPC / clean P (%) of every AP50 metric ')
    for i in range(2, len(rows[0])):
        table.justify_columns[i] = 'right'
    return _titled(table)


def format_report(res: RobustnessResults,
                  metric: Optional[str] = None) -> str:
    """Every table: per model and target, the comparison per target
    (with two or more models) and the overview."""
    parts = []
    for m in res.models:
        for t in res.targets:
            if res.ran(m, t):
                parts.append(format_table(res, m, t, metric))
    if len(res.models) > 1:
        parts += [format_compare(res, t, metric=metric)
                  for t in res.targets]
    if res.targets:
        parts.append(format_overview(res, metric))
        overview = format_metrics_overview(res)
        if overview:
            parts.append(overview)
    return '\n\n'.join(parts)


def format_sweep(res: RobustnessResults) -> str:
    """One row per model and setting, one column per AP50 metric."""
    metrics = res.setting_metric_names()
    short = [m.replace(DEFAULT_METRIC, 'AP50') for m in metrics]
    rows = [['model', 'setting'] + short]
    for r in res.setting_records:
        rows.append([r['model'], setting_label(r['setting'])] +
                    [_pct(get_metric(r['metrics'], m)) for m in metrics])
    table = AsciiTable(rows, ' test-time ablation, clean (%) ')
    for i in range(2, len(rows[0])):
        table.justify_columns[i] = 'right'
    return _titled(table)


def _titled(table: AsciiTable) -> str:
    """The table with its title on a line of its own (AsciiTable drops a
    title longer than the table is wide)."""
    title, table.title = (table.title or '').strip(), None
    return f'{title}\n{table.table}' if title else table.table
