"""The measured phases of the benchmark: inference latency (the models
alternating frame by frame), FLOPs per frame, inference memory and the
training step.

Every timed phase ALTERNATES the models frame by frame (A,B then B,A), so
that drift and background load hit both equally; each model keeps its own
test-time cache, so interleaving its frames with the other model's changes
nothing. Estimators are medians (see :mod:`.estimators`).
"""
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from mmstpn.utils.benchmark import (PeakMemory, Timer, alternating,
                                    flops_of_call, median,
                                    module_state_bytes,
                                    optimizer_state_bytes, summarize)
from .estimators import amortized_latency, offline_latency, phase_latency
from .video import (FrameStream, SyntheticVideo, prefill_online_cache,
                    reset_video_cache, uses_prompts, uses_references)


@dataclass
class BenchSettings:
    """What to measure (see the CLI for the meaning of each field)."""
    img_size: Tuple[int, int] = (600, 1000)
    pad_divisor: int = 32
    video_lengths: Sequence[int] = (30, 100, 317)
    online_length: int = 100
    num_support: int = 14
    stride: int = 4
    modes: Sequence[str] = ('offline', 'online')
    warmup: int = 2
    repeats: int = 3
    frame_cap: Optional[int] = None
    device: str = 'cpu'
    flops: bool = True
    memory: bool = True
    train_step: bool = False
    train_num_support: int = 2
    train_batch_size: int = 1
    train_steps: int = 5
    train_lr: float = 2.5e-5
    seed: int = 0
    throughput_batches: Sequence[int] = ()
    throughput_frames: int = 16
    compile: Optional[Dict[str, Any]] = None
    compile_frames: int = 6
    extra: Dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------ streams
def run_frame(model: nn.Module, x: torch.Tensor, samples: list,
              device: str) -> float:
    """Seconds of one ``model.predict`` call (no grad, synchronised)."""
    with torch.no_grad(), Timer(device) as timer:
        model.predict(x, samples)
    return timer.elapsed


def run_alternating(streams: Dict[str, FrameStream], num_frames: int,
                    device: str, offset: int = 0) -> Dict[str, List[float]]:
    """Feed frames ``0..num_frames-1`` of each stream to its model, the
    models alternating frame by frame; returns per-frame seconds."""
    times: Dict[str, List[float]] = {name: [] for name in streams}
    names = list(streams)
    for t in range(num_frames):
        for name in alternating(names, t + offset):
            stream = streams[name]
            x, samples = stream.inputs(t)  # not timed
            x = x.to(stream.video.device)
            times[name].append(run_frame(stream.model, x, samples, device))
    return times


def offline_plans(lengths: Sequence[int],
                  cap: Optional[int]) -> Dict[int, List[int]]:
    """Measured stream length -> the video lengths it stands for. Without
    a cap each video is run in full; with one, longer videos share one
    ``cap``-frame stream and their later frames are extrapolated (every
    offline frame after frame 0 does the same work)."""
    plans: Dict[int, List[int]] = defaultdict(list)
    for length in sorted(set(int(v) for v in lengths)):
        if length < 1:
            raise ValueError(f'video lengths must be >= 1, got {length}')
        plans[min(length, cap) if cap else length].append(length)
    return dict(plans)


# ------------------------------------------------------------ the phases
def measure_inference(models: Dict[str, nn.Module], video: SyntheticVideo,
                      s: BenchSettings, log=print) -> Dict[str, Any]:
    """Per-frame latency of each model in each mode (alternating)."""
    out: Dict[str, Any] = {name: {} for name in models}
    for mode in s.modes:
        if mode == 'offline':
            plans = offline_plans(s.video_lengths, s.frame_cap)
        else:  # the online stream is run in full (--online-length)
            plans = {s.online_length: [s.online_length]}
        # warm-up: a short video per model in this mode (frame 0 included)
        if s.warmup > 0:
            warm = {
                name: FrameStream(m, video, mode, max(s.video_lengths),
                                  s.num_support, s.stride, f'warmup-{mode}')
                for name, m in models.items()
            }
            run_alternating(warm, s.warmup, s.device)
        raw: Dict[str, Dict[int, List[List[float]]]] = {
            name: defaultdict(list)
            for name in models
        }
        for rep in range(s.repeats):
            for n, lengths in plans.items():
                streams = {
                    name: FrameStream(m, video, mode, max(lengths),
                                      s.num_support, s.stride,
                                      f'{mode}-{n}-{rep}')
                    for name, m in models.items()
                }
                log(f'  {mode}: repeat {rep + 1}/{s.repeats}, {n} frames')
                times = run_alternating(streams, n, s.device, offset=rep)
                for name in models:
                    raw[name][n].append(times[name])
        for name in models:
            res: Dict[str, Any] = {}
            for n, lengths in plans.items():
                runs = raw[name][n]
                for length in lengths:
                    res[str(length)] = _stream_figures(
                        mode, runs, length, n, s.stride)
            out[name][mode] = res
    return out


def _stream_figures(mode: str, runs: List[List[float]], length: int,
                    measured: int, stride: int) -> Dict[str, Any]:
    """Figures of one mode / video length from the repeats' frame times."""
    if mode == 'offline':
        per_rep = [offline_latency(r, length) for r in runs]
        firsts = [r[0] for r in runs]
        steady = [t for r in runs for t in r[1:]] or firsts
        latency = amortized_latency(
            median(firsts), median(steady), length)
        first = summarize(firsts)
    else:
        per_rep = [phase_latency(r, stride) for r in runs]
        steady = [t for r in runs for t in r]
        # pool the repeats phase by phase
        pooled = [[] for _ in range(stride)]
        for r in runs:
            for p in range(stride):
                pooled[p].extend(r[p::stride])
        meds = [median(p) for p in pooled if p]
        latency = sum(meds) / len(meds)
        first = None
    fig = dict(
        per_frame_s=latency,
        fps=1. / latency if latency > 0 else None,
        per_repeat_s=per_rep,
        frames=summarize(steady),
        measured_frames=measured,
        video_length=length,
        extrapolated=measured < length,
        raw_s=runs)
    if first is not None:
        fig['first_frame'] = first
    return fig


def measure_flops(model: nn.Module, video: SyntheticVideo,
                  s: BenchSettings) -> Dict[str, Any]:
    """FLOPs per frame (whole detector, attention included) in each mode.

    A model without prompts: one traced frame. Offline: frame 0 (K support
    passes + predictor + prompted pass) and a later frame (prompted pass
    with cached prompts), amortised over each video length. Online, at
    steady state (K past supports cached; the cache is pre-filled with K
    embeddings of the right shape instead of running K*S frames): a grid
    frame (its own unprompted pass is also cached) and a non-grid frame,
    averaged over the period S.
    """
    model.eval()
    out: Dict[str, Any] = {}
    if not uses_references(model):
        stream = FrameStream(model, video, 'offline', 1, s.num_support,
                             s.stride, 'flops')
        one = flops_of_call(model, stream.predict_fn(0),
                            stream.raw_inputs(0))
        for mode in s.modes:
            lengths = (s.video_lengths
                       if mode == 'offline' else [s.online_length])
            out[mode] = dict(
                per_frame={str(L): one['total']
                           for L in lengths},
                frames=dict(every=one))
        return out
    if 'offline' in s.modes:
        stream = FrameStream(model, video, 'offline', max(s.video_lengths),
                             s.num_support, s.stride, 'flops-offline')
        first = flops_of_call(model, stream.predict_fn(0),
                              stream.raw_inputs(0))
        later = flops_of_call(model, stream.predict_fn(1),
                              stream.raw_inputs(1))
        out['offline'] = dict(
            per_frame={
                str(L): (first['total'] + (L - 1) * later['total']) / L
                for L in s.video_lengths
            },
            frames=dict(first=first, later=later))
    if 'online' in s.modes:
        k, stride = s.num_support, s.stride
        key = 'flops-online'
        stream = FrameStream(model, video, 'online', s.online_length, k,
                             stride, key)
        prefill_online_cache(model, key, stream.raw_inputs(0)[:, 0].to(
            video.device), k, stride)
        t_grid = k * stride
        grid = flops_of_call(model, stream.predict_fn(t_grid),
                             stream.raw_inputs(t_grid))
        frames = dict(grid=grid)
        if stride > 1:
            other = flops_of_call(model, stream.predict_fn(t_grid + 1),
                                  stream.raw_inputs(t_grid + 1))
            frames['other'] = other
            per = (grid['total'] + (stride - 1) * other['total']) / stride
        else:
            per = grid['total']
        reset_video_cache(model, key)
        out['online'] = dict(
            per_frame={str(s.online_length): per}, frames=frames)
    return out


def count_backbone_ops(model: nn.Module, video: SyntheticVideo) -> int:
    """Top-level aten operator calls of one backbone pass over a key frame
    (the CPU-checkable proxy of GPU kernel launches): the prompted pass
    (random prompts of the right shape) for a prompted model, the plain
    pass otherwise. Counted with ``torch.profiler`` after one warm-up."""
    from torch.profiler import ProfilerActivity, profile
    backbone = model.backbone
    x = video.frames([0])
    if uses_prompts(model):
        prompts = x.new_zeros(1, backbone.num_prompts,
                              backbone.prompt_dims).normal_()

        def fn():
            return backbone.forward_prompted(x, prompts)
    else:

        def fn():
            return backbone(x)

    with torch.no_grad():
        fn()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
    return sum(1 for e in prof.events()
               if e.name.startswith('aten::') and e.cpu_parent is None)


def measure_inference_memory(model: nn.Module, video: SyntheticVideo,
                             s: BenchSettings) -> Dict[str, Any]:
    """Peak memory of a short fresh video in each mode, one model at a
    time: offline frames 0-2 (frame 0 runs the K support passes), online
    S+1 frames."""
    out: Dict[str, Any] = {}
    state = module_state_bytes(model)
    for mode in s.modes:
        n = 3 if mode == 'offline' else s.stride + 1
        stream = FrameStream(model, video, mode, max(s.video_lengths),
                             s.num_support, s.stride, f'memory-{mode}')
        inputs = [stream.inputs(t) for t in range(n)]
        with PeakMemory(s.device) as mem:
            for x, samples in inputs:
                run_frame(model, x.to(video.device), samples, s.device)
        out[mode] = _memory_figures(mem, state, n)
    return out


def _memory_figures(mem: PeakMemory, state: int, frames: int) -> dict:
    peak = None if mem.peak_bytes is None else state + mem.peak_bytes
    return dict(
        peak_bytes=peak,
        state_bytes=state,
        peak_extra_bytes=mem.peak_bytes,
        frames=frames,
        method=mem.method,
        unavailable=mem.reason or None)


def _train_batch(model: nn.Module, video: SyntheticVideo, s: BenchSettings,
                 step: int):
    prompted = uses_references(model)
    n, k = s.train_batch_size, s.train_num_support
    num_classes = getattr(
        getattr(getattr(model, 'roi_head', None), 'bbox_head', None),
        'num_classes', 1)
    keys, samples = [], []
    for i in range(n):
        t = 20 * (step * n + i)
        ids = [t] + ([t - 5 + 10 * j // max(1, k - 1) for j in range(k)]
                     if prompted else [])
        keys.append(video.frames(ids) if prompted else video.frame(t))
        samples.append(
            video.data_sample(
                f'train-{i}', t, gt=video.random_boxes(3, num_classes, t)))
    return torch.stack(keys), samples


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer,
               inputs: torch.Tensor, samples: list) -> float:
    """One optimisation step (loss, backward, optimizer step); returns the
    loss."""
    optimizer.zero_grad(set_to_none=True)
    losses = model.loss(inputs, samples)
    loss, _ = model.parse_losses(losses)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """AdamW as in the released recipe (lr 2.5e-5, wd 0.05)."""
    return torch.optim.AdamW([p for p in model.parameters()
                              if p.requires_grad],
                             lr=lr,
                             betas=(0.9, 0.999),
                             weight_decay=0.05)


def measure_training(models: Dict[str, nn.Module], video: SyntheticVideo,
                     s: BenchSettings, log=print) -> Dict[str, Any]:
    """Training step time (alternating) and peak training memory (one model
    at a time) with K support frames per item."""
    opts = {name: make_optimizer(m, s.train_lr) for name, m in models.items()}
    for m in models.values():
        m.train()
    times: Dict[str, List[float]] = {name: [] for name in models}
    losses: Dict[str, List[float]] = {name: [] for name in models}
    names = list(models)
    warm = max(1, s.warmup)  # also creates the optimizer state
    for step in range(warm + s.train_steps):
        for name in alternating(names, step):
            x, samples = _train_batch(models[name], video, s, step)
            x = x.to(video.device)
            with Timer(s.device) as timer:
                loss = train_step(models[name], opts[name], x, samples)
            if step >= warm:
                times[name].append(timer.elapsed)
                losses[name].append(loss)
        if step >= warm:
            log(f'  train: step {step - warm + 1}/{s.train_steps}')
    out: Dict[str, Any] = {}
    for name, model in models.items():
        fig: Dict[str, Any] = dict(
            step_s=median(times[name]) if times[name] else None,
            steps=summarize(times[name]) if times[name] else None,
            losses=losses[name],
            num_support=s.train_num_support if uses_references(model)
            else 0,
            batch_size=s.train_batch_size)
        if s.memory:
            x, samples = _train_batch(model, video, s, warm + s.train_steps)
            x = x.to(video.device)
            state = module_state_bytes(model) + optimizer_state_bytes(
                opts[name])
            with PeakMemory(s.device) as mem:
                train_step(model, opts[name], x, samples)
            fig['memory'] = _memory_figures(mem, state, 1)
            fig['memory']['includes'] = ('parameters, buffers and AdamW '
                                         'state + peak extra of one step '
                                         '(activations, gradients)')
        out[name] = fig
    for m in models.values():
        m.eval()
    return out
