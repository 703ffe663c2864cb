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
        return self.attend(x, self.project_ref(ref_x))

    def project_ref(self, ref_x: Tensor) -> Tensor:
        """The key-frame-independent part: keys and values of reference RoIs.

        Row ``m`` depends on ``ref_x[m]`` only, so the projections of a
        reference frame can be computed once and reused for every key frame
        (and rows of several frames concatenated).

        Args:
            ref_x (Tensor): Reference RoI features, shape (M, C).

        Returns:
            Tensor: (M, 2C): ``ref_fc_embed(ref_x)`` then ``ref_fc(ref_x)``.
        """
        if ref_x.dim() != 2 or ref_x.size(1) != self.in_channels:
            raise ValueError(
                f'SelsaAggregator expects ref_x (M, {self.in_channels}), got '
                f'{tuple(ref_x.shape)}')
        return torch.cat([self.ref_fc_embed(ref_x), self.ref_fc(ref_x)], 1)

    def attend(self, x: Tensor, ref_kv: Tensor) -> Tensor:
        """Aggregate projected reference RoIs (:meth:`project_ref`).

        Args:
            x (Tensor): Key RoI features, shape (N, C).
            ref_kv (Tensor): (M, 2C) keys and values, M >= 1.

        Returns:
            Tensor: Aggregated features, shape (N, C).
        """
        channels = self.in_channels
        if x.dim() != 2 or x.size(1) != channels or ref_kv.dim() != 2 or \
                ref_kv.size(1) != 2 * channels:
            raise ValueError(
                f'SelsaAggregator expects x (N, {channels}) and reference '
                f'keys / values (M, {2 * channels}), got {tuple(x.shape)} '
                f'and {tuple(ref_kv.shape)}')
        if ref_kv.size(0) == 0:
            raise ValueError('SelsaAggregator: ref_x holds no reference RoI '
                             '(M=0); the softmax over reference RoIs needs '
                             'at least one')
        num_rois, num_ref = x.size(0), ref_kv.size(0)
        groups = self.num_attention_blocks
        group_dim = channels // groups
        # (G, N, C/G), scaled here (N x C) rather than on the (G, N, M)
        # products; and (G, C/G, M)
        query = (self.fc_embed(x) / group_dim**0.5).view(
            num_rois, groups, group_dim).transpose(0, 1)
        key = ref_kv[:, :channels].reshape(num_ref, groups,
                                           group_dim).permute(1, 2, 0)
        weights = torch.bmm(query, key).softmax(dim=2)  # (G, N, M)
        value = ref_kv[:, channels:].reshape(num_ref, groups,
                                             group_dim).transpose(0, 1)
        out = torch.bmm(weights, value)  # (G, N, C/G)
        out = out.transpose(0, 1).reshape(num_rois, channels)
        return self.fc(out)
