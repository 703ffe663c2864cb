"""One-stream tracker with an auxiliary loss on its prompts: where the
target is in the support crops."""
from typing import Dict

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList
from torch import Tensor

from .one_stream_tracker import OneStreamTracker


@MODELS.register_module()
class PromptSupervisedOneStreamTracker(OneStreamTracker):
    """:class:`OneStreamTracker` whose prompts must also tell WHERE the
    target is in the support crops (training only; test = the parent).

    STPN's prompts are global tokens without position; with the tracking
    losses alone a short fine-tune can leave them unused (the toy tracking
    experiment, ``docs/sot.md``). This variant adds ``loss_prompt``: a
    linear layer on the flattened (P * d) prompts of each item predicts the
    mean center of the target boxes of its support crops (normalised by
    the crop side; an item without support crops: its search crop's, the
    crop the prompts then come from), compared with ``prompt_loss`` (default
    L1). With ``SOTCropRegion(support_region='own')`` every support crop
    shows the target at the search crop's position, which is what the
    prompts then carry into the search crop's pass. The option counterpart
    of the detectors' ``PromptSupervisedFasterRCNN``; not in the paper.

    Args:
        prompt_loss (dict): The loss of the predicted center. Defaults to
            ``dict(type='L1Loss', loss_weight=5.0)``.
        *args, **kwargs: See :class:`OneStreamTracker`.
    """

    def __init__(self,
                 *args,
                 prompt_loss: dict = dict(type='L1Loss', loss_weight=5.0),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        bb = self.backbone
        if bb.predictor is None:
            raise ValueError(
                'PromptSupervisedOneStreamTracker needs prompts: '
                'model.backbone.num_prompts must be > 0')
        self.prompt_head = nn.Linear(bb.num_prompts * bb.prompt_dims, 2)
        self.prompt_loss = MODELS.build(prompt_loss)

    def loss(self, inputs: Dict, data_samples: TrackSampleList,
             **kwargs) -> dict:
        """The parent's losses plus ``loss_prompt``.

        Args:
            inputs (dict): See :meth:`OneStreamTracker.loss`.
            data_samples (list[TrackDataSample]): See
                :meth:`OneStreamTracker.loss`.
            **kwargs: Unused.

        Returns:
            dict: ``loss_cls``, ``loss_bbox``, ``loss_l1``, ``loss_prompt``.
        """
        losses, prompts = self.loss_and_prompts(inputs, data_samples)
        side = float(self.search_size)
        target = torch.stack([
            self.support_center(ds, i) for i, ds in enumerate(data_samples)
        ]).to(prompts.device) / side
        pred = self.prompt_head(prompts.flatten(1)).sigmoid()
        losses['loss_prompt'] = self.prompt_loss(pred, target.to(pred.dtype))
        return losses

    def support_center(self, track_sample, index: int) -> Tensor:
        """Where the target is in one item's support crops.

        Args:
            track_sample (TrackDataSample): The item.
            index (int): Its position in the batch (named in errors).

        Returns:
            Tensor: (2,) mean ``(cx, cy)`` of the support crops' target
            boxes in crop pixels; the search crop's without support crops.
        """
        frames = track_sample.video_data_samples
        roles = [f.metainfo.get('frame_role') for f in frames]
        picked = [f for f, r in zip(frames, roles) if r == 'support']
        if not picked:
            return self._center(self._search_box(track_sample, index))
        return torch.stack([
            self._center(self.frame_box(f, index, 'support'))
            for f in picked
        ]).mean(0)

    @staticmethod
    def _center(box: Tensor) -> Tensor:
        return (box[:2] + box[2:]) / 2
