from typing import Tuple

import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import FFN, build_dropout
from mmengine.model import BaseModule
from torch import Tensor

from .candidate_elimination import center_attention_scores, keep_top_search
from .prompt_attention import prompted_window_attention


class PromptedViTBlock(BaseModule):
    """Pre-norm ViT block on ``[prompts, patches]`` token sequences.

    Global blocks attend over all tokens (prompts are ordinary tokens);
    windowed blocks (``window_size > 0``) use the per-window prompt rule of
    :func:`~mmstpn.models.layers.prompted_window_attention`.

    Args:
        embed_dims (int): Token width.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden ratio.
        window_size (int): 0 for global attention, else the window side.
        qkv_bias (bool): Bias in the qkv Linear.
        drop_path_rate (float): Stochastic depth of this block.
        norm_cfg (dict): Norm config.
        with_cp (bool): Gradient checkpointing.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 window_size: int = 0,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 with_cp: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.drop_path = build_dropout(
            dict(type='DropPath', drop_prob=drop_path_rate))
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=int(embed_dims * mlp_ratio),
            num_fcs=2,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
            act_cfg=dict(type='GELU'),
            add_identity=True)

    def forward(self, x: Tensor, hw: Tuple[int, int],
                num_prompts: int) -> Tensor:
        """One block.

        Args:
            x (Tensor): (B, P + h*w, C) tokens, prompts first.
            hw (tuple[int, int]): The patch grid (h, w).
            num_prompts (int): P.

        Returns:
            Tensor: (B, P + h*w, C).
        """

        def inner(x: Tensor) -> Tensor:
            x = x + self.drop_path(self._attention(self.norm1(x), hw,
                                                   num_prompts))
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)

    def forward_ce(self, x: Tensor, center_rows: Tensor, search_start: int,
                   keep: int) -> Tuple[Tensor, Tensor]:
        """Global block with candidate elimination between attention and
        FFN (OSTrack's place): the search tokens (from ``search_start``)
        are ranked by the attention of the template ``center_rows`` and
        only ``keep`` per item go on.

        Args:
            x (Tensor): (B, N, C) tokens ``[prompts, template, search]``.
            center_rows (Tensor): (R, ) sequence positions of the template
                center tokens.
            search_start (int): Sequence position of the first search
                token.
            keep (int): Search tokens kept per item.

        Returns:
            tuple: (B, search_start + keep, C) tokens and the (B, keep)
            indices of the kept search tokens among the input ones.
        """

        def inner(x: Tensor) -> Tuple[Tensor, Tensor]:
            q, k, v = self._qkv(self.norm1(x))
            out = F.scaled_dot_product_attention(q, k, v)
            x = x + self.drop_path(
                self.proj(out.transpose(1, 2).flatten(2)))
            scores = center_attention_scores(q, k, center_rows, search_start)
            x, index = keep_top_search(x, scores, search_start, keep)
            return self.ffn(self.norm2(x), identity=x), index

        if self.window_size > 0:
            raise ValueError('candidate elimination needs a global block')
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)

    def _qkv(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """(B, N, C) -> q, k, v, each (B, heads, N, C // heads)."""
        b, n, c = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).view(b, n, 3, heads, c // heads).permute(
            2, 0, 3, 1, 4)
        return qkv.unbind(0)

    def _attention(self, x: Tensor, hw: Tuple[int, int],
                   num_prompts: int) -> Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        if self.window_size <= 0:
            out = F.scaled_dot_product_attention(*self._qkv(x))
            return self.proj(out.transpose(1, 2).reshape(b, n, c))
        return prompted_window_attention(x, hw, num_prompts,
                                         self.window_size, self.qkv,
                                         self.proj, heads, (c // heads)**-0.5)
