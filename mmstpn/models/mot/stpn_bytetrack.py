"""ByteTrack and OC-SORT with an STPN detector."""
from mmdet.models.mot import OCSORT, ByteTrack
from mmdet.registry import MODELS

from mmstpn.structures import TrackClips
from .frame_view import FrameViewPredictMixin


class DetectorTrackerMixin(FrameViewPredictMixin):
    """For trackers that train a plain detector and call
    ``detector.predict`` per frame (ByteTrack, OC-SORT).

    Training is mmdet's (``detector.loss`` on the preprocessor's inputs):
    with ``TrackClipDataPreprocessor(use_det_processor=True)`` and
    ``PackClipInputs`` these are a ``ClipBatch`` of frames with their
    support frames, which a stock detector passes to its backbone. Only
    ``predict`` changes: mmdet's loop over the frames runs on a view of the
    :class:`~mmstpn.structures.TrackClips` input, so each frame reaches
    ``detector.predict`` as a ``ClipBatch``. The tracker is unchanged.
    """

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        """mmdet's ``loss`` (the detector's loss) on frames.

        Args:
            inputs (ClipBatch): Frames with their support frames
                (``TrackClipDataPreprocessor(use_det_processor=True)``).
            data_samples (list[DetDataSample]): The frames' samples.
            **kwargs: Passed to mmdet's ``loss``.

        Returns:
            dict[str, Tensor]: The detector's losses.

        Raises:
            ValueError: ``inputs`` is a :class:`TrackClips`.
        """
        if isinstance(inputs, TrackClips):
            raise ValueError(
                f'{type(self).__name__} trains its detector on frames: use '
                'TrackClipDataPreprocessor(use_det_processor=True) with '
                'SupportFrameSample + PackClipInputs in the training '
                'pipeline (got TrackClips from PackTrackClipInputs)')
        return super().loss(inputs, data_samples, **kwargs)


@MODELS.register_module()
class STPNByteTrack(DetectorTrackerMixin, ByteTrack):
    """mmdet's ``ByteTrack`` on an STPN detector (see
    :class:`DetectorTrackerMixin`)."""


@MODELS.register_module()
class STPNOCSORT(DetectorTrackerMixin, OCSORT):
    """mmdet's ``OCSORT`` on an STPN detector (see
    :class:`DetectorTrackerMixin`)."""
