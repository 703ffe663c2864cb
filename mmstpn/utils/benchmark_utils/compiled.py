"""Eager vs ``torch.compile`` d backbone passes (``--compile``).

Each model gets a compiled twin (a deep copy whose STPN backbone has
``set_compile(options)``: the prompted pass and the support pass compiled,
the cache, the policy, neck and heads eager). The first frames of a warm-up
video pay the compilation (reported as ``compile_s``); then the eager and
compiled variants of both models run offline videos ALTERNATING frame by
frame, and the per-frame latency is estimated as in the offline phase.
"""
import copy
from typing import Any, Dict, Optional

import torch
from torch import nn

from mmstpn.utils.benchmark import Timer, median, ratio
from .measure import BenchSettings, _stream_figures, run_alternating
from .video import FrameStream, SyntheticVideo, uses_prompts

SUFFIX = '+compile'


def compiled_twin(model: nn.Module, options: Dict[str, Any]) -> nn.Module:
    """A deep copy of a detector whose backbone compiles its hot passes."""
    twin = copy.deepcopy(model)
    backbone = twin.backbone
    if not hasattr(backbone, 'set_compile'):
        raise ValueError(f'--compile needs an STPN backbone (set_compile); '
                         f'{type(backbone).__name__} has none')
    backbone.set_compile(options)
    return twin.eval()


def compiled_difference(model: nn.Module, twin: nn.Module,
                        video: SyntheticVideo) -> Dict[str, float]:
    """Max |compiled - eager| over the backbone maps of one prompted pass
    (random prompts of the right shape), absolute and relative to the
    largest eager value."""
    backbone = model.backbone
    x = video.frames([1])
    width = backbone.num_prompts if uses_prompts(model) else 0
    prompts = x.new_zeros(1, width, backbone.prompt_dims).normal_()
    with torch.no_grad():
        eager = backbone.forward_prompted(x, prompts)
        comp = twin.backbone.hot_pass('forward_prompted')(x, prompts)
    diff = max((a - b).abs().max().item() for a, b in zip(eager, comp))
    scale = max(a.abs().max().item() for a in eager)
    return dict(max_abs=diff, max_rel=diff / scale if scale else None)


def measure_compiled(models: Dict[str, nn.Module], video: SyntheticVideo,
                     s: BenchSettings, options: Dict[str, Any], frames: int,
                     log=print) -> Dict[str, Any]:
    """Offline latency of every model eager and compiled (alternating), the
    compilation time and the compiled-vs-eager difference."""
    variants: Dict[str, nn.Module] = {}
    info: Dict[str, Any] = {}
    length = max(s.video_lengths)
    for name, m in models.items():
        twin = compiled_twin(m, options)
        warm = FrameStream(twin, video, 'offline', length, s.num_support,
                           s.stride, 'compile-warmup')
        first = []
        for t in range(2):  # frame 0: support + prompted pass; frame 1
            x, samples = warm.inputs(t)
            log(f'  compile: {name} frame {t} (compiling)')
            with Timer(s.device) as timer, torch.no_grad():
                twin.predict(x.to(video.device), samples)
            first.append(timer.elapsed)
        info[name] = dict(
            compile_s=first,
            difference=compiled_difference(m, twin, video))
        variants[name] = m
        variants[name + SUFFIX] = twin
    raw: Dict[str, list] = {name: [] for name in variants}
    graphs_before = _graphs_compiled()
    for rep in range(s.repeats):
        streams = {
            name: FrameStream(m, video, 'offline', length, s.num_support,
                              s.stride, f'compile-{rep}')
            for name, m in variants.items()
        }
        log(f'  compile: repeat {rep + 1}/{s.repeats}, {frames} frames')
        times = run_alternating(streams, frames, s.device, offset=rep)
        for name in variants:
            raw[name].append(times[name])
    out: Dict[str, Any] = dict(
        options=_jsonable(options),
        # 0 when a fixed frame size compiles once (no per-frame recompile)
        graphs_compiled_during_timed_frames=_graphs_compiled() -
        graphs_before,
        models={})
    for name in variants:
        figs = {
            str(L): _stream_figures('offline', raw[name], L, frames,
                                    s.stride)
            for L in s.video_lengths
        }
        later = [t for r in raw[name] for t in r[1:]]
        out['models'][name] = dict(
            offline=figs,
            later_frame_s=median(later) if later else None,
            **info.get(name, {}))
    out['ratios'] = compile_ratios(out['models'], list(models),
                                   max(s.video_lengths))
    return out


def compile_ratios(figs: Dict[str, Any], names: list,
                   length: int) -> Dict[str, Optional[float]]:
    """compiled / eager per model (later frames and offline L=length) and
    first / second model, eager and compiled."""
    r: Dict[str, Optional[float]] = {}

    def lat(name):
        return figs[name]['offline'][str(length)]['per_frame_s']

    for name in names:
        r[f'{name}_compiled_over_eager_later_frame'] = ratio(
            figs[name + SUFFIX]['later_frame_s'], figs[name]['later_frame_s'])
        r[f'{name}_compiled_over_eager@{length}'] = ratio(
            lat(name + SUFFIX), lat(name))
    if len(names) == 2:
        a, b = names
        for tag, suffix in (('eager', ''), ('compiled', SUFFIX)):
            r[f'{tag}_offline_latency@{length}'] = ratio(
                lat(a + suffix), lat(b + suffix))
            r[f'{tag}_later_frame'] = ratio(
                figs[a + suffix]['later_frame_s'],
                figs[b + suffix]['later_frame_s'])
    return r


def _graphs_compiled() -> int:
    from torch._dynamo.utils import counters
    return int(counters['stats']['unique_graphs'])


def _jsonable(options: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (v if isinstance(v, (str, int, float, bool, dict, type(None)))
                else repr(v)) for k, v in options.items()}
