"""STPN MaskTrack R-CNN plus the auxiliary class loss on the prompts."""
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList

from ..detectors import PromptSupervisedFasterRCNN
from ..mot.frame_view import frame_view
from .stpn_masktrack_rcnn import STPNMaskTrackRCNN


@MODELS.register_module()
class PromptSupervisedMaskTrackRCNN(STPNMaskTrackRCNN):
    """:class:`STPNMaskTrackRCNN` plus ``loss_prompt_cls``: the training aid
    of :class:`~mmstpn.models.PromptSupervisedFasterRCNN` (NOT part of STPN;
    a linear head on the mean prompt predicts the key frame's classes,
    multi-label BCE), for short schedules. The key frames' prompts are
    recomputed from their support frames with ``backbone.compute_prompts``
    (no state is kept between the detector's calls). Test time is exactly
    :class:`STPNMaskTrackRCNN`'s.

    Args:
        prompt_loss_weight (float): Weight of ``loss_prompt_cls``; a
            ``prompt_loss_weight`` in ``detector.train_cfg`` takes
            precedence (so a baseline sharing the dict ignores it).
            Defaults to 1.0.
        **kwargs: See ``MaskTrackRCNN``.
    """

    def __init__(self, prompt_loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        backbone = self.detector.backbone
        if not getattr(backbone, 'num_prompts', 0):
            raise ValueError(
                f'{type(self).__name__} needs an STPN backbone with '
                'num_prompts > 0')
        self.prompt_loss_weight = (self.detector.train_cfg or {}).get(
            'prompt_loss_weight', prompt_loss_weight)
        self.prompt_cls_head = nn.Linear(
            backbone.prompt_dims, self.detector.roi_head.bbox_head.num_classes)

    def loss(self, inputs, data_samples: TrackSampleList, **kwargs) -> dict:
        """MaskTrack R-CNN's losses plus ``loss_prompt_cls`` of the key
        frames.

        Args:
            inputs (TrackClips): From ``TrackClipDataPreprocessor``.
            data_samples (list[TrackDataSample]): The items.
            **kwargs: Passed to ``MaskTrackRCNN.loss``.

        Returns:
            dict[str, Tensor]: The losses.
        """
        losses = super().loss(inputs, data_samples, **kwargs)
        view = frame_view(inputs, type(self).__name__)
        keys = [s.key_frames_inds[0] for s in data_samples]
        key_clips = view[list(range(len(view))), keys]
        prompts = self.detector.backbone.compute_prompts(key_clips)
        key_samples = [s.get_key_frames()[0] for s in data_samples]
        losses['loss_prompt_cls'] = PromptSupervisedFasterRCNN.prompt_loss(
            self, prompts, key_samples)
        return losses
