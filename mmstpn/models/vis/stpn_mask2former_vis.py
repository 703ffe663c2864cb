"""mmdet's Mask2FormerVideo with an STPN backbone."""
from mmdet.models.vis import Mask2FormerVideo
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList

from ..backbones.stpn_base import STPNBackboneMixin
from .checkpoint_layout import refuse_layout
from .video_clip_view import (check_clip_length, check_same_size,
                              video_view)


@MODELS.register_module()
class STPNMask2FormerVideo(Mask2FormerVideo):
    """mmdet's ``Mask2FormerVideo`` whose clip frames each reach the STPN
    backbone as a ``ClipBatch`` with their own support frames.

    What changes, and nothing else (backbone call, track head, losses,
    matcher and post-processing are mmdet's code, run unchanged):

    - ``loss`` and ``predict`` get the
      :class:`~mmstpn.structures.TrackClips` of ``TrackClipDataPreprocessor``
      and hand mmdet's code a view of it
      (:class:`~mmstpn.models.vis.video_clip_view.TrackClipsVideoView`):
      training's ``inputs.flatten(0, 1)`` is the ``ClipBatch`` of the N x T
      clip frames, each with its K support frames; test's ``inputs[0]`` is
      the whole video's ``ClipBatch``, whose prompts the backbone takes
      from its video context (``model.backbone.test_support``: offline,
      the video's prompts from the K frames its frame 0 carries; online,
      each frame's from the K latest frames before it).
    - ``predict`` runs the items of a batch one by one (mmdet's takes a
      batch of one): the result of a batch is that of its items.
    - Clear errors where mmdet's code would silently compute something
      else: a clip whose frames differ in size (the track head crops and
      rescales every frame with frame 0's shapes), a training clip whose
      length is not ``track_head.num_frames`` or that repeats frames (a
      video shorter than the clip), a MinVIS checkpoint (``detector.*``
      keys; mmdet's image Mask2Former checkpoints still load, their
      ``panoptic_head.*`` mapped to ``track_head.*`` by mmdet).

    Args:
        **kwargs: See ``Mask2FormerVideo``; ``backbone`` must be an STPN
            backbone (``num_prompts=0`` for the baseline without prompts).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(self.backbone, STPNBackboneMixin):
            raise ValueError(
                f'{type(self).__name__} needs an STPN backbone '
                '(model.backbone.type=STPNSwin / STPNViT, num_prompts=0 for '
                f'no prompts), got {type(self.backbone).__name__}; use '
                "mmdet's Mask2FormerVideo for other backbones")

    def loss(self, inputs, data_samples: TrackSampleList, **kwargs) -> dict:
        """mmdet's ``loss`` on the ``ClipBatch`` of all clip frames.

        Args:
            inputs (TrackClips): From ``TrackClipDataPreprocessor``.
            data_samples (list[TrackDataSample]): The items.
            **kwargs: Passed to mmdet's ``loss``.

        Returns:
            dict[str, Tensor]: mmdet's losses.

        Raises:
            ValueError: Clips of another length than
                ``track_head.num_frames``, repeated frames, or frames of
                different sizes.
        """
        name = type(self).__name__
        view = video_view(inputs, name)
        check_clip_length(data_samples, self.track_head.num_frames, name,
                          'model.track_head.num_frames')
        check_same_size(data_samples, name)
        return super().loss(view, data_samples, **kwargs)

    def predict(self,
                inputs,
                data_samples: TrackSampleList,
                rescale: bool = True) -> TrackSampleList:
        """mmdet's ``predict`` on each item (a whole video) in turn.

        Args:
            inputs (TrackClips): From ``TrackClipDataPreprocessor``.
            data_samples (list[TrackDataSample]): The items.
            rescale (bool): Results at the original size.

        Returns:
            list[TrackDataSample]: The items with ``pred_track_instances``
            per frame.

        Raises:
            ValueError: Items and samples differ in number, or a clip's
                frames differ in size.
        """
        name = type(self).__name__
        view = video_view(inputs, name)
        if len(data_samples) != len(view):
            raise ValueError(f'{name}: {len(view)} input items but '
                             f'{len(data_samples)} data samples')
        check_same_size(data_samples, name)
        results = []
        for i, sample in enumerate(data_samples):
            results += super().predict(view.item(i), [sample], rescale)
        return results

    def _load_from_state_dict(self, state_dict, prefix, *args,
                              **kwargs) -> None:
        refuse_layout(state_dict, prefix, type(self).__name__,
                      'detector.', 'MinVIS (an image Mask2Former under '
                      '"detector.")')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
