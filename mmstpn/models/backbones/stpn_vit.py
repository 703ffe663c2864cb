from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.layers import PatchEmbed
from mmdet.registry import MODELS
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor

from ..layers.prompted_vit_block import PromptedViTBlock
from .stpn_base import Embedded, STPNBackboneMixin


@MODELS.register_module()
class STPNViT(STPNBackboneMixin, BaseModule):
    """Plain ViT with spatio-temporal prompts: the stride-16 map of the key
    frames.

    Patch embedding (stride ``patch_size`` = 16), a learnable absolute
    position table (sized by ``img_size``, resized bicubically to the input
    grid), transformer blocks (global, or windowed for the indices in
    ``window_block_indices`` with the per-window prompt rule of
    :func:`~mmstpn.models.layers.prompted_window_attention`) and a final
    norm. Prompts are prepended after the position embedding and get no
    position embedding. Support embeddings are the final-norm patch tokens of
    the unprompted pass.

    :meth:`forward` (see :class:`STPNBackboneMixin` for the inputs) returns
    the 1-tuple ``(fmap, )``, a contiguous ``(N, embed_dims, h, w)`` map with
    ``h, w = ceil(H / 16), ceil(W / 16)`` (corner padding). mmdet's FPN takes
    it through the pyramid neck:
    ``neck=[dict(type='SimpleFeaturePyramid', in_channels=embed_dims),
    dict(type='FPN', in_channels=[C // 4, C // 2, C, C], ...)]``. The joint
    template + search ViT of a one-stream tracker is
    :class:`STPNOneStreamViT`.

    Args:
        img_size (int): Input side the position table is sized for.
        patch_size (int): Patch side; must be 16 (the stride of ``fmap``).
        in_channels (int): Input channels.
        embed_dims (int): Token width (ViT-S 384, ViT-B 768).
        depth (int): Number of blocks.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden ratio.
        window_size (int): Window side of the windowed blocks.
        window_block_indices (Sequence[int]): Blocks that use windows.
        drop_path_rate (float): Stochastic depth (linearly increasing).
        predictor (dict, optional): DVP predictor config.
        num_prompts (int): Prompts per item; 0 gives the same ViT without
            prompts.
        support_grad (bool): Back-propagate through the support pass.
        test_support (dict, optional): The test-time support policy
            (:class:`~mmstpn.structures.SupportPolicy`); default offline.
        support_eval (bool): No drop-path in the training support pass.
        with_cp (bool): Gradient checkpointing of the blocks.
        support_chunk (int): Test-time support frames per unprompted pass
            (0: all at once).
        train_support_chunk (int): The same in training.
        compile (bool | dict): ``torch.compile`` the hot passes at test
            time (see :meth:`STPNBackboneMixin.set_compile`).
        init_cfg (dict, optional): Initialisation config.
        template_size (None): Argument of :class:`STPNOneStreamViT`; any
            other value raises a ValueError naming that class.
        ce_loc (Sequence[int]): Argument of :class:`STPNOneStreamViT`; must
            be empty here.
        ce_keep_ratio (float | Sequence[float]): Argument of
            :class:`STPNOneStreamViT`; ignored while ``ce_loc`` is empty.

    Raises:
        ValueError: ``patch_size`` other than 16 (:class:`STPNOneStreamViT`
            takes any), ``template_size`` or ``ce_loc`` set.

    See docs/models.md.
    """

    #: the patch size this class requires (None: any)
    required_patch_size: Optional[int] = 16

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
                 predictor: Optional[dict] = None,
                 num_prompts: int = 5,
                 support_grad: bool = False,
                 test_support: Optional[dict] = None,
                 support_eval: bool = False,
                 with_cp: bool = False,
                 support_chunk: int = 1,
                 train_support_chunk: int = 4,
                 compile: Union[bool, dict] = False,
                 init_cfg: Optional[dict] = None,
                 *,
                 template_size: Optional[int] = None,
                 ce_loc: Sequence[int] = (),
                 ce_keep_ratio: Union[float, Sequence[float]] = 1.0) -> None:
        super().__init__(init_cfg=init_cfg)
        if template_size is not None:
            raise ValueError(
                f'model.backbone.template_size={template_size}: the joint '
                'template + search ViT of a one-stream tracker is '
                "type='STPNOneStreamViT'; STPNViT is the detection ViT")
        if tuple(ce_loc):
            raise ValueError(
                f'model.backbone.ce_loc={tuple(ce_loc)}: candidate '
                'elimination needs a tracker backbone '
                "(type='STPNOneStreamViT'), not a detection STPNViT")
        if self.required_patch_size not in (None, patch_size):
            raise ValueError(
                f'{type(self).__name__} gives a stride-'
                f'{self.required_patch_size} map; patch_size must be '
                f'{self.required_patch_size}, got {patch_size}')
        self.in_channels = in_channels
        self.embed_dims = embed_dims
        self.out_channels = (embed_dims, )
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
        self.init_stpn(
            predictor,
            embed_dims,
            embed_dims,
            num_prompts,
            support_grad,
            test_support,
            support_eval=support_eval,
            support_chunk=support_chunk,
            train_support_chunk=train_support_chunk,
            compile=compile)

    def position_tables(self) -> Tuple[nn.Parameter, ...]:
        """The learnable position tables.

        Returns:
            tuple[nn.Parameter]: In initialisation order.
        """
        return (self.pos_embed, )

    def init_weights(self) -> None:
        """mmengine's initialisation (``init_cfg``); without ``init_cfg``
        the position tables and the blocks' Linears are then set
        truncated-normal (std 0.02), their biases zero."""
        super().init_weights()
        if self.init_cfg is None:
            for table in self.position_tables():
                trunc_normal_(table, std=.02)
            for m in self.blocks.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=.02)
                    nn.init.zeros_(m.bias)

    # ---------------------------------------------------------------- passes
    @staticmethod
    def resize_pos_embed(pos: Tensor, grid: int,
                         hw: Tuple[int, int]) -> Tensor:
        """A position table resized bicubically to a token grid.

        Args:
            pos (Tensor): (1, grid * grid, C) table.
            grid (int): Its side.
            hw (tuple[int, int]): The token grid (h, w).

        Returns:
            Tensor: (1, h * w, C); ``pos`` itself when it fits.
        """
        if tuple(hw) != (grid, grid):
            pos = pos.reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
            pos = F.interpolate(
                pos, size=hw, mode='bicubic', align_corners=False)
            pos = pos.flatten(2).transpose(1, 2)
        return pos

    def _embed(self, x: Tensor) -> Embedded:
        """(M, C, H, W) -> patch tokens + position table, and (h, w)."""
        tokens, hw = self.patch_embed(x)
        hw = tuple(hw)
        return tokens + self.resize_pos_embed(self.pos_embed, self.pos_grid,
                                              hw), hw

    def _run_blocks(self, tokens: Tensor, hw: Tuple[int, int],
                    num_prompts: int) -> Tensor:
        """All blocks, then the final norm of the non-prompt tokens."""
        for block in self.blocks:
            tokens = block(tokens, hw, num_prompts)
        return self.norm(tokens[:, num_prompts:])

    def support_embeddings(self, frames: Tensor) -> Embedded:
        """Unprompted pass of support frames.

        Args:
            frames (Tensor): (M, C, H, W) frames.

        Returns:
            tuple: Final-norm patch tokens (M, h*w, C) and ``(h, w)``.
        """
        tokens, hw = self._embed(frames)
        return self._run_blocks(tokens, hw, 0), hw

    def forward_prompted(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        """Prompted pass of key frames.

        Args:
            x (Tensor): (N, C, H, W) key frames.
            prompts (Tensor): (N, P, C) prompts (P may be 0).

        Returns:
            tuple[Tensor]: ``(fmap, )``, fmap contiguous (N, C, h, w).
        """
        tokens, hw = self._embed(x)
        num_prompts = prompts.shape[1]
        tokens = self.prepend_prompts(prompts, tokens, x)
        patches = self._run_blocks(tokens, hw, num_prompts)
        fmap = patches.transpose(1, 2).reshape(-1, self.embed_dims, *hw)
        # contiguous: mmcv's RoIAlign reads channels-last maps wrongly
        return (fmap.contiguous(), )

    def forward_joint(self, *args, **kwargs):
        """Not a tracker backbone: raises a ValueError naming
        :class:`STPNOneStreamViT`."""
        raise ValueError(
            'forward_joint needs the one-stream tracker backbone: '
            "type='STPNOneStreamViT' with template_size (e.g. 128), not a "
            'detection STPNViT')
