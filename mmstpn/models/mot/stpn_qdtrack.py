"""QDTrack with an STPN backbone."""
from mmdet.models.mot import QDTrack
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList

from .frame_view import frame_view


@MODELS.register_module()
class STPNQDTrack(QDTrack):
    """mmdet's ``QDTrack`` whose key / reference / test frames each reach
    the backbone as a ``ClipBatch`` with their own support frames.

    ``loss`` and ``predict`` are mmdet's, run on a view of the
    :class:`~mmstpn.structures.TrackClips` input (see
    :class:`~mmstpn.models.mot.frame_view.TrackClipsFrameView`); detector,
    track head, tracker and losses are unchanged.
    """

    def loss(self, inputs, data_samples: TrackSampleList, **kwargs) -> dict:
        """mmdet's ``QDTrack.loss`` on per-clip-frame ``ClipBatch``es."""
        return super().loss(
            frame_view(inputs, type(self).__name__), data_samples, **kwargs)

    def predict(self,
                inputs,
                data_samples: TrackSampleList,
                rescale: bool = True,
                **kwargs) -> TrackSampleList:
        """mmdet's ``QDTrack.predict``, one ``ClipBatch`` per frame."""
        return super().predict(
            frame_view(inputs, type(self).__name__),
            data_samples,
            rescale=rescale,
            **kwargs)
