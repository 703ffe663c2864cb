"""MaskTrack R-CNN with an STPN backbone."""
from mmdet.models.vis import MaskTrackRCNN
from mmdet.registry import MODELS

from ..mot.frame_view import FrameViewMixin


@MODELS.register_module()
class STPNMaskTrackRCNN(FrameViewMixin, MaskTrackRCNN):
    """mmdet's ``MaskTrackRCNN`` whose key / reference / test frames each
    reach the backbone as a ``ClipBatch`` with their own support frames.

    ``loss`` and ``predict`` are mmdet's, run on a view of the
    :class:`~mmstpn.structures.TrackClips` input (see
    :class:`~mmstpn.models.mot.frame_view.TrackClipsFrameView`): in
    training ``inputs[batch_inds, key_inds]`` / ``[.., ref_inds]`` give the
    key and reference frames' ``ClipBatch``es, at test ``inputs[:, t]``
    frame ``t``'s (its support frames per ``model.backbone.test_support``).
    Detector, track head, tracker and losses are unchanged.
    """
