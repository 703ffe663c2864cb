"""Reusable measurement helpers of a cost benchmark.

Nothing here knows about STPN or its test modes: the benchmark procedure
(synthetic video streams, offline / online latency, ratios against a
baseline, the cost goals) is ``tools/analysis_tools/benchmark.py``.

* statistics: :func:`percentile`, :func:`median`, :func:`summarize`,
  :func:`ratio`, :func:`paired_ratios` (pure Python on lists of seconds);
* timing: :class:`Timer` (synchronises CUDA on entry and exit),
  :func:`alternating` (A,B / B,A orders of models measured together);
* peak memory of a region: :class:`PeakMemory`, :func:`tensor_bytes`,
  :func:`module_state_bytes`, :func:`optimizer_state_bytes`;
* FLOPs of a whole model, attention included: :func:`count_flops`,
  :func:`flops_of_call`, :func:`flop_handles`, :func:`sdpa_flops`.

Peak memory
-----------
CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``,
minus what was allocated when the region started: the peak of the tensors
the region itself allocated (activations, workspaces, gradients...).

CPU: Python's ``tracemalloc`` does not see torch's allocations, so the
resident set size of the process is used. Before the region the freed heap
memory is returned to the OS (glibc ``malloc_trim(0)``) and the kernel's
peak-RSS mark is reset (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0);
after it the peak (``VmHWM``) minus the resident size at the start is the
region's peak extra resident memory. This counts every page the process
touched (torch's tensors, the allocator's slack, Python objects), so it is
an upper bound of the tensor memory, and only regions measured one at a time
are comparable (not under alternation). When the reset is not possible
(not Linux, no permission) the measurement is reported as unavailable.

A model's peak is then best reported as its resident state (parameters,
buffers, and for training the optimizer state) plus the region's peak extra
memory, so that two models held in one process are compared fairly.

FLOPs
-----
mmengine's ``FlopAnalyzer`` (fvcore's counter) counts one fused
multiply-add as ONE flop (so its "FLOPs" are MACs) and, by default, skips
``aten::scaled_dot_product_attention`` and element-wise arithmetic, which
would leave out every attention matrix of an SDPA-based transformer (and the
very work that STPN's prompts add). :func:`flop_handles` adds handles for
them, in the same one-FMA-is-one-flop convention:

================================== =========================================
op                                 count
================================== =========================================
aten::scaled_dot_product_attention ``sdpa_matmul``: B*Lq*Lk*d (q k^T) +
                                   B*Lq*Lk*dv (attn v), B = product of the
                                   batch / head dims; ``sdpa_softmax_mask``:
                                   B*Lq*Lk (softmax, 1 per score) + B*Lq*Lk
                                   when an additive mask / bias is given.
                                   (In 2-flops-per-FMA units the matmuls are
                                   the usual 4*B*H*Lq*Lk*d for d = dv.)
aten::matmul                       prod(output shape) * K: broadcast batch
                                   dims included (mmengine's default counts
                                   prod(input1) * N and misses broadcasting,
                                   e.g. one prompt query set against the
                                   keys of every window)
aten::softmax, aten::log_softmax   1 per element (as inside SDPA)
aten::add/sub/rsub/mul/div (+ _)   1 per output element
aten::mean, aten::sum              1 per input element
RoIAlign (mmcv PythonOp)           4 per output element (one bilinear sample
                                   per bin, as mmengine counts grid_sample;
                                   a lower bound with adaptive sampling)
aten::layer_norm, group_norm       mmengine's default: 5 per element (affine)
                                   or 4
================================== =========================================

Ops still left out (activations such as GELU/ReLU, NMS, indexing, copies)
are listed per run as ``uncounted_ops``.
"""
import ctypes
import ctypes.util
import gc
import math
import re
import time
from collections import Counter
from typing import (Any, Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple, TypeVar, Union)

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from torch import Tensor, nn

T = TypeVar('T')


# --------------------------------------------------------------- statistics
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between
    closest ranks (numpy's default ``'linear'`` method)."""
    if not len(values):
        raise ValueError('percentile of an empty sequence')
    if not 0 <= q <= 100:
        raise ValueError(f'q must be in [0, 100], got {q}')
    data = sorted(float(v) for v in values)
    pos = (len(data) - 1) * q / 100.
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    """The median (50th percentile)."""
    return percentile(values, 50)


def summarize(values: Sequence[float]) -> Dict[str, float]:
    """Median, spread (p10/p90, quartiles, IQR), mean, min, max and count of
    a sample of timings."""
    values = [float(v) for v in values]
    q1, q3 = percentile(values, 25), percentile(values, 75)
    return dict(
        n=len(values),
        median=median(values),
        p10=percentile(values, 10),
        p90=percentile(values, 90),
        q1=q1,
        q3=q3,
        iqr=q3 - q1,
        mean=sum(values) / len(values),
        min=min(values),
        max=max(values))


def ratio(num: Optional[float], den: Optional[float]) -> Optional[float]:
    """``num / den``; None when either is missing or ``den`` is 0."""
    if num is None or den is None or den == 0:
        return None
    return float(num) / float(den)


def paired_ratios(a: Sequence[float], b: Sequence[float]) -> List[float]:
    """Element-wise ratios of two equally long samples (e.g. one video
    estimate per repeat of each model, measured alternately)."""
    if len(a) != len(b):
        raise ValueError(f'samples differ in length: {len(a)} vs {len(b)}')
    return [x / y for x, y in zip(a, b) if y]


# ------------------------------------------------------------------- timing
def synchronize(device: Union[str, torch.device]) -> None:
    """Wait for the device's queued kernels (no-op on CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class Timer:
    """Context manager measuring the wall time of its body; on CUDA the
    device is synchronised on entry (so earlier work is not billed) and on
    exit (so the body's kernels are).

    Example:
        >>> with Timer('cpu') as t:
        ...     run()
        >>> t.elapsed  # seconds
    """

    def __init__(self, device: Union[str, torch.device] = 'cpu') -> None:
        self.device = torch.device(device)
        self.elapsed = float('nan')
        self._start = 0.

    def __enter__(self) -> 'Timer':
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.elapsed = time.perf_counter() - self._start


def alternating(items: Sequence[T], step: int) -> List[T]:
    """``items`` rotated by ``step``: with two models, A,B on even steps and
    B,A on odd steps, so that neither always runs first (warm caches, turbo
    and background load hit both equally)."""
    items = list(items)
    if not items:
        return items
    k = step % len(items)
    return items[k:] + items[:k]


# ------------------------------------------------------------- peak memory
_STATUS = '/proc/self/status'
_CLEAR_REFS = '/proc/self/clear_refs'


def _status_kib(field: str) -> Optional[int]:
    try:
        with open(_STATUS) as f:
            match = re.search(rf'^{field}:\s+(\d+)\s+kB', f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _malloc_trim() -> None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    try:
        with open(_CLEAR_REFS, 'w') as f:
            f.write('5')
    except OSError:
        return False
    return True


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes held by ``tensors`` (each storage counted once)."""
    seen, total = set(), 0
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            continue
        key = (t.untyped_storage().data_ptr(), t.device)
        if key in seen:
            continue
        seen.add(key)
        total += t.untyped_storage().nbytes()
    return total


def module_state_bytes(model: nn.Module) -> int:
    """Bytes of a model's parameters and buffers."""
    return tensor_bytes(list(model.parameters()) + list(model.buffers()))


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of an optimizer's state tensors (e.g. Adam moments)."""
    return tensor_bytes(v for state in optimizer.state.values()
                        for v in state.values())


class PeakMemory:
    """Peak extra memory of a region (see the module docstring).

    Example:
        >>> with PeakMemory('cpu') as mem:
        ...     run()
        >>> mem.peak_bytes  # None when unavailable; mem.reason says why
    """

    def __init__(self, device: Union[str, torch.device] = 'cpu') -> None:
        self.device = torch.device(device)
        self.peak_bytes: Optional[int] = None
        self.reason = ''
        self._base = 0
        self._ok = False

    @property
    def method(self) -> str:
        """How the peak is measured, in words."""
        if self.device.type == 'cuda':
            return ('torch.cuda.max_memory_allocated - memory_allocated at '
                    'the start')
        return ('peak RSS (VmHWM after malloc_trim + clear_refs reset) - '
                'RSS at the start')

    def __enter__(self) -> 'PeakMemory':
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            self._ok = True
            return self
        _malloc_trim()
        self._ok = _reset_peak_rss()
        rss = _status_kib('VmRSS')
        if not self._ok or rss is None:
            self._ok = False
            self.reason = ('cannot reset the peak RSS (needs Linux >= 4.0 '
                           'and a writable /proc/self/clear_refs)')
        else:
            self._base = rss * 1024
        return self

    def __exit__(self, *exc) -> None:
        if not self._ok:
            return
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            hwm = _status_kib('VmHWM')
            if hwm is None:
                self.reason = 'VmHWM not readable'
                return
            peak = hwm * 1024
        self.peak_bytes = max(0, peak - self._base)


# -------------------------------------------------------------------- FLOPs
SOFTMAX_FLOPS_PER_ELEMENT = 1


def _prod(shape: Sequence[int]) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> Counter:
    """FLOPs (1 FMA = 1) of ``aten::scaled_dot_product_attention``."""
    q, k, v = (get_shape(i) for i in inputs[:3])
    out = get_shape(outputs[0])
    mask = get_shape(inputs[3]) if len(inputs) > 3 else None
    batch = _prod(out[:-2])
    lq, d = q[-2], q[-1]
    lk, dv = k[-2], v[-1]
    scores = batch * lq * lk
    return Counter({
        'sdpa_matmul': scores * d + scores * dv,
        'sdpa_softmax_mask': scores * (SOFTMAX_FLOPS_PER_ELEMENT +
                                       (1 if mask is not None else 0)),
    })


def sdpa_flops(batch: int, heads: int, len_q: int, len_k: int, dims: int,
               dims_v: Optional[int] = None,
               with_mask: bool = False) -> Dict[str, int]:
    """Hand formula of :func:`sdpa_flop_jit` (1 FMA = 1 flop)."""
    dims_v = dims if dims_v is None else dims_v
    scores = batch * heads * len_q * len_k
    return dict(
        sdpa_matmul=scores * (dims + dims_v),
        sdpa_softmax_mask=scores *
        (SOFTMAX_FLOPS_PER_ELEMENT + int(with_mask)))


def matmul_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FLOPs (1 FMA = 1) of ``aten::matmul`` with broadcasting: every
    output element is a dot product of length K (the last dim of the first
    operand)."""
    a = get_shape(inputs[0])
    out = get_shape(outputs[0])
    return _prod(out) * int(a[-1])


def elementwise_output_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """1 flop per output element."""
    shape = get_shape(outputs[0])
    return _prod(shape) if shape is not None else 0


def elementwise_input_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """1 flop per element of the first input (reductions)."""
    shape = get_shape(inputs[0])
    return _prod(shape) if shape is not None else 0


def softmax_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """SOFTMAX_FLOPS_PER_ELEMENT per element."""
    shape = get_shape(inputs[0])
    return SOFTMAX_FLOPS_PER_ELEMENT * _prod(shape) if shape else 0


def roi_align_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """4 flops per output element (one bilinear sample per bin)."""
    shape = get_shape(outputs[0])
    return 4 * _prod(shape) if shape is not None else 0


def flop_handles() -> Dict[str, Callable]:
    """The handles added to mmengine's defaults (see the module doc)."""
    handles: Dict[str, Callable] = {
        'aten::scaled_dot_product_attention': sdpa_flop_jit,
        'aten::matmul': matmul_flop_jit,
        'aten::softmax': softmax_jit,
        'aten::log_softmax': softmax_jit,
        'aten::mean': elementwise_input_jit,
        'aten::sum': elementwise_input_jit,
        'prim::PythonOp.RoIAlignFunction': roi_align_jit,
    }
    for op in ('add', 'sub', 'rsub', 'mul', 'div'):
        handles[f'aten::{op}'] = elementwise_output_jit
        handles[f'aten::{op}_'] = elementwise_output_jit
    return handles


COUNTING_RULES = {
    'convention': 'one fused multiply-add = 1 flop (mmengine/fvcore); '
    'double for 2-flops-per-FMA figures',
    'linear/conv/bmm/einsum': 'mmengine defaults',
    'matmul': 'prod(output) * K, broadcast batch dims included (mmengine '
    'default: prod(input1) * N, which misses broadcasting)',
    'scaled_dot_product_attention':
    'B*Lq*Lk*(d+dv) for the two matmuls (sdpa_matmul) + B*Lq*Lk per '
    'softmax and per additive mask (sdpa_softmax_mask); B = batch*heads '
    '(*windows)',
    'softmax': f'{SOFTMAX_FLOPS_PER_ELEMENT} per element',
    'add/sub/rsub/mul/div': '1 per output element',
    'mean/sum': '1 per input element',
    'layer_norm/group_norm': 'mmengine default: 5 per element (affine)',
    'batch_norm': 'mmengine default',
    'RoIAlign': '4 per output element (lower bound)',
    'not counted': 'activations (GELU/ReLU/sigmoid), NMS, sort/topk, '
    'indexing, copies: see uncounted_ops',
}


def count_flops(model: nn.Module,
                inputs: Tuple[Tensor, ...]) -> Dict[str, Any]:
    """Trace ``model(*inputs)`` once and count its FLOPs.

    Returns:
        dict: ``total`` (int), ``by_operator`` ({op: flops}), ``by_module``
        (first-level children: {name: flops}) and ``uncounted_ops``
        ({op: number of calls}).
    """
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle(**flop_handles())
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    total = int(analyzer.total())
    by_module = analyzer.by_module()
    return dict(
        total=total,
        by_operator={k: int(v)
                     for k, v in analyzer.by_operator().items()},
        by_module={
            _strip(k): int(v)
            for k, v in by_module.items()
            if k and _strip(k).count('.') <= 1
        },
        uncounted_ops=dict(analyzer.unsupported_ops()))


def _strip(name: str) -> str:
    # modules are named as children of TraceWrapper ('model.backbone')
    return name[len('model.'):] if name.startswith('model.') else name


class TraceWrapper(nn.Module):
    """Make a detector call traceable: ``forward(x)`` runs
    ``fn(model, x)`` (which may attach metadata to ``x`` and call
    ``model.predict``) and returns the tensors of its result as a tuple.
    The model is a child, so per-module counts keep its names
    (``model.backbone``...)."""

    def __init__(self, model: nn.Module, fn: Callable) -> None:
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return tuple(_tensors(self.fn(self.model, x)))


def _tensors(obj: Any) -> List[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    if hasattr(obj, 'pred_instances'):  # DetDataSample
        inst = obj.pred_instances
        return [
            getattr(inst, k) for k in ('bboxes', 'scores', 'labels')
            if hasattr(inst, k)
        ]
    return []


def flops_of_call(model: nn.Module, fn: Callable,
                  x: Tensor) -> Dict[str, Any]:
    """FLOPs of ``fn(model, x)`` (e.g. one frame through the detector)."""
    with torch.no_grad():
        return count_flops(TraceWrapper(model, fn), (x, ))
