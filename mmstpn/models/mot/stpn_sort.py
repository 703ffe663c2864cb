"""DeepSORT and StrongSORT (test-only SORT models) with an STPN detector."""
from typing import Any

from mmdet.models.mot import DeepSORT, StrongSORT
from mmdet.registry import MODELS

from mmstpn.structures import ClipBatch
from .frame_view import FrameViewPredictMixin


class KeyFrameTracker:
    """A SORT-family tracker that receives each frame as a ``ClipBatch``
    (what the frame view gives) and passes its key frame on as the image
    tensor the tracker crops for ReID / camera-motion compensation.

    Everything else is the wrapped tracker's (attributes are read from it),
    so ``reset``, its configuration and its state are unchanged.

    Args:
        tracker: The tracker mmdet built from the config.
    """

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def track(self, img=None, **kwargs):
        """The tracker's ``track`` on the key frames.

        Args:
            img (ClipBatch | Tensor, optional): The frame; a ``ClipBatch``
                is replaced by its key frames, a tensor passed on unchanged.
            **kwargs: The tracker's other arguments.

        Returns:
            The wrapped tracker's result.
        """
        if isinstance(img, ClipBatch):
            img = img.key_frames
        return self.tracker.track(img=img, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name == 'tracker':  # not set yet (copy / unpickling)
            raise AttributeError(name)
        return getattr(self.tracker, name)


class _TestOnlyFrameViewMixin(FrameViewPredictMixin):
    """Test-only SORT models (DeepSORT family): ``predict`` through the frame
    view; the tracker gets the key frame tensors."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if getattr(self, 'tracker', None) is not None:
            self.tracker = KeyFrameTracker(self.tracker)


@MODELS.register_module()
class STPNDeepSORT(_TestOnlyFrameViewMixin, DeepSORT):
    """mmdet's ``DeepSORT`` (test only, as in mmdet) on an STPN detector:
    each frame reaches ``detector.predict`` as a ``ClipBatch``; the tracker
    (unchanged, wrapped in :class:`KeyFrameTracker`) crops its ReID inputs
    from the key frame."""


@MODELS.register_module()
class STPNStrongSORT(_TestOnlyFrameViewMixin, StrongSORT):
    """mmdet's ``StrongSORT`` (test only) on an STPN detector; see
    :class:`STPNDeepSORT`."""
