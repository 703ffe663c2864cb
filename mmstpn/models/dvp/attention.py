import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from .base import BaseDVPPredictor


@MODELS.register_module()
class AttentionDVPPredictor(BaseDVPPredictor):
    """Transformer (cross-attention) DVP predictor, the released default.

    Support tokens are projected ``in_channels -> prompt_dims``;
    ``num_prompts`` learnable queries attend to all support tokens of all
    frames at once (one softmax over every token of every frame), through one
    multi-head cross-attention with separate q/k/v/output Linears. No
    residual, norm, FFN or positional encoding, so the result does not depend
    on the order of the support frames. Parameter counts: docs/models.md.

    Args:
        in_channels (int): Width of the support tokens.
        prompt_dims (int): Width of the prompts.
        num_prompts (int): Number of prompts. Defaults to 5.
        num_heads (int): Attention heads. Defaults to 16.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 prompt_dims: int,
                 num_prompts: int = 5,
                 num_heads: int = 16,
                 attn_drop: float = 0.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, prompt_dims, num_prompts, init_cfg)
        if prompt_dims % num_heads:
            raise ValueError(f'prompt_dims={prompt_dims} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.input_proj = nn.Linear(in_channels, prompt_dims)
        self.queries = nn.Parameter(torch.empty(num_prompts, prompt_dims))
        self.q_proj = nn.Linear(prompt_dims, prompt_dims)
        self.k_proj = nn.Linear(prompt_dims, prompt_dims)
        self.v_proj = nn.Linear(prompt_dims, prompt_dims)
        self.out_proj = nn.Linear(prompt_dims, prompt_dims)
        self._reset_queries()

    def _reset_queries(self) -> None:
        nn.init.normal_(self.queries, std=1.0)

    def init_weights(self) -> None:
        """The base class's initialisation; without ``init_cfg`` the
        queries are then drawn from N(0, 1)."""
        super().init_weights()
        if self.init_cfg is None:
            self._reset_queries()

    def forward(self,
                support: Tensor,
                hw_shape: Tuple[int, int],
                support_mask: Optional[Tensor] = None) -> Tensor:
        """Predict prompts; arguments, result and errors as
        :meth:`BaseDVPPredictor.forward`.
        """
        self.check_inputs(support, hw_shape, support_mask)
        n, k, length, _ = support.shape
        heads, head_dims = self.num_heads, self.prompt_dims // self.num_heads
        tokens = self.input_proj(support.flatten(1, 2))  # (N, K*L, d)
        q = self.q_proj(self.queries).view(1, self.num_prompts, heads,
                                           head_dims).transpose(1, 2)
        q = q.expand(n, -1, -1, -1)
        k_ = self.k_proj(tokens).view(n, k * length, heads,
                                      head_dims).transpose(1, 2)
        v = self.v_proj(tokens).view(n, k * length, heads,
                                     head_dims).transpose(1, 2)
        mask = None
        if support_mask is not None and not bool(support_mask.all()):
            # (N, 1, 1, K*L): False entries (padded frames) are not attended.
            mask = support_mask[:, :, None].expand(n, k, length).reshape(
                n, 1, 1, k * length)
        out = F.scaled_dot_product_attention(
            q, k_, v, attn_mask=mask,
            dropout_p=self.attn_drop if self.training else 0.,
            scale=1. / math.sqrt(head_dims))
        out = out.transpose(1, 2).reshape(n, self.num_prompts,
                                          self.prompt_dims)
        return self.out_proj(out)
