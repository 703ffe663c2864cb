"""MaskTrack R-CNN with an STPN backbone."""
from mmdet.models.vis import MaskTrackRCNN
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList

from ..mot.frame_view import frame_view


@MODELS.register_module()
class STPNMaskTrackRCNN(MaskTrackRCNN):
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

    def loss(self, inputs, data_samples: TrackSampleList, **kwargs) -> dict:
        """mmdet's ``MaskTrackRCNN.loss`` on per-clip-frame
        ``ClipBatch``es."""
        return super().loss(
            frame_view(inputs, type(self).__name__), data_samples, **kwargs)

    def predict(self,
                inputs,
                data_samples: TrackSampleList,
                rescale: bool = True,
                **kwargs) -> TrackSampleList:
        """mmdet's ``MaskTrackRCNN.predict``, one ``ClipBatch`` per
        frame."""
        return super().predict(
            frame_view(inputs, type(self).__name__),
            data_samples,
            rescale=rescale,
            **kwargs)
