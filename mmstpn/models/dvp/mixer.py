from typing import Optional, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from .base import BaseDVPPredictor


class _MixerBlock(nn.Module):
    """Token-mixing MLP then channel-mixing MLP, each pre-norm + residual."""

    def __init__(self, num_tokens: int, dims: int, token_hidden: int,
                 channel_hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dims)
        self.token_mlp = nn.Sequential(
            nn.Linear(num_tokens, token_hidden), nn.GELU(),
            nn.Linear(token_hidden, num_tokens))
        self.norm2 = nn.LayerNorm(dims)
        self.channel_mlp = nn.Sequential(
            nn.Linear(dims, channel_hidden), nn.GELU(),
            nn.Linear(channel_hidden, dims))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


@MODELS.register_module()
class MixerDVPPredictor(BaseDVPPredictor):
    """MLP-Mixer DVP predictor (the paper's fast variant).

    The paper gives no layer sizes; mmstpn's choice, per support frame:
    Linear ``in_channels -> prompt_dims``; adaptive average pooling of the
    frame's token grid to ``grid x grid`` tokens (so any input size works);
    ``num_blocks`` Mixer blocks (token MLP hidden ``2 * grid**2``, channel MLP
    hidden ``2 * prompt_dims``); a Linear over the token axis ``grid**2 ->
    num_prompts``; then the prompts of the real support frames are averaged
    (order-invariant, any K). Parameter counts: docs/models.md.

    Args:
        in_channels (int): Width of the support tokens.
        prompt_dims (int): Width of the prompts.
        num_prompts (int): Number of prompts. Defaults to 5.
        grid (int): Side of the pooled token grid. Defaults to 4.
        num_blocks (int): Mixer blocks. Defaults to 1.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 prompt_dims: int,
                 num_prompts: int = 5,
                 grid: int = 4,
                 num_blocks: int = 1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, prompt_dims, num_prompts, init_cfg)
        self.grid = grid
        num_tokens = grid * grid
        self.input_proj = nn.Linear(in_channels, prompt_dims)
        self.blocks = nn.Sequential(*[
            _MixerBlock(num_tokens, prompt_dims, 2 * num_tokens,
                        2 * prompt_dims) for _ in range(num_blocks)
        ])
        self.norm = nn.LayerNorm(prompt_dims)
        self.token_proj = nn.Linear(num_tokens, num_prompts)

    def forward(self,
                support: Tensor,
                hw_shape: Tuple[int, int],
                support_mask: Optional[Tensor] = None) -> Tensor:
        """Predict prompts; arguments, result and errors as
        :meth:`BaseDVPPredictor.forward`.
        """
        self.check_inputs(support, hw_shape, support_mask)
        n, k = support.shape[:2]
        h, w = hw_shape
        x = self.input_proj(support.flatten(0, 1))  # (N*K, L, d)
        x = x.transpose(1, 2).reshape(n * k, self.prompt_dims, h, w)
        x = F.adaptive_avg_pool2d(x, self.grid).flatten(2).transpose(1, 2)
        x = self.norm(self.blocks(x))  # (N*K, g*g, d)
        prompts = self.token_proj(x.transpose(1, 2)).transpose(1, 2)
        prompts = prompts.reshape(n, k, self.num_prompts, self.prompt_dims)
        if support_mask is None:
            return prompts.mean(1)
        weight = support_mask.to(prompts.dtype)[:, :, None, None]
        return (prompts * weight).sum(1) / weight.sum(1)
