"""Window attention with prompt tokens shared by all windows of an image.

Rule (STPN, released Swin variant): the prompt set of an image is appended to
every attention window of that image; patch queries attend to the window's
patches and the prompts, prompt queries attend, in each window, to that
window's patches and the prompts; each prompt's outputs are then averaged over
the windows of its own image. Prompt keys/values/queries are computed once per
image (not once per window), so only the attention matrices grow.
"""
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def partition_windows(x: Tensor, window: int) -> Tensor:
    """Split a map into non-overlapping windows.

    Args:
        x (Tensor): (B, H, W, C), H and W multiples of ``window``.
        window (int): Window side.

    Returns:
        Tensor: (B, nW, window*window, C), windows in row-major order.
    """
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, -1, window * window, c)


def merge_windows(windows: Tensor, hw: Tuple[int, int],
                  window: int) -> Tensor:
    """Inverse of :func:`partition_windows`.

    Args:
        windows (Tensor): (B, nW, window*window, C).
        hw (tuple[int, int]): (H, W) of the map.
        window (int): Window side.

    Returns:
        Tensor: (B, H, W, C).
    """
    b, _, _, c = windows.shape
    h, w = hw
    x = windows.view(b, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)


def pad_bias_for_prompts(bias: Tensor, num_prompts: int) -> Tensor:
    """Zero-pad the last two dims of an attention bias by ``num_prompts``.

    Prompt rows and columns get 0: prompts carry no position information and
    see / are seen by every token of the window.

    Args:
        bias (Tensor): (..., Lw, Lw) bias or mask.
        num_prompts (int): P.

    Returns:
        Tensor: (..., Lw + P, Lw + P).
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
    additive mask takes a slower path). The prompts' q/k/v are computed once
    per image and appended to every window's, so one attention (one scaled
    score matmul, bias add, softmax and value matmul) serves the window and
    prompt rows alike; the only extra work is the P prompt rows and
    columns.

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
        output projection (views of one tensor).
    """
    b, nw, lw, c3 = qkv_windows.shape
    c = c3 // 3
    hd = c // num_heads
    num_prompts = 0 if qkv_prompts is None else qkv_prompts.shape[1]
    if num_prompts:
        # the image's prompt qkv (computed once per image) appended to every
        # window: one attention over Lw + P rows and columns per window
        qkv_windows = torch.cat([
            qkv_windows,
            qkv_prompts[:, None].expand(-1, nw, -1, -1)
        ], dim=2)
    n = lw + num_prompts
    # (3, B, nW, heads, Lw+P, hd)
    q, k, v = qkv_windows.view(b, nw, n, 3, num_heads,
                               hd).permute(3, 0, 1, 4, 2, 5).unbind(0)
    attn = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias
    if attn.dtype in (torch.float16, torch.bfloat16):
        # AMP: the softmax in fp32 (the -100 shift mask and long rows lose
        # too much in half precision)
        attn = attn.float().softmax(dim=-1).to(v.dtype)
    else:
        attn = attn.softmax(dim=-1)
    if dropout_p > 0:
        attn = F.dropout(attn, p=dropout_p, training=True)
    # (B, nW, heads, Lw+P, hd) -> (B, nW, Lw+P, C)
    out = (attn @ v).transpose(2, 3).reshape(b, nw, n, c)
    if not num_prompts:
        return out, None
    # each prompt's outputs averaged over the windows of its image
    return out[:, :, :lw], out[:, :, lw:].mean(1)


def shift_window_mask(hp: int, wp: int, window: int, shift: int,
                      device: torch.device) -> Tensor:
    """Swin's shifted-window attention mask.

    Args:
        hp, wp (int): The padded map's height and width.
        window (int): Window side.
        shift (int): Cyclic shift (> 0).
        device (torch.device): Device of the mask.

    Returns:
        Tensor: (nW, Lw, Lw), 0 inside a region and -100 across regions.
    """
    img = torch.zeros(1, hp, wp, 1, device=device)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            img[:, hs, ws, :] = label
            label += 1
    ids = partition_windows(img, window).view(-1, window * window)
    diff = ids.unsqueeze(1) - ids.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.).masked_fill(diff == 0, 0.)


def prompted_window_attention(
        x: Tensor,
        hw: Tuple[int, int],
        num_prompts: int,
        window: int,
        qkv: nn.Module,
        proj: nn.Module,
        num_heads: int,
        scale: float,
        shift: int = 0,
        rel_bias: Optional[Tensor] = None,
        attn_drop: float = 0.,
        proj_drop: Optional[Callable[[Tensor], Tensor]] = None) -> Tensor:
    """The one prompted (shifted-)window attention of STPNSwin and STPNViT.

    Patches are padded at the bottom / right to multiples of ``window``,
    cyclically shifted by ``shift`` (Swin's shifted windows, with its region
    mask), split into windows; the image's prompts are appended to every
    window with zero bias / mask entries, and each prompt's outputs are
    averaged over the windows of its image.

    Args:
        x (Tensor): (B, P + h*w, C) normed tokens, prompts first.
        hw (tuple[int, int]): The patch grid (h, w).
        num_prompts (int): P (0: plain window attention).
        window (int): Window side.
        qkv (nn.Module): C -> 3C projection.
        proj (nn.Module): C -> C output projection.
        num_heads (int): Heads.
        scale (float): Query scale.
        shift (int): Cyclic shift (0: regular windows).
        rel_bias (Tensor, optional): (heads, Lw, Lw) relative position bias.
        attn_drop (float): Attention dropout probability (0 at test).
        proj_drop (callable, optional): Applied after ``proj``.

    Returns:
        Tensor: (B, P + h*w, C) attention output (before the residual).
    """
    b, _, c = x.shape
    h, w = hw
    patches = x[:, num_prompts:].reshape(b, h, w, c)
    pad_r, pad_b = (window - w % window) % window, (window - h % window) % \
        window
    patches = F.pad(patches, (0, 0, 0, pad_r, 0, pad_b))
    hp, wp = h + pad_b, w + pad_r
    if shift:
        patches = torch.roll(patches, (-shift, -shift), dims=(1, 2))
    bias = None if rel_bias is None else rel_bias.unsqueeze(0)
    if shift:
        mask = shift_window_mask(hp, wp, window, shift, x.device).unsqueeze(1)
        bias = mask if bias is None else bias + mask
    if bias is not None and num_prompts:
        bias = pad_bias_for_prompts(bias, num_prompts)
    if bias is not None and bias.dtype != x.dtype:  # (no op call when equal)
        bias = bias.to(x.dtype)
    out_w, out_p = windowed_attention_with_prompts(
        qkv(partition_windows(patches, window)),
        qkv(x[:, :num_prompts]) if num_prompts else None, num_heads, scale,
        bias, attn_drop)
    patches = merge_windows(out_w, (hp, wp), window)
    if shift:
        patches = torch.roll(patches, (shift, shift), dims=(1, 2))
    patches = patches[:, :h, :w].reshape(b, h * w, c)
    if out_p is not None:
        patches = torch.cat([out_p, patches], dim=1)
    # one output projection for prompts and patches (pointwise: the same as
    # projecting each window's tokens, without the padded ones)
    out = proj(patches)
    return out if proj_drop is None else proj_drop(out)
