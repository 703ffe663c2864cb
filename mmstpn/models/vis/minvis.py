"""MinVIS: an image Mask2Former linked across frames by its queries."""
from typing import List, Optional, Tuple

import torch.nn.functional as F
from mmdet.models.mot import BaseMOTModel
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, TrackDataSample, TrackSampleList
from mmdet.structures.mask import mask2bbox
from mmengine.structures import InstanceData
from torch import Tensor

from mmstpn.structures import ClipBatch, get_video_context
from ..backbones.stpn_base import STPNBackboneMixin
from ..utils import recorded_outputs
from .checkpoint_layout import refuse_layout
from .query_linking import QueryTrackState
from .video_clip_view import video_view

IMAGE_MODEL_KEYS = ('backbone.', 'neck.', 'panoptic_head.')


@MODELS.register_module()
class MinVIS(BaseMOTModel):
    """MinVIS (Huang et al., 2022): mmdet's image ``Mask2Former`` with an STPN
    backbone, trained on single frames, linked across frames at test by its
    instance queries.

    Training: every clip frame of the
    :class:`~mmstpn.structures.TrackClips` input (one per item with
    ``RefSupportFrameSample(num_ref_imgs=0)``) is an image with its own K
    support frames; the loss is the detector's (``Mask2Former.loss``:
    Hungarian matching, class / mask / dice losses), unchanged. No video
    loss.

    Test, frame by frame in video order (causal): frame ``t`` goes through
    the detector as a ``ClipBatch`` of one (its prompts per
    ``model.detector.backbone.test_support``: offline or online); its Q
    query embeddings (the last decoder layer's normed output, what the
    class and mask embeddings read) are matched to the previous frame's by
    Hungarian matching on cosine similarity
    (:func:`~mmstpn.models.vis.query_linking.match_queries`), so query
    ``j`` of frame 0 and the queries matched to it form track ``j``. The
    linking state (last embeddings, summed class logits) is the video's
    ``'minvis'`` slot in the model's video context (its reset rule: a
    video's frame 0 starts afresh). Masks and track ids of frame ``t`` use
    frames ``<= t`` only.

    Output (the per-frame ``pred_track_instances`` that
    ``YouTubeVISMetric`` / ``YouTubeVISMetricNp2`` score, as
    ``Mask2FormerVideo`` gives them): as MinVIS, the tracks' class logits
    averaged over the frames seen, softmax, the ``num_tracks`` best
    (track, class) pairs; per frame their masks (mask logits > 0 at the
    original size), boxes, labels, scores (the pair's, the same in every
    frame) and ``instances_id = track * num_classes + class``. For a
    whole-video test item the average is over the whole video.

    Args:
        detector (dict): An mmdet ``Mask2Former`` config with an STPN
            backbone (``num_prompts=0`` for the baseline without prompts).
        num_tracks (int): (track, class) pairs output per video. Defaults
            to 10 (MinVIS and mmdet's ``Mask2FormerVideo``).
        data_preprocessor (dict, optional): ``TrackClipDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    SLOT = 'minvis'

    def __init__(self,
                 detector: dict,
                 num_tracks: int = 10,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor, init_cfg)
        self.detector = MODELS.build(detector)
        name = type(self).__name__
        if not isinstance(getattr(self.detector, 'backbone', None),
                          STPNBackboneMixin):
            raise ValueError(
                f'{name} needs an STPN backbone '
                '(model.detector.backbone.type=STPNSwin / STPNViT, '
                'num_prompts=0 for no prompts)')
        decoder = getattr(getattr(self.detector, 'panoptic_head', None),
                          'transformer_decoder', None)
        if getattr(decoder, 'post_norm', None) is None:
            raise ValueError(
                f'{name} needs a Mask2Former detector (model.detector.type='
                "'Mask2Former' with a Mask2FormerHead): it links frames by "
                'the transformer decoder\'s query embeddings')
        if num_tracks < 1:
            raise ValueError(f'{name}: num_tracks must be >= 1, got '
                             f'{num_tracks}')
        self.num_tracks = num_tracks

    # ------------------------------------------------------------ training
    def loss(self, inputs, data_samples: TrackSampleList, **kwargs) -> dict:
        """The detector's loss on every clip frame as an image (with its
        support frames).

        Args:
            inputs (TrackClips): From ``TrackClipDataPreprocessor``.
            data_samples (list[TrackDataSample]): The items.
            **kwargs: Passed to ``Mask2Former.loss``.

        Returns:
            dict[str, Tensor]: ``Mask2Former``'s losses.
        """
        view = video_view(inputs, type(self).__name__)
        frames = [s[t] for s in data_samples for t in range(len(s))]
        return self.detector.loss(view.flatten(0, 1), frames, **kwargs)

    # ------------------------------------------------------------ test
    def _query_embeddings(self):
        """Record the decoder's normed query outputs while inside (the last
        recorded is the last layer's, shape (B, Q, C))."""
        return recorded_outputs(
            self.detector.panoptic_head.transformer_decoder.post_norm)

    def frame_queries(self, clip: ClipBatch,
                      sample: DetDataSample) -> Tuple[Tensor, Tensor, Tensor]:
        """One frame through the detector.

        Args:
            clip (ClipBatch): The frame with its support frames.
            sample (DetDataSample): Its data sample.

        Returns:
            tuple[Tensor]: ``(Q, num_classes + 1)`` class logits, ``(Q, h,
            w)`` mask logits (the head's resolution) and ``(Q, C)`` query
            embeddings.
        """
        feats = self.detector.extract_feat(clip)
        with self._query_embeddings() as embeds:
            cls, masks = self.detector.panoptic_head(feats, [sample])
        return cls[-1][0], masks[-1][0], embeds[-1][0]

    def track_instances(self, mean_logits: Tensor, masks: List[Tensor],
                        samples: List[DetDataSample],
                        rescale: bool = True) -> List[InstanceData]:
        """MinVIS's output for the frames of one call (see the class
        docstring).

        Args:
            mean_logits (Tensor): ``(Q, num_classes + 1)`` the tracks' mean
                class logits.
            masks (list[Tensor]): Per frame, ``(Q, h, w)`` mask logits in
                track order.
            samples (list[DetDataSample]): The frames' data samples.
            rescale (bool): Masks at the original size (else the resized
                image's).

        Returns:
            list[InstanceData]: Per frame ``masks``, ``bboxes``,
            ``labels``, ``scores`` and ``instances_id`` of the tracks.
        """
        scores = mean_logits.softmax(-1)[:, :-1]
        num_classes = scores.shape[1]
        top, index = scores.flatten().topk(
            min(self.num_tracks, scores.numel()))
        tracks, labels = index // num_classes, index % num_classes
        results = []
        for logits, sample in zip(masks, samples):
            info = sample.metainfo
            m = F.interpolate(logits[tracks][None],
                              size=tuple(info['batch_input_shape']),
                              mode='bilinear', align_corners=False)
            h, w = info['img_shape'][:2]
            m = m[..., :h, :w]
            if rescale:
                m = F.interpolate(m, size=tuple(info['ori_shape'][:2]),
                                  mode='bilinear', align_corners=False)
            binary = m[0] > 0
            results.append(InstanceData(
                masks=binary, bboxes=mask2bbox(binary), labels=labels,
                scores=top, instances_id=tracks * num_classes + labels))
        return results

    def predict(self,
                inputs,
                data_samples: TrackSampleList,
                rescale: bool = True) -> TrackSampleList:
        """Each item's frames in order, linked to the video's tracks (see
        the class docstring); items one by one.

        Args:
            inputs (TrackClips): From ``TrackClipDataPreprocessor``.
            data_samples (list[TrackDataSample]): The items.
            rescale (bool): Masks and boxes at the original size.

        Returns:
            list[TrackDataSample]: Per item, ``video_data_samples`` whose
            ``pred_track_instances`` hold the tracks.
        """
        name = type(self).__name__
        view = video_view(inputs, name)
        if len(data_samples) != len(view):
            raise ValueError(f'{name}: {len(view)} input items but '
                             f'{len(data_samples)} data samples')
        context = get_video_context(self)
        results = []
        for i, sample in enumerate(data_samples):
            frames = [sample[t] for t in range(len(sample))]
            masks = []
            for t, frame in enumerate(frames):
                clip = view[[i], [t]]
                context.enter_batch(clip.metas)
                meta = clip.metas[0]
                state = context.video(meta.video_key).slots.setdefault(
                    self.SLOT, QueryTrackState())
                logits, mask_logits, embeds = self.frame_queries(clip, frame)
                perm = state.link(meta, embeds, logits)
                masks.append(mask_logits[perm])
            for frame, pred in zip(frames, self.track_instances(
                    state.mean_logits, masks, frames, rescale)):
                frame.pred_track_instances = pred
            result = TrackDataSample()
            result.video_data_samples = frames
            results.append(result)
        return results

    def _load_from_state_dict(self, state_dict, prefix, *args,
                              **kwargs) -> None:
        """Refuse a ``Mask2FormerVideo`` checkpoint; load an mmdet image
        ``Mask2Former`` one (``backbone.*`` / ``panoptic_head.*`` at the top)
        into ``detector``."""
        refuse_layout(state_dict, prefix, type(self).__name__, 'track_head.',
                      'Mask2FormerVideo (track_head.*)')
        if not any(k.startswith(prefix + 'detector.') for k in state_dict):
            for key in list(state_dict):
                rest = key[len(prefix):]
                if key.startswith(prefix) and rest.startswith(
                        IMAGE_MODEL_KEYS):
                    state_dict[f'{prefix}detector.{rest}'] = \
                        state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
