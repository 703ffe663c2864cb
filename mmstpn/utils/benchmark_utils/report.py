"""Text table and JSON output of :func:`.run.run_benchmark` results."""
import json
from typing import Any, Dict, List, Optional


def _ms(v: Optional[float]) -> str:
    return '-' if v is None else f'{1000 * v:.1f}'


def _num(v: Optional[float], fmt: str = '{:.3f}') -> str:
    return '-' if v is None else fmt.format(v)


def _mib(v: Optional[int]) -> str:
    return '-' if v is None else f'{v / 2**20:.0f}'


def _g(v: Optional[float]) -> str:
    return '-' if v is None else f'{v / 1e9:.3g}'


def _row(cells: List[str], widths: List[int]) -> str:
    first = cells[0].ljust(widths[0])
    rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
    return '  '.join([first] + rest)


def format_report(results: Dict[str, Any]) -> str:
    """A plain-text table of every figure, ratios and goal checks."""
    s = results['settings']
    models = results['models']
    names = list(models)
    two = len(names) == 2
    ratios = results.get('ratios', {})
    spread = results.get('ratio_spread', {})
    lines = []
    h, w = s['img_size']
    hp, wp = s['batch_input_size']
    lines.append(
        f"device {s['device']} ({s.get('gpu') or s.get('processor')}, "
        f"{s['threads']} threads, load avg at start "
        f"{', '.join(f'{v:.1f}' for v in s.get('loadavg_at_start', []))}); "
        f'input {h}x{w} (batch {hp}x{wp}); K={s["num_support"]} '
        f'S={s["stride"]}; warm-up {s["warmup"]}, repeats {s["repeats"]}'
        + (f', frame cap {s["frame_cap"]}' if s['frame_cap'] else ''))
    for name in names:
        lines.append(f'  {name}: {models[name]["label"]}'
                     f'{" (prompted)" if models[name]["prompted"] else ""}')
    header = ['figure'] + names + (['ratio', 'ratio range'] if two else [])
    rows: List[List[str]] = []

    def add(label, values, rkey=None, fmt=None):
        row = [label] + [fmt(v) if fmt else str(v) for v in values]
        if two:
            r = ratios.get(rkey) if rkey else None
            sp = spread.get(rkey) if rkey else None
            rng = '-' if not sp or sp['min'] is None else \
                f"{sp['min']:.3f}-{sp['max']:.3f}"
            row += [_num(r), rng]
        rows.append(row)

    add('params total (M)',
        [models[n]['params']['total'] / 1e6 for n in names], 'params_total',
        lambda v: f'{v:.3f}')
    add('params predictor (M)',
        [models[n]['params']['predictor'] / 1e6 for n in names], None,
        lambda v: f'{v:.4f}')
    if all('backbone_ops' in models[n] for n in names):
        add('backbone aten operator calls (1 pass)',
            [models[n]['backbone_ops'] for n in names],
            'backbone_operator_calls')
    for mode in s['modes']:
        lat = [models[n].get('latency', {}).get(mode, {}) for n in names]
        fl = [models[n].get('flops', {}).get(mode, {}) for n in names]
        mem = [models[n].get('memory', {}).get(mode, {}) for n in names]
        keys = list(lat[0]) if lat and lat[0] else []
        for length in keys:
            figs = [x.get(length, {}) for x in lat]
            star = '*' if figs[0].get('extrapolated') else ''
            tag = (f'offline L={length}{star}'
                   if mode == 'offline' else f'online S={s["stride"]}')
            rkey = (f'offline_latency@{length}'
                    if mode == 'offline' else 'online_latency')
            add(f'{tag} ms/frame', [f.get('per_frame_s') for f in figs],
                rkey, _ms)
            add(f'{tag} FPS', [f.get('fps') for f in figs], None,
                lambda v: _num(v, '{:.2f}'))
            fkey = (f'offline_flops@{length}'
                    if mode == 'offline' else 'online_flops')
            add(f'{tag} GFLOPs/frame',
                [f.get('per_frame', {}).get(length) for f in fl], fkey, _g)
        if keys:
            first = [x[keys[0]] for x in lat]
            add(f'{mode} {"later " if mode == "offline" else ""}frames '
                'p10/med/p90 ms', [
                f"{_ms(f['frames']['p10'])}/{_ms(f['frames']['median'])}/"
                f"{_ms(f['frames']['p90'])}" for f in first
            ])
            if mode == 'offline':
                add('offline frame 0 ms (median)',
                    [f['first_frame']['median'] for f in first], None, _ms)
            pkey = ('offline_later_frame_paired'
                    if mode == 'offline' else 'online_frame_paired')
            if two and ratios.get(pkey) is not None:
                add(f'{mode} {"later " if mode == "offline" else ""}frame '
                    'ratio, paired median', ['', ''], pkey)
        if any(mem):
            add(f'{mode} peak memory (MiB)',
                [m.get('peak_bytes') for m in mem], f'{mode}_peak_memory',
                _mib)
    tr = [models[n].get('train') for n in names]
    if all(tr):
        add('train step s (median)', [t['step_s'] for t in tr],
            'train_step_time', lambda v: _num(v, '{:.3f}'))
        if all('memory' in t for t in tr):
            add('train peak memory (MiB)',
                [t['memory']['peak_bytes'] for t in tr], 'train_peak_memory',
                _mib)
    tp = [models[n].get('throughput') for n in names]
    if all(tp):
        for size in tp[0]:
            figs = [t.get(size, {}) for t in tp]
            add(f'offline batch {size} frames/s',
                [f.get('fps') for f in figs], f'batched_latency@{size}',
                lambda v: _num(v, '{:.2f}'))
    widths = [
        max(len(r[i]) for r in rows + [header]) for i in range(len(header))
    ]
    lines.append(_row(header, widths))
    lines.append('-' * (sum(widths) + 2 * (len(widths) - 1)))
    lines.extend(_row(r, widths) for r in rows)
    if two:
        lines.append('')
        lines.append(f'goals ({results["ratio_of"]}; reported, never '
                     'enforced; set for K=14, S=4, training K=2 - this run: '
                     f'K={s["num_support"]}, S={s["stride"]}, training '
                     f'K={s["train_num_support"]}):')
        for g in results.get('goals', []):
            lines.append(f"  {g['status']:4s} {g['text']}: "
                         f"{_num(g['ratio'])} (goal <= {g['limit']:.2f})")
    if all(tp):
        lines.append('  (batched rows: the ratio is per-frame time first / '
                     'second = frames/s second / first)')
    if 'compile' in results:
        lines.extend(_compile_lines(results['compile'],
                                    max(int(v) for v in s['video_lengths'])))
    vs = results.get('latency_vs_baseline')
    if vs:
        lines.append('')
        lines.append('per-frame latency / baseline (one run, models '
                     'alternating frame by frame; reference / support work '
                     'and memory included):')
        for name, row in vs.items():
            cells = ', '.join(f'{k} {_num(v, "{:.2f}")}'
                              for k, v in row.items())
            lines.append(f'  {name}: {cells}')
    lines.append('')
    lines.append('notes:')
    lines.extend(f'  - {n}' for n in results.get('notes', []))
    if 'flop_counting' in results:
        lines.append(
            '  - FLOPs: whole detector per frame (jit trace of '
            'model.predict), mmengine FlopAnalyzer, 1 multiply-add = 1 flop '
            '(GFLOPs here = GMACs); added handles: scaled_dot_product_'
            'attention = B*Lq*Lk*(d+dv) for its two matmuls + B*Lq*Lk per '
            'softmax and per additive mask, softmax 1/element, add/sub/mul/'
            'div 1/output element, mean/sum 1/input element, RoIAlign '
            '4/output element; layer_norm 5/element (mmengine default); '
            'GELU/ReLU, NMS, copies not counted (flop_counting and '
            'uncounted_ops in the JSON)')
    mem_method = None
    for n in names:
        for m in models[n].get('memory', {}).values():
            mem_method = m.get('method')
    if mem_method:
        lines.append(f'  - peak memory = parameters + buffers (+ optimizer '
                     f'state for training) + peak extra measured as '
                     f'{mem_method}, one model at a time')
    return '\n'.join(lines)


def _compile_lines(c: Dict[str, Any], length: int) -> List[str]:
    lines = ['', f'torch.compile {c["options"]} (alternating with eager; '
             f'graphs compiled during the timed frames: '
             f'{c["graphs_compiled_during_timed_frames"]}):']
    for name, f in c['models'].items():
        extra = ''
        if 'compile_s' in f:
            d = f['difference']
            firsts = '/'.join(f'{t:.1f}' for t in f['compile_s'])
            extra = (f'; first two frames {firsts} s'
                     f'; max |compiled - eager| {d["max_abs"]:.2e} '
                     f'(rel {_num(d["max_rel"], "{:.1e}")})')
        lines.append(f'  {name}: later frame {_ms(f["later_frame_s"])} ms, '
                     f'offline L={length} '
                     f'{_ms(f["offline"][str(length)]["per_frame_s"])} '
                     f'ms/frame{extra}')
    for key, v in c['ratios'].items():
        lines.append(f'  {key}: {_num(v)}')
    return lines


def write_json(results: Dict[str, Any], path: str) -> None:
    """Write every figure to ``path``."""
    with open(path, 'w') as f:
        json.dump(results, f, indent=1, default=_default)


def _default(obj):
    if hasattr(obj, 'item'):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)
