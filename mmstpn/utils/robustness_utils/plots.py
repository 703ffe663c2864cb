"""Plots of the robustness tool's results (matplotlib, Agg)."""
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import Optional

from .pipeline import CLEAN
from .results import DEFAULT_METRIC, RobustnessResults, get_metric
from .sweep import format_value, setting_label


def plot_severity(res: RobustnessResults,
                  path: str,
                  metric: Optional[str] = None,
                  title: Optional[str] = None) -> str:
    """Metric vs severity (0 = clean), averaged over the corruptions:
    one line per target (colour) and model (line style)."""
    metric = metric or res.metric
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    sevs = [0] + res.severities
    styles = ['-', '--', ':', '-.']
    markers = ['o', 's', '^', 'D']
    colors = dict(key='tab:blue', support='tab:orange', both='tab:red')
    for i, m in enumerate(res.models):
        for t in res.targets:
            if not res.ran(m, t):
                continue
            ys = [res.severity_mean(m, t, s, metric) for s in sevs]
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
                 f'(mean of {len(res.corruptions)} corruptions)',
                 fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)

def plot_per_corruption(res: RobustnessResults,
                        path: str,
                        metric: Optional[str] = None) -> str:
    """One panel per corruption, lines as in :meth:`plot`."""
    metric = metric or res.metric
    plt = _pyplot()
    corrs = res.corruptions
    cols = min(5, max(1, len(corrs)))
    rows_n = max(1, math.ceil(len(corrs) / cols))
    fig, axes = plt.subplots(
        rows_n, cols, figsize=(3.2 * cols, 2.6 * rows_n), squeeze=False,
        sharex=True, sharey=True)
    sevs = [0] + res.severities
    styles = ['-', '--', ':', '-.']
    colors = dict(key='tab:blue', support='tab:orange', both='tab:red')
    for ax, c in zip(axes.flat, corrs):
        for i, m in enumerate(res.models):
            for t in res.targets:
                if not res.ran(m, t):
                    continue
                ys = [res.clean(m, metric)] + [
                    res.value(m, t, c, s, metric)
                    for s in res.severities
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


def plot_sweep(res: RobustnessResults,
               path: str,
               metric: Optional[str] = None) -> str:
    """One panel per swept key: the metric (and its motion splits /
    subsets when there is one model) vs the key's value; with several
    keys in one setting (a grid), one line per value of the others.
    The unchanged config (``setting={}``) of every model is drawn as a
    horizontal reference line."""
    metric = metric or res.metric
    plt = _pyplot()
    keys = res.setting_keys or ['setting']
    fig, axes = plt.subplots(
        1, len(keys), figsize=(4.6 * len(keys), 3.8), squeeze=False)
    models = list(res.models)
    multi_metric = len(models) == 1
    metrics = res.setting_metric_names() if multi_metric else [metric]
    styles = ['-', '--', ':', '-.']
    for ax, key in zip(axes.flat, keys):
        recs = [r for r in res.setting_records if key in r['setting']]
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
                xs = [xs_raw[i] if numeric else format_value(xs_raw[i])
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
            y = get_metric(res.get(model, CLEAN, CLEAN, 0), metric)
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
