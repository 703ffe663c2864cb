"""SELSA's box head: mmdet's ConvFC box head with aggregation after every
shared FC."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmdet.registry import MODELS
from mmdet.utils import ConfigType
from torch import Tensor


@MODELS.register_module()
class SelsaBBoxHead(ConvFCBBoxHead):
    """``ConvFCBBoxHead`` whose shared FCs aggregate reference RoI features.

    For every shared FC ``i``: ``x = fc_i(x)``, ``ref_x = fc_i(ref_x)``,
    ``x = x + aggregator[i](x, ref_x)``, then ReLU on both (MMTracking's and
    the official SELSA order: the aggregation is added before the ReLU).
    Shared convs / average pooling are applied to the reference features
    too; the class and box branches see the key features only.

    With ``num_rois`` / ``num_ref_rois`` given, the rows are split per
    sample and each sample's key RoIs attend to that sample's reference
    RoIs only, so a batch gives the same result as its samples one by one.

    Args:
        aggregator (dict): Config of one aggregator (e.g.
            ``dict(type='SelsaAggregator', in_channels=1024)``); one is built
            per shared FC, as ``ModuleList`` ``aggregator``. MMTracking's
            config key; ``aggregator_cfg`` is accepted as an alias.
        **kwargs: ``ConvFCBBoxHead`` arguments; ``num_shared_fcs`` >= 1.
    """

    def __init__(self,
                 aggregator: Optional[ConfigType] = None,
                 *args,
                 aggregator_cfg: Optional[ConfigType] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if (aggregator is None) == (aggregator_cfg is None):
            raise ValueError(
                'SelsaBBoxHead: give exactly one of `aggregator` and '
                '`aggregator_cfg` (the aggregator config), got '
                f'aggregator={aggregator}, aggregator_cfg={aggregator_cfg}')
        if self.num_shared_fcs < 1:
            raise ValueError('SelsaBBoxHead needs num_shared_fcs >= 1 (one '
                             'aggregator per shared FC), got '
                             f'{self.num_shared_fcs}')
        cfg = aggregator if aggregator is not None else aggregator_cfg
        self.aggregator = nn.ModuleList(
            MODELS.build(cfg) for _ in range(self.num_shared_fcs))

    def forward(self,
                x: Tensor,
                ref_x: Tensor,
                num_rois: Optional[Sequence[int]] = None,
                num_ref_rois: Optional[Sequence[int]] = None
                ) -> Tuple[Tensor, Tensor]:
        """Class scores and box deltas of the key RoIs.

        Args:
            x (Tensor): Key RoI features, (N, C, h, w).
            ref_x (Tensor): Reference RoI features, (M, C, h, w).
            num_rois (Sequence[int], optional): Key RoIs per sample (sum N).
            num_ref_rois (Sequence[int], optional): Reference RoIs per
                sample (sum M). Both or neither; neither: one sample.

        Returns:
            tuple[Tensor, Tensor]: ``cls_score`` (N, num_classes + 1) and
            ``bbox_pred`` (N, 4 or 4 * num_classes).
        """
        splits = self._check_splits(x, ref_x, num_rois, num_ref_rois)
        for conv in self.shared_convs:
            x = conv(x)
            ref_x = conv(ref_x)
        if self.with_avg_pool:
            x = self.avg_pool(x)
            ref_x = self.avg_pool(ref_x)
        x = x.flatten(1)
        ref_x = ref_x.flatten(1)
        for fc, aggregator in zip(self.shared_fcs, self.aggregator):
            x = fc(x)
            ref_x = fc(ref_x)
            x = x + self._aggregate(aggregator, x, ref_x, splits)
            x = F.relu(x)
            ref_x = F.relu(ref_x)
        return self._branches(x)

    @staticmethod
    def _check_splits(x: Tensor, ref_x: Tensor,
                      num_rois: Optional[Sequence[int]],
                      num_ref_rois: Optional[Sequence[int]]
                      ) -> List[Tuple[int, int]]:
        """(key RoIs, reference RoIs) per sample, validated."""
        if (num_rois is None) != (num_ref_rois is None):
            raise ValueError('SelsaBBoxHead.forward: give both num_rois and '
                             'num_ref_rois or neither')
        if num_rois is None:
            num_rois, num_ref_rois = [x.size(0)], [ref_x.size(0)]
        num_rois, num_ref_rois = list(num_rois), list(num_ref_rois)
        if len(num_rois) != len(num_ref_rois) or \
                sum(num_rois) != x.size(0) or \
                sum(num_ref_rois) != ref_x.size(0):
            raise ValueError(
                f'SelsaBBoxHead.forward: num_rois={num_rois} / num_ref_rois='
                f'{num_ref_rois} do not match {x.size(0)} key and '
                f'{ref_x.size(0)} reference RoI features')
        for i, (n, m) in enumerate(zip(num_rois, num_ref_rois)):
            if n > 0 and m == 0:
                raise ValueError(
                    f'SelsaBBoxHead.forward: sample {i} has {n} key RoIs but '
                    'no reference RoI to aggregate')
        return list(zip(num_rois, num_ref_rois))

    @staticmethod
    def _aggregate(aggregator: nn.Module, x: Tensor, ref_x: Tensor,
                   splits: List[Tuple[int, int]]) -> Tensor:
        """Run ``aggregator`` sample by sample."""
        if len(splits) == 1:
            return aggregator(x, ref_x)
        xs = x.split([n for n, _ in splits])
        refs = ref_x.split([m for _, m in splits])
        return torch.cat([
            aggregator(xi, ri) if xi.size(0) else xi
            for xi, ri in zip(xs, refs)
        ])

    def _branches(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """The separate class / box branches of ``ConvFCBBoxHead``."""
        x_cls, x_reg = x, x
        for fc in self.cls_fcs:
            x_cls = self.relu(fc(x_cls))
        for fc in self.reg_fcs:
            x_reg = self.relu(fc(x_reg))
        cls_score = self.fc_cls(x_cls) if self.with_cls else None
        bbox_pred = self.fc_reg(x_reg) if self.with_reg else None
        return cls_score, bbox_pred
