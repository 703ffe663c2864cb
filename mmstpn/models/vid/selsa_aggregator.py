"""SELSA's sequence-level semantics aggregation of RoI features."""
from typing import Optional

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor


@MODELS.register_module()
class SelsaAggregator(BaseModule):
    """Multi-head attention of key RoI features over reference RoI features.

    SELSA (Wu et al., ICCV 2019): the channels are split into
    ``num_attention_blocks`` groups; in each group a key RoI attends to all
    reference RoIs with a scaled dot product of embedded features, softmaxed
    over the reference RoIs; the weighted sum of the (projected) reference
    features of every group is concatenated and projected by ``fc``:

    ``out[n] = fc(concat_g sum_m softmax_m(<q_g[n], k_g[m]> / sqrt(C / G))
    * v_g[m])`` with ``q = fc_embed(x)``, ``k = ref_fc_embed(ref_x)``,
    ``v = ref_fc(ref_x)``.

    The result does not depend on the order of the reference RoIs. Module
    names are MMTracking's, so its checkpoints load unchanged.

    Args:
        in_channels (int): Channels C of the RoI features.
        num_attention_blocks (int): Number of channel groups G; must divide
            ``in_channels``. Defaults to 16.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_attention_blocks: int = 16,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_attention_blocks < 1 or in_channels % num_attention_blocks:
            raise ValueError(
                f'SelsaAggregator: num_attention_blocks='
                f'{num_attention_blocks} must be >= 1 and divide '
                f'in_channels={in_channels}')
        self.in_channels = in_channels
        self.num_attention_blocks = num_attention_blocks
        self.fc_embed = nn.Linear(in_channels, in_channels)
        self.ref_fc_embed = nn.Linear(in_channels, in_channels)
        self.fc = nn.Linear(in_channels, in_channels)
        self.ref_fc = nn.Linear(in_channels, in_channels)

    def forward(self, x: Tensor, ref_x: Tensor) -> Tensor:
        """Aggregate reference RoI features for every key RoI.

        Args:
            x (Tensor): Key RoI features, shape (N, C).
            ref_x (Tensor): Reference RoI features, shape (M, C), M >= 1.

        Returns:
            Tensor: Aggregated features, shape (N, C) (to be added to ``x``).
        """
        if x.dim() != 2 or ref_x.dim() != 2 or \
                x.size(1) != self.in_channels or \
                ref_x.size(1) != self.in_channels:
            raise ValueError(
                f'SelsaAggregator expects x (N, {self.in_channels}) and '
                f'ref_x (M, {self.in_channels}), got {tuple(x.shape)} and '
                f'{tuple(ref_x.shape)}')
        if ref_x.size(0) == 0:
            raise ValueError('SelsaAggregator: ref_x holds no reference RoI '
                             '(M=0); the softmax over reference RoIs needs '
                             'at least one')
        num_rois, channels = x.shape
        num_ref = ref_x.size(0)
        groups = self.num_attention_blocks
        group_dim = channels // groups
        # (G, N, C/G) and (G, C/G, M)
        query = self.fc_embed(x).view(num_rois, groups,
                                      group_dim).transpose(0, 1)
        key = self.ref_fc_embed(ref_x).view(num_ref, groups,
                                            group_dim).permute(1, 2, 0)
        weights = torch.bmm(query, key) / group_dim**0.5  # (G, N, M)
        weights = weights.softmax(dim=2)
        value = self.ref_fc(ref_x).view(num_ref, groups,
                                        group_dim).transpose(0, 1)
        out = torch.bmm(weights, value)  # (G, N, C/G)
        out = out.transpose(0, 1).reshape(num_rois, channels)
        return self.fc(out)
