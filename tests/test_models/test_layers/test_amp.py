"""Mixed precision on the CPU: the prompted backbones under bf16 autocast
stay close to fp32 (stated tolerance: 5% relative L2 error per output
map), and the prompt attention's softmax runs in fp32."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from torch.utils._python_dispatch import TorchDispatchMode

from mmstpn.models.layers import windowed_attention_with_prompts
from tests.conftest import TINY_SWIN, TINY_VIT

TOLERANCE = 0.05


@pytest.mark.parametrize('cfg', [TINY_SWIN, TINY_VIT], ids=['swin', 'vit'])
def test_bf16_autocast_matches_fp32(cfg):
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    model.eval()
    clips = torch.randn(2, 3, 3, 64, 80)
    with torch.no_grad():
        ref = model(clips)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            amp = model(clips)
    for a, r in zip(amp, ref):
        assert a.dtype == torch.bfloat16 or a.dtype == torch.float32
        a = a.float()
        assert torch.isfinite(a).all()
        err = ((a - r).norm() / r.norm()).item()
        assert err < TOLERANCE, err


class SoftmaxDtypes(TorchDispatchMode):
    """Records the input dtype of every softmax that runs."""

    def __init__(self):
        super().__init__()
        self.dtypes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in (torch.ops.aten._softmax,
                                   torch.ops.aten.softmax):
            self.dtypes.append(args[0].dtype)
        return func(*args, **(kwargs or {}))


def test_prompt_softmax_runs_in_fp32():
    torch.manual_seed(0)
    qkv_w = torch.randn(1, 2, 4, 24) * 30  # large logits
    qkv_p = torch.randn(1, 2, 24) * 30
    ref_w, ref_p = windowed_attention_with_prompts(qkv_w, qkv_p, 2, 1.)
    with SoftmaxDtypes() as spy:
        half_w, half_p = windowed_attention_with_prompts(
            qkv_w.bfloat16(), qkv_p.bfloat16(), 2, 1.)
    assert spy.dtypes and set(spy.dtypes) == {torch.float32}
    # inputs rounded to bf16 first: the only error left is the rounding of
    # the inputs and of the two matmuls, far below a bf16 softmax's
    for a, r in ((half_w, ref_w), (half_p, ref_p)):
        assert a.dtype == torch.bfloat16
        assert ((a.float() - r).norm() / r.norm()) < TOLERANCE
