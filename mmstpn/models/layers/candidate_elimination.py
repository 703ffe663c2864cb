"""Candidate elimination (CE) of search tokens in a one-stream tracker.

OSTrack-style (ECCV 2022): at chosen blocks the search tokens are ranked by
the attention the template's center tokens give them (mean over heads and
center rows); only the top ``k`` go on to the later blocks, and at the end
the dropped ones come back as zeros at their grid positions. Everything
here works item by item: each item keeps its own top-``k`` (one ``k`` for
the batch, so shapes stay rectangular).

Sequence layout: ``[prompts (P), template (Lt), search (Ls')]``; only the
search part (from ``search_start = P + Lt``) is ever shortened.
"""
import math
from typing import Tuple

import torch
from torch import Tensor


def template_center_index(hw: Tuple[int, int],
                          device=None) -> Tensor:
    """Flat indices of the template tokens covering the template center.

    The template crop is centered on the target, so these tokens cover the
    target center: the middle token of an odd side, the middle two of an
    even side (a 2x2 block on an even grid, e.g. tokens (3..4, 3..4) of
    8x8; OSTrack's ``CTR_POINT`` takes the single token (3, 3)).

    Args:
        hw (tuple[int, int]): Template token grid (ht, wt).
        device: Device of the result.

    Returns:
        Tensor: (R, ) long indices into the ht * wt template tokens.
    """
    h, w = hw

    def mid(n: int) -> list:
        return [n // 2] if n % 2 else [n // 2 - 1, n // 2]

    return torch.tensor([r * w + c for r in mid(h) for c in mid(w)],
                        dtype=torch.long, device=device)


def num_kept(num_search: int, keep_ratio: float) -> int:
    """How many search tokens candidate elimination keeps.

    Args:
        num_search (int): Search tokens before the step.
        keep_ratio (float): Fraction kept, in (0, 1].

    Returns:
        int: ``ceil(keep_ratio * num_search)``, at least 1, robust to float
        noise (``0.7 * 10`` is ``7.000000000000001`` in floats: 7, not 8).
    """
    return max(1, math.ceil(round(keep_ratio * num_search, 6)))


def center_attention_scores(q: Tensor, k: Tensor, rows: Tensor,
                            search_start: int) -> Tensor:
    """Attention from the template center rows to the search tokens.

    Recomputes only the ``R`` center query rows of the block's softmax
    attention (the block's full attention runs fused, without weights):
    ``softmax(q_rows k^T / sqrt(d))`` over ALL keys of the sequence
    (prompts, template, search), then the search columns, averaged over
    heads and rows.

    Args:
        q (Tensor): (B, H, N, d) queries of the block.
        k (Tensor): (B, H, N, d) keys of the block.
        rows (Tensor): (R, ) sequence positions of the center tokens.
        search_start (int): Sequence position of the first search token.

    Returns:
        Tensor: (B, N - search_start) scores, one per search token.
    """
    scale = q.shape[-1]**-0.5
    att = (q[:, :, rows] @ k.transpose(-2, -1) * scale).softmax(-1)
    return att[..., search_start:].mean(dim=(1, 2))


def keep_top_search(x: Tensor, scores: Tensor, search_start: int,
                    keep: int) -> Tuple[Tensor, Tensor]:
    """Keep the ``keep`` best-scored search tokens of each item.

    Args:
        x (Tensor): (B, N, C) tokens ``[prompts, template, search]``.
        scores (Tensor): (B, N - search_start) scores of the search tokens.
        search_start (int): Sequence position of the first search token.
        keep (int): Search tokens kept per item.

    Returns:
        tuple: the (B, search_start + keep, C) tokens (prompts and template
        untouched, the kept search tokens in their previous order) and the
        (B, keep) indices of the kept tokens among the previous search
        tokens.
    """
    index = scores.topk(keep, dim=1).indices.sort(dim=1).values
    search = x[:, search_start:].gather(
        1, index[..., None].expand(-1, -1, x.shape[-1]))
    return torch.cat([x[:, :search_start], search], dim=1), index


def restore_search(tokens: Tensor, index: Tensor, length: int) -> Tensor:
    """Put kept search tokens back at their grid positions, zeros elsewhere.

    Args:
        tokens (Tensor): (B, L', C) kept search tokens.
        index (Tensor): (B, L') their positions in the full search grid.
        length (int): Full number of search tokens ``hs * ws``.

    Returns:
        Tensor: (B, length, C).
    """
    b, _, c = tokens.shape
    out = tokens.new_zeros(b, length, c)
    return out.scatter(1, index[..., None].expand(-1, -1, c), tokens)
