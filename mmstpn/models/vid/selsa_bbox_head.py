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

    The reference branch does not depend on the key RoIs: :meth:`ref_states`
    (after every shared FC, the aggregator's reference keys and values) can
    be computed once per reference frame and passed as ``ref_states``
    instead of ``ref_x`` (SELSA's test-time memory does).

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
                ref_x: Optional[Tensor] = None,
                num_rois: Optional[Sequence[int]] = None,
                num_ref_rois: Optional[Sequence[int]] = None,
                ref_states: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
        """Class scores and box deltas of the key RoIs.

        Args:
            x (Tensor): Key RoI features, (N, C, h, w).
            ref_x (Tensor, optional): Reference RoI features, (M, C, h, w).
            num_rois (Sequence[int], optional): Key RoIs per sample (sum N).
            num_ref_rois (Sequence[int], optional): Reference RoIs per
                sample (sum M). Both or neither; neither: one sample.
            ref_states (Tensor, optional): Instead of ``ref_x``: the
                reference RoIs' :meth:`ref_states` (M, num_shared_fcs, 2C'),
                e.g. kept from earlier key frames of the same video. Give
                exactly one of ``ref_x`` and ``ref_states``.

        Returns:
            tuple[Tensor, Tensor]: ``cls_score`` (N, num_classes + 1) and
            ``bbox_pred`` (N, 4 or 4 * num_classes).
        """
        if (ref_x is None) == (ref_states is None):
            raise ValueError('SelsaBBoxHead.forward: give exactly one of '
                             'ref_x and ref_states')
        if ref_states is None:
            ref_states = self.ref_states(ref_x)
        elif ref_states.dim() != 3 or \
                ref_states.size(1) != self.num_shared_fcs:
            raise ValueError(
                'SelsaBBoxHead.forward: ref_states must be (M, '
                f'{self.num_shared_fcs}, 2C), got {tuple(ref_states.shape)}')
        splits = self._check_splits(x, ref_states, num_rois, num_ref_rois)
        x = self._flat_input(x)
        for i, (fc, aggregator) in enumerate(
                zip(self.shared_fcs, self.aggregator)):
            x = fc(x)
            x = x + self._aggregate(aggregator, x, ref_states[:, i], splits)
            x = F.relu(x)
        return self._branches(x)

    def ref_states(self, ref_x: Tensor) -> Tensor:
        """What the shared FCs need of the reference RoIs: after every shared
        FC, the aggregator's keys and values (``project_ref``).

        The reference branch does not depend on the key frame and row ``m``
        depends on ``ref_x[m]`` only: the states of one reference frame can
        be kept and reused for every key frame of its video, and states of
        several frames concatenated (what ``SELSA`` does at test time).

        Args:
            ref_x (Tensor): Reference RoI features, (M, C, h, w).

        Returns:
            Tensor: (M, num_shared_fcs, 2 * fc_out_channels).
        """
        ref_x = self._flat_input(ref_x)
        states = []
        for fc, aggregator in zip(self.shared_fcs, self.aggregator):
            ref_x = fc(ref_x)
            states.append(aggregator.project_ref(ref_x))
            ref_x = F.relu(ref_x)
        return torch.stack(states, dim=1)

    def _flat_input(self, x: Tensor) -> Tensor:
        """Shared convs and average pooling, flattened to (n, C)."""
        for conv in self.shared_convs:
            x = conv(x)
        if self.with_avg_pool:
            x = self.avg_pool(x)
        return x.flatten(1)

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
    def _aggregate(aggregator: nn.Module, x: Tensor, ref_kv: Tensor,
                   splits: List[Tuple[int, int]]) -> Tensor:
        """Run ``aggregator.attend`` sample by sample."""
        if len(splits) == 1:
            return aggregator.attend(x, ref_kv)
        xs = x.split([n for n, _ in splits])
        refs = ref_kv.split([m for _, m in splits])
        return torch.cat([
            aggregator.attend(xi, ri) if xi.size(0) else xi
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
