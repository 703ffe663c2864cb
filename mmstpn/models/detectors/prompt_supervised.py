from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.detectors import FasterRCNN
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from mmstpn.structures import BackboneInput


class NeckFeatures(NamedTuple):
    """Features already extracted (backbone + neck) for one loss call."""

    feats: Tuple[Tensor]


@MODELS.register_module()
class PromptSupervisedFasterRCNN(FasterRCNN):
    """mmdet's Faster R-CNN plus an auxiliary loss on the STPN prompts.

    NOT part of STPN (the paper and the released recipe train with the
    detection loss only): a training aid for short schedules. A linear head
    on the mean of the N_P prompts predicts which classes the key frame
    holds (multi-label, binary cross-entropy against the classes of its
    ground-truth boxes; frames without boxes count as "no class"). It makes
    the predictor's output depend on the support frames' content from the
    start (when it helps: docs/toy_vid.md). Test time is exactly
    ``FasterRCNN``'s: the head is unused.

    Args:
        prompt_loss_weight (float): Weight of ``loss_prompt_cls``.
            Defaults to 1.0. ``train_cfg.prompt_loss_weight``, when set,
            takes precedence: a config whose model dict is shared with a
            plain ``FasterRCNN`` baseline sets it there, since
            ``FasterRCNN`` ignores ``train_cfg`` keys it does not use.
        **kwargs: ``FasterRCNN`` arguments; the backbone must be an STPN
            backbone with ``num_prompts > 0``.
    """

    def __init__(self, prompt_loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if not getattr(self.backbone, 'num_prompts', 0):
            raise ValueError(
                f'{type(self).__name__} needs an STPN backbone with '
                f'num_prompts > 0, got {type(self.backbone).__name__} with '
                f'num_prompts={getattr(self.backbone, "num_prompts", None)}')
        self.prompt_loss_weight = (self.train_cfg or {}).get(
            'prompt_loss_weight', prompt_loss_weight)
        self.prompt_cls_head = nn.Linear(self.backbone.prompt_dims,
                                         self.roi_head.bbox_head.num_classes)

    def loss(self, batch_inputs: BackboneInput,
             batch_data_samples: SampleList) -> dict:
        """Faster R-CNN's losses plus ``loss_prompt_cls``.

        One backbone pass: ``backbone.forward_with_prompts`` returns the
        features and the prompts that made them; the features go to
        FasterRCNN's own ``loss`` as :class:`NeckFeatures`.

        Args:
            batch_inputs (ClipBatch | Tensor): Key frames with their
                support frames.
            batch_data_samples (list[DetDataSample]): The key frames'
                samples with ``gt_instances``.

        Returns:
            dict[str, Tensor]: FasterRCNN's losses and ``loss_prompt_cls``.
        """
        feats, prompts = self.backbone.forward_with_prompts(batch_inputs)
        x = self.neck(feats) if self.with_neck else feats
        losses = super().loss(NeckFeatures(x), batch_data_samples)
        losses['loss_prompt_cls'] = self.prompt_loss(prompts,
                                                     batch_data_samples)
        return losses

    def extract_feat(self, batch_inputs) -> Tuple[Tensor]:
        """FasterRCNN's, except that :class:`NeckFeatures` pass through.

        Args:
            batch_inputs (ClipBatch | Tensor | NeckFeatures): The input.

        Returns:
            tuple[Tensor]: The neck's maps.
        """
        if isinstance(batch_inputs, NeckFeatures):
            return batch_inputs.feats
        return super().extract_feat(batch_inputs)

    def prompt_loss(self, prompts: Tensor,
                    batch_data_samples: SampleList,
                    weight: Optional[float] = None) -> Tensor:
        """Multi-label class loss of the prompts.

        Args:
            prompts (Tensor): (N, P, d) prompts.
            batch_data_samples (list[DetDataSample]): Their key frames;
                the classes of ``gt_instances`` are the targets.
            weight (float, optional): Loss weight; None:
                ``prompt_loss_weight``.

        Returns:
            Tensor: The weighted binary cross-entropy (a scalar).
        """
        logits = self.prompt_cls_head(prompts.mean(1))
        targets = torch.zeros_like(logits)
        for i, sample in enumerate(batch_data_samples):
            targets[i, sample.gt_instances.labels.long()] = 1.
        weight = self.prompt_loss_weight if weight is None else weight
        return weight * F.binary_cross_entropy_with_logits(logits, targets)
