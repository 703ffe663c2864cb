from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModule, ModuleList
from torch import Tensor


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def forward(self, x: Tensor) -> Tensor:
        """Normalise each position over the channels.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W).
        """
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """ViTDet's simple feature pyramid: four levels from the one stride-16
    map of a plain ViT (e.g. :class:`~mmstpn.models.STPNViT`), ready for
    mmdet's FPN.

    With ``C = in_channels`` the levels are

    0. stride 4, ``C // 4`` channels: 2x2 transposed conv (C -> C/2),
       LayerNorm over channels, GELU, 2x2 transposed conv (C/2 -> C/4);
    1. stride 8, ``C // 2``: 2x2 transposed conv (C -> C/2);
    2. stride 16, ``C``: the map itself;
    3. stride 32, ``C``: 2x2 max pooling.

    All four levels are built (their parameters are in the state dict,
    ``levels.{i}.*``) whatever ``out_indices`` returns.

    Args:
        in_channels (int): Channels of the input map; divisible by 4.
        out_indices (Sequence[int]): Levels returned, in this order (0..3).
        init_cfg (dict, optional): Initialisation config.

    Attributes:
        out_channels (tuple[int]): Channels of the returned levels.
    """

    def __init__(self,
                 in_channels: int,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels % 4:
            raise ValueError('SimpleFeaturePyramid: in_channels must be '
                             f'divisible by 4, got {in_channels}')
        bad = [i for i in out_indices if i not in range(4)]
        if bad:
            raise ValueError('SimpleFeaturePyramid: out_indices must be '
                             f'within 0..3, got {bad}')
        d = in_channels
        self.in_channels = in_channels
        self.out_indices = tuple(out_indices)
        widths = (d // 4, d // 2, d, d)
        self.out_channels = tuple(widths[i] for i in self.out_indices)
        self.levels = ModuleList([
            nn.Sequential(
                nn.ConvTranspose2d(d, d // 2, 2, 2), LayerNorm2d(d // 2),
                nn.GELU(), nn.ConvTranspose2d(d // 2, d // 4, 2, 2)),
            nn.ConvTranspose2d(d, d // 2, 2, 2),
            nn.Identity(),
            nn.MaxPool2d(2, 2),
        ])

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """The pyramid levels of the backbone's map.

        Args:
            inputs (Sequence[Tensor]): ``(fmap, )``, fmap (B, in_channels,
                H, W) at stride 16.

        Returns:
            tuple[Tensor]: One contiguous (B, C_i, H_i, W_i) map per
            ``out_indices`` (``H_i = H * 16 / stride_i``; stride 32 rounds
            down).

        Raises:
            ValueError: Not exactly one map, or a map of another shape.
        """
        if len(inputs) != 1:
            raise ValueError(
                'SimpleFeaturePyramid takes one stride-16 map (the '
                f"backbone's (fmap, )), got {len(inputs)} maps")
        fmap = inputs[0]
        if fmap.dim() != 4 or fmap.shape[1] != self.in_channels:
            raise ValueError(
                f'SimpleFeaturePyramid was built with in_channels='
                f'{self.in_channels}; got a map of shape {tuple(fmap.shape)}')
        # contiguous: mmcv's RoIAlign reads channels-last maps wrongly
        return tuple(
            self.levels[i](fmap).contiguous() for i in self.out_indices)
