from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import FFN, build_dropout
from mmdet.models.layers import PatchEmbed
from mmdet.registry import MODELS
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor

from ..layers import prompted_window_attention
from .stpn_base import STPNBackboneMixin


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
        """(B, P+h*w, C) -> (B, P+h*w, C)."""

        def inner(x: Tensor) -> Tensor:
            x = x + self.drop_path(self._attention(self.norm1(x), hw,
                                                   num_prompts))
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)

    def _attention(self, x: Tensor, hw: Tuple[int, int],
                   num_prompts: int) -> Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        if self.window_size <= 0:
            qkv = self.qkv(x).view(b, n, 3, heads, c // heads).permute(
                2, 0, 3, 1, 4)
            out = F.scaled_dot_product_attention(*qkv.unbind(0))
            return self.proj(out.transpose(1, 2).reshape(b, n, c))
        return prompted_window_attention(x, hw, num_prompts,
                                         self.window_size, self.qkv,
                                         self.proj, heads, (c // heads)**-0.5)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@MODELS.register_module()
class STPNViT(STPNBackboneMixin, BaseModule):
    """Plain ViT with spatio-temporal prompts and a simple feature pyramid.

    Patch embedding + learnable absolute position embedding (resized
    bicubically to the input grid) + transformer blocks (global, or windowed
    for the indices in ``window_block_indices`` with the per-window prompt
    rule), a final norm, and a ViTDet-style simple pyramid from the stride-16
    map: strides (4, 8, 16, 32) with widths ``embed_dims // 4, // 2, 1, 1``
    (``out_channels``), ready for mmdet's FPN.

    Prompts are prepended after the position embedding and get NO position
    embedding (mmstpn's choice: they stand for frames, not places). Support
    embeddings are the final-norm patch tokens of the unprompted pass.

    Args:
        img_size (int): Pre-training size that sizes the position table.
        patch_size (int): Patch side (stride of the token grid). Default 16.
        in_channels (int): Input channels.
        embed_dims (int): Token width (ViT-S 384, ViT-B 768).
        depth (int): Number of blocks.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN ratio.
        window_size (int): Window side of windowed blocks.
        window_block_indices (Sequence[int]): Blocks that use windows.
        drop_path_rate (float): Stochastic depth (linearly increasing).
        out_indices (Sequence[int]): Pyramid levels to return (0..3).
        predictor (dict, optional): DVP predictor config.
        num_prompts (int): N_P; 0 gives the same ViT without prompts.
        support_grad (bool): Back-propagate through the support pass.
        test_support (dict, optional): The test-time support policy
            (:class:`~mmstpn.structures.SupportPolicy`); default offline.
        with_cp (bool): Gradient checkpointing of the blocks.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 img_size: int = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 mlp_ratio: float = 4.,
                 window_size: int = 14,
                 window_block_indices: Sequence[int] = (),
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 predictor: Optional[dict] = None,
                 num_prompts: int = 5,
                 support_grad: bool = False,
                 test_support: Optional[dict] = None,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if patch_size != 16:
            raise ValueError('STPNViT builds its pyramid from a stride-16 '
                             f'grid; patch_size must be 16, got {patch_size}')
        if embed_dims % 4:
            raise ValueError(f'embed_dims must be divisible by 4, got '
                             f'{embed_dims}')
        bad = [i for i in out_indices if i not in range(4)]
        if bad:
            raise ValueError(f'out_indices must be within 0..3, got {bad}')
        self.in_channels = in_channels
        self.embed_dims = embed_dims
        self.out_indices = tuple(out_indices)
        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=embed_dims,
            kernel_size=patch_size,
            stride=patch_size)
        self.pos_grid = img_size // patch_size
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.pos_grid * self.pos_grid, embed_dims))
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = ModuleList([
            PromptedViTBlock(
                embed_dims,
                num_heads,
                mlp_ratio,
                window_size if i in window_block_indices else 0,
                drop_path_rate=rates[i],
                with_cp=with_cp) for i in range(depth)
        ])
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        d = embed_dims
        self.out_channels = (d // 4, d // 2, d, d)
        self.pyramid = ModuleList([
            nn.Sequential(
                nn.ConvTranspose2d(d, d // 2, 2, 2), LayerNorm2d(d // 2),
                nn.GELU(), nn.ConvTranspose2d(d // 2, d // 4, 2, 2)),
            nn.ConvTranspose2d(d, d // 2, 2, 2),
            nn.Identity(),
            nn.MaxPool2d(2, 2),
        ])
        self.init_stpn(predictor, embed_dims, embed_dims, num_prompts,
                       support_grad, test_support)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            trunc_normal_(self.pos_embed, std=.02)
            for m in self.blocks.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=.02)
                    nn.init.zeros_(m.bias)

    # ---------------------------------------------------------------- passes
    def _embed(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        tokens, hw = self.patch_embed(x)
        pos = self.pos_embed
        if tuple(hw) != (self.pos_grid, self.pos_grid):
            pos = pos.reshape(1, self.pos_grid, self.pos_grid, -1).permute(
                0, 3, 1, 2)
            pos = F.interpolate(
                pos, size=hw, mode='bicubic', align_corners=False)
            pos = pos.flatten(2).transpose(1, 2)
        return tokens + pos, tuple(hw)

    def _run_blocks(self, tokens: Tensor, hw: Tuple[int, int],
                    num_prompts: int) -> Tensor:
        for block in self.blocks:
            tokens = block(tokens, hw, num_prompts)
        return self.norm(tokens[:, num_prompts:])

    def support_embeddings(self,
                           frames: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        tokens, hw = self._embed(frames)
        return self._run_blocks(tokens, hw, 0), hw

    def forward_prompted(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        tokens, hw = self._embed(x)
        num_prompts = prompts.shape[1]
        tokens = self.prepend_prompts(prompts, tokens, x)
        patches = self._run_blocks(tokens, hw, num_prompts)
        fmap = patches.transpose(1, 2).reshape(-1, self.embed_dims, *hw)
        return tuple(self.pyramid[i](fmap) for i in self.out_indices)
