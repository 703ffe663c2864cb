"""Window attention with prompt tokens shared by all windows of an image.

Rule (STPN, released Swin variant): the prompt set of an image is appended to
every attention window of that image; patch queries attend to the window's
patches and the prompts, prompt queries attend, in each window, to that
window's patches and the prompts; each prompt's outputs are then averaged over
the windows of its own image. Prompt keys/values/queries are computed once per
image (not once per window), so only the attention matrices grow.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def partition_windows(x: Tensor, window: int) -> Tensor:
    """(B, H, W, C) with H, W multiples of ``window`` ->
    (B, nW, window*window, C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, -1, window * window, c)


def merge_windows(windows: Tensor, hw: Tuple[int, int],
                  window: int) -> Tensor:
    """Inverse of :func:`partition_windows`:
    (B, nW, w*w, C) -> (B, H, W, C)."""
    b, _, _, c = windows.shape
    h, w = hw
    x = windows.view(b, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)


def pad_bias_for_prompts(bias: Tensor, num_prompts: int) -> Tensor:
    """Zero-pad the last two dims of an attention bias by ``num_prompts``.

    Prompt rows and columns get 0: prompts carry no position information and
    see / are seen by every token of the window.
    """
    return F.pad(bias, (0, num_prompts, 0, num_prompts))


def windowed_attention_with_prompts(
        qkv_windows: Tensor,
        qkv_prompts: Optional[Tensor],
        num_heads: int,
        scale: float,
        bias: Optional[Tensor] = None,
        dropout_p: float = 0.) -> Tuple[Tensor, Optional[Tensor]]:
    """Multi-head attention inside windows, with per-image prompts.

    Explicit matmuls as in mmdet's ``WindowMSA`` (on CPU, SDPA with an
    additive mask takes a slower path). Prompt queries are not copied into
    the windows: they are broadcast against every window's keys.

    Args:
        qkv_windows (Tensor): (B, nW, Lw, 3C) qkv of the window tokens.
        qkv_prompts (Tensor | None): (B, P, 3C) qkv of the prompts.
        num_heads (int): Number of heads.
        scale (float): Query scale.
        bias (Tensor, optional): Additive bias broadcastable to
            (B, nW, heads, Lw+P, Lw+P) (relative position and shift mask,
            already zero-padded for the prompts).
        dropout_p (float): Attention dropout.

    Returns:
        tuple: (B, nW, Lw, C) window outputs and (B, P, C) prompt outputs
        averaged over windows (None without prompts); both before the
        output projection.
    """
    b, nw, lw, c3 = qkv_windows.shape
    c = c3 // 3
    hd = c // num_heads
    # (3, B, nW, heads, Lw, hd)
    qkv = qkv_windows.view(b, nw, lw, 3, num_heads,
                           hd).permute(3, 0, 1, 4, 2, 5)
    q, k, v = qkv.unbind(0)
    num_prompts = 0 if qkv_prompts is None else qkv_prompts.shape[1]
    if num_prompts:
        # (3, B, 1, heads, P, hd): one copy per image, broadcast over windows
        qkv_p = qkv_prompts.view(b, 1, num_prompts, 3, num_heads,
                                 hd).permute(3, 0, 1, 4, 2, 5)
        q_p, k_p, v_p = qkv_p.unbind(0)
        k = torch.cat([k, k_p.expand(-1, nw, -1, -1, -1)], dim=3)
        v = torch.cat([v, v_p.expand(-1, nw, -1, -1, -1)], dim=3)
    k_t = k.transpose(-2, -1)

    def attend(query: Tensor, rows: slice) -> Tensor:
        attn = (query * scale) @ k_t
        if bias is not None:
            attn = attn + bias[..., rows, :]
        attn = attn.softmax(dim=-1)
        if dropout_p > 0:
            attn = F.dropout(attn, p=dropout_p, training=True)
        return attn @ v

    # (B, nW, heads, Lw, hd) -> (B, nW, Lw, C)
    out_w = attend(q, slice(0, lw)).transpose(2, 3).reshape(b, nw, lw, c)
    if not num_prompts:
        return out_w, None
    out_p = attend(q_p, slice(lw, lw + num_prompts)).mean(1)
    return out_w, out_p.transpose(1, 2).reshape(b, num_prompts, c)
