"""The one prompted window attention against a naive reference written
here: prompts copied into every window, relative-position bias and shift
mask zero-padded for prompt rows / columns, per-image mean of the prompt
outputs over windows, plain loops."""
import copy

import pytest
import torch
from mmdet.registry import MODELS

from mmstpn.models.layers import prompted_window_attention
from tests.conftest import TINY_SWIN


def region(pos: int, size: int, window: int, shift: int) -> int:
    """Swin's shifted-window region of a padded row / column index."""
    if pos < size - window:
        return 0
    return 1 if pos < size - shift else 2


def naive(x, hw, num_prompts, window, qkv, proj, heads, scale, shift,
          rel_bias):
    b, _, c = x.shape
    h, w = hw
    hd = c // heads
    hp, wp = -(-h // window) * window, -(-w // window) * window
    out = torch.zeros_like(x)
    for i in range(b):
        grid = torch.zeros(hp, wp, c)
        grid[:h, :w] = x[i, num_prompts:].reshape(h, w, c)
        grid = torch.roll(grid, (-shift, -shift), dims=(0, 1))
        prompts = x[i, :num_prompts]
        res = torch.zeros(hp, wp, c)
        prompt_sum = torch.zeros(num_prompts, c)
        n_windows = 0
        for wy in range(0, hp, window):
            for wx in range(0, wp, window):
                cells = [(y, xx) for y in range(wy, wy + window)
                         for xx in range(wx, wx + window)]
                tokens = torch.stack([grid[y, xx] for y, xx in cells] +
                                     [prompts[p] for p in range(num_prompts)])
                n = len(cells) + num_prompts
                bias = torch.zeros(heads, n, n)
                for a, (ya, xa) in enumerate(cells):
                    for bb, (yb, xb) in enumerate(cells):
                        if rel_bias is not None:
                            bias[:, a, bb] += rel_bias[:, a, bb]
                        if shift and (region(ya, hp, window, shift),
                                      region(xa, wp, window, shift)) != (
                                          region(yb, hp, window, shift),
                                          region(xb, wp, window, shift)):
                            bias[:, a, bb] -= 100.
                q, k, v = qkv(tokens).split(c, dim=-1)
                outs = []
                for head in range(heads):
                    sl = slice(head * hd, (head + 1) * hd)
                    att = (q[:, sl] * scale) @ k[:, sl].T + bias[head]
                    outs.append(att.softmax(-1) @ v[:, sl])
                o = proj(torch.cat(outs, dim=-1))
                for a, (y, xx) in enumerate(cells):
                    res[y, xx] = o[a]
                prompt_sum += o[len(cells):]
                n_windows += 1
        res = torch.roll(res, (shift, shift), dims=(0, 1))[:h, :w]
        out[i, num_prompts:] = res.reshape(h * w, c)
        out[i, :num_prompts] = prompt_sum / n_windows
    return out


@pytest.mark.parametrize('shift', [0, 2])
@pytest.mark.parametrize('num_prompts', [0, 3])
def test_matches_naive_reference(shift, num_prompts):
    torch.manual_seed(0)
    c, heads, window, hw = 8, 2, 4, (7, 10)  # 7 x 10: not divisible by 4
    qkv, proj = torch.nn.Linear(c, 3 * c), torch.nn.Linear(c, c)
    rel_bias = torch.randn(heads, window * window, window * window)
    x = torch.randn(3, num_prompts + hw[0] * hw[1], c)  # batch 3
    with torch.no_grad():
        fast = prompted_window_attention(
            x, hw, num_prompts, window, qkv, proj, heads, 0.7, shift=shift,
            rel_bias=rel_bias)
        ref = naive(x, hw, num_prompts, window, qkv, proj, heads, 0.7,
                    shift, rel_bias)
    assert fast.shape == x.shape
    assert torch.allclose(fast, ref, atol=1e-5), (fast - ref).abs().max()


def test_prompt_merge_channel_order_is_pinned():
    """Widening at patch merging is [p, p, p, p] (tensor.repeat), checked
    with reduction weights that are not symmetric in the four slots."""
    torch.manual_seed(0)
    outs = {}
    for mode in ('repeat', 'interleave'):
        model = MODELS.build(dict(copy.deepcopy(TINY_SWIN), prompt_merge=mode))
        merge = model.stages[0].downsample
        with torch.no_grad():
            torch.manual_seed(1)
            merge.reduction.weight.normal_()
            merge.norm.weight.normal_()
            merge.norm.bias.normal_()
            prompts = torch.randn(2, 3, 16)
            tokens = torch.cat([prompts, torch.randn(2, 8 * 8, 16)], dim=1)
            out, _ = model._merge(merge, tokens, (8, 8), 3)
        outs[mode] = (out[:, :3], merge, prompts)
    got, merge, prompts = outs['repeat']
    with torch.no_grad():
        expected = merge.reduction(
            merge.norm(torch.cat([prompts] * 4, dim=-1)))
        interleaved = merge.reduction(
            merge.norm(prompts.repeat_interleave(4, dim=-1)))
    assert torch.allclose(got, expected, atol=1e-6)
    assert (got - interleaved).abs().max() > 1e-3  # the order matters
    got_i, merge_i, prompts_i = outs['interleave']
    with torch.no_grad():
        expected_i = merge_i.reduction(
            merge_i.norm(prompts_i.repeat_interleave(4, dim=-1)))
    assert torch.allclose(got_i, expected_i, atol=1e-6)
