"""FLOP counting of a whole detector with mmengine's jit-trace counter.

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
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from torch import Tensor, nn

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
