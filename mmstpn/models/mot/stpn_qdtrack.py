"""QDTrack with an STPN backbone."""
from mmdet.models.mot import QDTrack
from mmdet.registry import MODELS

from .frame_view import FrameViewMixin


@MODELS.register_module()
class STPNQDTrack(FrameViewMixin, QDTrack):
    """mmdet's ``QDTrack`` whose key / reference / test frames each reach
    the backbone as a ``ClipBatch`` with their own support frames.

    ``loss`` and ``predict`` are mmdet's, run on a view of the
    :class:`~mmstpn.structures.TrackClips` input (see
    :class:`~mmstpn.models.mot.frame_view.TrackClipsFrameView`); detector,
    track head, tracker and losses are unchanged.
    """
