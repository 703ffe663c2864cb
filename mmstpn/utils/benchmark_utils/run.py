"""One benchmark run: the models' parameters, every measured phase,
ratios of the first model to the second and the cost goals."""
import os
import platform
from dataclasses import asdict
from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn

from mmstpn.utils.benchmark import COUNTING_RULES, median, paired_ratios, ratio
from .compiled import measure_compiled
from .estimators import check_goals
from .measure import (BenchSettings, count_backbone_ops, measure_flops,
                      measure_inference, measure_inference_memory,
                      measure_training)
from .throughput import measure_throughput, throughput_ratios
from .video import SyntheticVideo, uses_prompts, uses_references


def count_params(model: nn.Module) -> Dict[str, int]:
    """Parameters of the whole model, its backbone and the DVP predictor."""
    backbone = getattr(model, 'backbone', None)
    predictor = getattr(backbone, 'predictor', None)

    def n(m):
        return 0 if m is None else sum(p.numel() for p in m.parameters())

    return dict(total=n(model), backbone=n(backbone), predictor=n(predictor))


def share_weights(src: nn.Module, dst: nn.Module) -> Tuple[int, int]:
    """Copy into ``dst`` every tensor of ``src`` with the same name and shape
    (e.g. everything but the predictor from STPN into its no-prompt
    baseline), so both detectors see the same proposals and NMS load.
    Returns (copied, tensors of dst)."""
    src_state = src.state_dict()
    dst_state = dst.state_dict()
    update = {
        k: v
        for k, v in src_state.items()
        if k in dst_state and dst_state[k].shape == v.shape
    }
    dst.load_state_dict(update, strict=False)
    return len(update), len(dst_state)


# ---------------------------------------------------------- the whole run
NOTES = (
    'Inference only: synthetic frames fed one at a time through '
    'model.predict (backbone, neck, RPN, RoI head, NMS); no data loading, '
    'no pre-processing.',
    'Offline mode INCLUDES the per-video prompt computation (K unprompted '
    'support passes + the DVP predictor at frame 0), amortised over the '
    'video: per frame about 1 + K/L backbone passes, so short videos pay '
    'more. The authors\' speed test left this out.',
    'Online mode: every S-th frame\'s unprompted pass is computed once and '
    'cached; each frame predicts its prompts from the K latest cached '
    'embeddings.',
    'Latency estimators: offline = (median frame-0 time + (L-1) x median '
    'later-frame time) / L; online = mean over the S phases (t mod S) of '
    'the median frame time. Models alternate frame by frame.',
)


def run_benchmark(models: Dict[str, nn.Module],
                  s: BenchSettings,
                  labels: Optional[Dict[str, str]] = None,
                  log=print) -> Dict[str, Any]:
    """Measure ``models`` and return every figure (JSON-serialisable).

    With two or more, ``ratios`` are first / second (the main model and its
    baseline, checked against :data:`.estimators.GOALS`); with a model
    named ``'baseline'``, ``latency_vs_baseline`` holds every model's
    per-frame latency ratio to it (all measured in this run, alternating
    frame by frame)."""
    if not models:
        raise ValueError('run_benchmark needs at least one model')
    torch.manual_seed(s.seed)
    video = SyntheticVideo(s.img_size, s.pad_divisor, seed=s.seed,
                           device=s.device)
    for m in models.values():
        m.eval()
    results: Dict[str, Any] = dict(
        settings=_settings_dict(s, video),
        notes=list(NOTES),
        models={
            name: dict(
                label=(labels or {}).get(name, name),
                prompted=uses_prompts(m),
                references=uses_references(m),
                params=count_params(m))
            for name, m in models.items()
        })
    if s.frame_cap:
        results['notes'].append(
            f'--frame-cap {s.frame_cap}: longer offline videos are measured '
            'on their first frames and the rest extrapolated with the median '
            'later frame (marked *)')
    load = results['settings'].get('loadavg_at_start')
    cores = os.cpu_count() or 1
    if load and s.device == 'cpu' and load[0] > 0.5 * cores:
        results['notes'].append(
            f'the machine was busy at the start (load average {load[0]:.1f} '
            f'on {cores} cores): absolute times are inflated and noisy; the '
            'ratios come from alternated measurements (see ratio range and '
            'the paired later-frame ratio). On a shared CPU --threads 1 '
            'avoids OpenMP oversubscription stalls.')
    if 'online' in s.modes and s.online_length < s.num_support * s.stride:
        results['notes'].append(
            'online stream shorter than K*S frames: its prompts come from '
            'fewer than K support frames (a slightly cheaper predictor)')
    for name, m in models.items():
        results['models'][name]['backbone_ops'] = count_backbone_ops(m, video)
    if s.flops:
        for name, m in models.items():
            log(f'FLOPs: {name}')
            results['models'][name]['flops'] = measure_flops(m, video, s)
        results['flop_counting'] = COUNTING_RULES
    if s.modes:
        log('inference latency (alternating)')
        lat = measure_inference(models, video, s, log)
        for name in models:
            results['models'][name]['latency'] = lat[name]
    if s.memory and s.modes:
        for name, m in models.items():
            log(f'inference memory: {name}')
            results['models'][name]['memory'] = measure_inference_memory(
                m, video, s)
    if s.train_step:
        log('training step (alternating)')
        tr = measure_training(models, video, s, log)
        for name in models:
            results['models'][name]['train'] = tr[name]
    if s.throughput_batches:
        log('batched offline throughput (alternating)')
        tp = measure_throughput(models, video, s, s.throughput_batches,
                                s.throughput_frames, log)
        for name in models:
            results['models'][name]['throughput'] = tp[name]
    if s.compile is not None:
        log('eager vs torch.compile (alternating)')
        results['compile'] = measure_compiled(models, video, s, s.compile,
                                              s.compile_frames, log)
    try:
        results['settings']['loadavg_at_end'] = list(os.getloadavg())
    except (AttributeError, OSError):
        pass
    if 'baseline' in models and len(models) > 1 and s.modes:
        results['latency_vs_baseline'] = latency_vs_baseline(
            results['models'])
    if len(models) >= 2:
        a, b = list(models)[:2]
        results['ratios'], results['ratio_spread'] = compute_ratios(
            results['models'][a], results['models'][b])
        results['ratio_of'] = f'{a} / {b}'
        results['goals'] = check_goals(results['ratios'])
    return results


def latency_vs_baseline(figures: Dict[str, Any]
                        ) -> Dict[str, Dict[str, Optional[float]]]:
    """Per-frame latency of every model / that of ``'baseline'``:
    ``{model: {'offline@L' | 'online': ratio, 'offline_later_frame_paired':
    median ratio of later frames run back to back}}``."""
    base = figures['baseline'].get('latency', {})
    out: Dict[str, Dict[str, Optional[float]]] = {}
    for name, fig in figures.items():
        if name == 'baseline':
            continue
        row: Dict[str, Optional[float]] = {}
        for mode, per_length in fig.get('latency', {}).items():
            for length, fa in per_length.items():
                fb = base.get(mode, {}).get(length)
                if fb is None:
                    continue
                key = f'offline@{length}' if mode == 'offline' else 'online'
                row[key] = ratio(fa['per_frame_s'], fb['per_frame_s'])
                if mode == 'offline':
                    later = [
                        x for ra, rb in zip(fa['raw_s'], fb['raw_s'])
                        for x in paired_ratios(ra, rb)[1:]
                    ]
                    if later:
                        row['offline_later_frame_paired'] = median(later)
        out[name] = row
    return out


def compute_ratios(a: Dict[str, Any], b: Dict[str, Any]
                   ) -> Tuple[Dict[str, Optional[float]], Dict[str, Any]]:
    """Ratios a / b of every paired figure, and the range of the per-repeat
    latency ratios."""
    r: Dict[str, Optional[float]] = {}
    spread: Dict[str, Any] = {}
    for key in ('total', 'backbone', 'predictor'):
        r[f'params_{key}'] = ratio(a['params'][key], b['params'][key])
    if 'backbone_ops' in a and 'backbone_ops' in b:
        r['backbone_operator_calls'] = ratio(a['backbone_ops'],
                                             b['backbone_ops'])
    lat_a, lat_b = a.get('latency', {}), b.get('latency', {})
    for mode in ('offline', 'online'):
        if mode not in lat_a or mode not in lat_b:
            continue
        for length, fa in lat_a[mode].items():
            fb = lat_b[mode].get(length)
            if fb is None:
                continue
            name = (f'offline_latency@{length}'
                    if mode == 'offline' else 'online_latency')
            r[name] = ratio(fa['per_frame_s'], fb['per_frame_s'])
            per = paired_ratios(fa['per_repeat_s'], fb['per_repeat_s'])
            spread[name] = dict(
                per_repeat=per,
                min=min(per) if per else None,
                max=max(per) if per else None)
            # frame t of A and frame t of B ran back to back: their ratio
            # is robust to slow load changes
            pairs = [
                paired_ratios(ra, rb)
                for ra, rb in zip(
                    fa.get('raw_s', []), fb.get('raw_s', []))
            ]
            if mode == 'offline':
                later = [x for p in pairs for x in p[1:]]
                if later:
                    r['offline_later_frame_paired'] = median(later)
            else:
                flat = [x for p in pairs for x in p]
                if flat:
                    r['online_frame_paired'] = median(flat)
    fl_a, fl_b = a.get('flops', {}), b.get('flops', {})
    for mode in ('offline', 'online'):
        if mode not in fl_a or mode not in fl_b:
            continue
        for length, va in fl_a[mode]['per_frame'].items():
            vb = fl_b[mode]['per_frame'].get(length)
            name = (f'offline_flops@{length}'
                    if mode == 'offline' else 'online_flops')
            r[name] = ratio(va, vb)
    mem_a, mem_b = a.get('memory', {}), b.get('memory', {})
    for mode in ('offline', 'online'):
        if mode in mem_a and mode in mem_b:
            r[f'{mode}_peak_memory'] = ratio(
                mem_a[mode]['peak_bytes'], mem_b[mode]['peak_bytes'])
    if 'throughput' in a and 'throughput' in b:
        r.update(throughput_ratios(a['throughput'], b['throughput']))
    tr_a, tr_b = a.get('train'), b.get('train')
    if tr_a and tr_b:
        r['train_step_time'] = ratio(tr_a['step_s'], tr_b['step_s'])
        if 'memory' in tr_a and 'memory' in tr_b:
            r['train_peak_memory'] = ratio(
                tr_a['memory']['peak_bytes'], tr_b['memory']['peak_bytes'])
    return r, spread


def _settings_dict(s: BenchSettings, video: SyntheticVideo) -> dict:
    d = asdict(s)
    d['img_size'] = list(video.img_size)
    d['batch_input_size'] = list(video.pad_size)
    d['video_lengths'] = list(s.video_lengths)
    d['modes'] = list(s.modes)
    d['torch'] = torch.__version__
    d['threads'] = torch.get_num_threads()
    d['machine'] = platform.machine()
    d['processor'] = platform.processor() or platform.platform()
    if torch.device(s.device).type == 'cuda':
        d['gpu'] = torch.cuda.get_device_name(torch.device(s.device))
    d['cpu_count'] = os.cpu_count()
    try:
        d['loadavg_at_start'] = list(os.getloadavg())
    except (AttributeError, OSError):
        pass
    return d
