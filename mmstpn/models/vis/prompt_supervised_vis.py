"""STPN Mask2FormerVideo and MinVIS plus the auxiliary class loss on the
prompts (a training aid, not part of STPN)."""
from typing import List

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList
from torch import Tensor

from ..detectors import PromptSupervisedFasterRCNN
from ..utils import recorded_outputs
from .minvis import MinVIS
from .stpn_mask2former_vis import STPNMask2FormerVideo


class PromptClassSupervision:
    """``loss_prompt_cls`` for a VIS model whose loss runs its STPN
    backbone once over all training frames: the prompts that pass made
    (recorded from the backbone's prompt generator, nothing recomputed) go
    through a linear head on their mean, which predicts the classes each
    frame holds (multi-label BCE, the loss of
    :class:`~mmstpn.models.PromptSupervisedFasterRCNN`). Test time is the
    parent model's: the head is unused.
    """

    @property
    def stpn_backbone(self) -> nn.Module:
        """The model's STPN backbone (defined by each model)."""
        raise NotImplementedError

    def init_prompt_supervision(self, num_classes: int,
                                prompt_loss_weight: float) -> None:
        """Check the backbone has prompts and build the class head.

        Args:
            num_classes (int): Classes the head predicts.
            prompt_loss_weight (float): Weight of ``loss_prompt_cls``.

        Raises:
            ValueError: When the backbone has no prompts.
        """
        backbone = self.stpn_backbone
        if not getattr(backbone, 'num_prompts', 0):
            raise ValueError(
                f'{type(self).__name__} needs an STPN backbone with '
                'num_prompts > 0 (the baseline without prompts is the model '
                'without the prompt supervision)')
        self.prompt_loss_weight = prompt_loss_weight
        self.prompt_cls_head = nn.Linear(backbone.prompt_dims, num_classes)

    def loss(self, inputs, data_samples: TrackSampleList, **kwargs) -> dict:
        """The parent model's losses plus ``loss_prompt_cls`` of every
        training frame (item-major, the order of the backbone's batch)."""
        with recorded_outputs(
                self.stpn_backbone.prompt_generator) as recorded:
            losses = super().loss(inputs, data_samples, **kwargs)
        frames = [s[t] for s in data_samples for t in range(len(s))]
        losses['loss_prompt_cls'] = self.prompt_class_loss(recorded, frames)
        return losses

    def prompt_class_loss(self, recorded: List[Tensor],
                          frames: list) -> Tensor:
        """``loss_prompt_cls`` of the recorded prompts against the classes
        of ``frames`` (one data sample per prompted frame, in order).

        Raises:
            RuntimeError: When the backbone made prompts for another number
                of frames.
        """
        prompts = torch.cat(recorded) if recorded else None
        if prompts is None or prompts.shape[0] != len(frames):
            got = 0 if prompts is None else prompts.shape[0]
            raise RuntimeError(
                f'{type(self).__name__}: the backbone made prompts for {got} '
                f'frames during the loss, expected {len(frames)}')
        return PromptSupervisedFasterRCNN.prompt_loss(self, prompts, frames)


@MODELS.register_module()
class PromptSupervisedMinVIS(PromptClassSupervision, MinVIS):
    """:class:`MinVIS` plus ``loss_prompt_cls`` (see
    :class:`PromptClassSupervision`); test time is :class:`MinVIS`'s.

    Args:
        prompt_loss_weight (float): Weight of ``loss_prompt_cls``.
            Defaults to 1.0.
        **kwargs: See :class:`MinVIS`; the detector's backbone must have
            ``num_prompts > 0``.
    """

    def __init__(self, prompt_loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.init_prompt_supervision(
            self.detector.panoptic_head.num_things_classes,
            prompt_loss_weight)

    @property
    def stpn_backbone(self) -> nn.Module:
        """The detector's backbone."""
        return self.detector.backbone


@MODELS.register_module()
class PromptSupervisedMask2FormerVideo(PromptClassSupervision,
                                       STPNMask2FormerVideo):
    """:class:`STPNMask2FormerVideo` plus ``loss_prompt_cls`` of every clip
    frame (see :class:`PromptClassSupervision`); test time is
    :class:`STPNMask2FormerVideo`'s.

    Args:
        prompt_loss_weight (float): Weight of ``loss_prompt_cls``.
            Defaults to 1.0.
        **kwargs: See :class:`STPNMask2FormerVideo`; the backbone must have
            ``num_prompts > 0``.
    """

    def __init__(self, prompt_loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.init_prompt_supervision(self.track_head.num_classes,
                                     prompt_loss_weight)

    @property
    def stpn_backbone(self) -> nn.Module:
        """The model's backbone."""
        return self.backbone

