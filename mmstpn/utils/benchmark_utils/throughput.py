"""Batched offline inference: frames/s at several batch sizes.

After frame 0 (alone: it carries the K support frames and computes the
video's prompts), the later frames of an offline video go through
``model.predict`` in batches of B frames of the same video; a prompted
backbone takes every item's prompts from the video's cache. The models
alternate batch by batch, as in the latency phases.
"""
from typing import Any, Dict, List, Sequence

from torch import nn

from mmstpn.utils.benchmark import alternating, median, summarize
from .measure import BenchSettings, run_frame
from .video import FrameStream, SyntheticVideo


def batch_schedule(batch: int, frames: int, start: int = 1) -> List[List[int]]:
    """Later frames ``start, start+1, ...`` in ``ceil(frames / batch)``
    batches of ``batch`` frames each."""
    if batch < 1 or frames < 1:
        raise ValueError(f'batch and frames must be >= 1, got {batch}, '
                         f'{frames}')
    n = -(-frames // batch)
    return [list(range(start + i * batch, start + (i + 1) * batch))
            for i in range(n)]


def measure_throughput(models: Dict[str, nn.Module], video: SyntheticVideo,
                       s: BenchSettings, batches: Sequence[int],
                       frames: int, log=print) -> Dict[str, Any]:
    """Steady-state frames/s of each model at each batch size (median batch
    time over ``frames`` later frames, after one warm-up batch per size)."""
    out: Dict[str, Any] = {name: {} for name in models}
    names = list(models)
    for b in batches:
        log(f'  throughput: batch {b}')
        # warm-up batch + the timed ones; frame 0 first (untimed)
        schedule = batch_schedule(b, frames + b)
        length = 1 + sum(len(x) for x in schedule)
        streams = {
            name: FrameStream(m, video, 'offline', length, s.num_support,
                              s.stride, f'throughput-{b}')
            for name, m in models.items()
        }
        times: Dict[str, List[float]] = {name: [] for name in models}
        for name in names:
            x, samples = streams[name].inputs(0)
            run_frame(models[name], x.to(video.device), samples, s.device)
        for i, ts in enumerate(schedule):
            for name in alternating(names, i):
                x, samples = streams[name].batch_inputs(ts)
                x = x.to(video.device)
                t = run_frame(models[name], x, samples, s.device)
                if i > 0:
                    times[name].append(t)
        for name in names:
            med = median(times[name])
            out[name][str(b)] = dict(
                batch=b,
                fps=b / med if med > 0 else None,
                per_frame_s=med / b,
                batch_s=summarize(times[name]),
                timed_frames=b * len(times[name]))
    for name in names:
        for size, fold in batch_speedups(out[name]).items():
            out[name][size]['speedup_over_batch_1'] = fold
    return out


def throughput_ratios(a: Dict[str, Any],
                      b: Dict[str, Any]) -> Dict[str, float]:
    """Per-frame time of ``a`` over ``b`` (= frames/s of ``b`` over ``a``,
    the convention of the latency ratios: > 1 means ``a`` is slower) per
    batch size."""
    r: Dict[str, float] = {}
    for size, fa in a.items():
        fb = b.get(size)
        if fb and fa['fps'] and fb['fps']:
            r[f'batched_latency@{size}'] = fb['fps'] / fa['fps']
    return r


def batch_speedups(figs: Dict[str, Any]) -> Dict[str, float]:
    """frames/s at each batch size over frames/s at batch 1."""
    one = figs.get('1', {}).get('fps')
    if not one:
        return {}
    return {size: f['fps'] / one for size, f in figs.items() if f['fps']}
