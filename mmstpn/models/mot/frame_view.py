"""mmdet's per-frame slicing of tracker inputs, applied to ``TrackClips``."""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from mmstpn.structures import ClipBatch, TrackClips, find_video_context


class FrameClipBatch(ClipBatch):
    """The :class:`ClipBatch` of one clip position, as mmdet's trackers take
    a frame: they call ``.contiguous()`` on the slice (a no-op here)."""

    def contiguous(self) -> 'FrameClipBatch':
        """No-op (its frames are freshly gathered).

        Returns:
            FrameClipBatch: ``self``.
        """
        return self


class TrackClipsFrameView:
    """Answer mmdet's ``MaskTrackRCNN`` / ``QDTrack`` / ``ByteTrack`` the way
    their ``(N, T, C, H, W)`` input would, with ``ClipBatch``es for frames.

    Those models check ``inputs.dim() == 5`` and ``inputs.size(0|1)``, and
    take frames with ``inputs[batch_inds, frame_inds]`` (training: key /
    reference frame of every item) or ``inputs[:, t]`` (test). Here such an
    index returns the :class:`ClipBatch` of those clip frames, each with its
    own support frames and ``ClipMeta``, which their unchanged code hands to
    ``detector.extract_feat`` / ``detector.predict``, i.e. to the STPN
    backbone. Nothing else of a tensor is offered: any other use fails.

    Args:
        clips (TrackClips): What ``TrackClipDataPreprocessor`` returned.
    """

    def __init__(self, clips: TrackClips) -> None:
        self.clips = clips

    def dim(self) -> int:
        """The rank of ``(N, T, C, H, W)``.

        Returns:
            int: 5.
        """
        return 5

    def __len__(self) -> int:
        return len(self.clips)

    def size(self, dim: Optional[int] = None) -> Union[int, torch.Size]:
        """The shape the tracker expects.

        Args:
            dim (int, optional): One dimension; None: all.

        Returns:
            int | torch.Size: ``(N, T, C, H, W)`` (or its ``dim``), T the
            clip frames per item.

        Raises:
            ValueError: The items have different numbers of clip frames
                (mmdet's ``TrackDataPreprocessor`` requires one T).
        """
        counts = set(self.clips.num_clip_frames)
        if len(counts) != 1:
            raise ValueError('the items of a batch have different numbers of '
                             f'clip frames {self.clips.num_clip_frames}')
        frames = self.clips.frames
        shape = torch.Size((frames.shape[0], counts.pop(), *frames.shape[2:]))
        return shape if dim is None else shape[dim]

    @property
    def shape(self) -> torch.Size:
        return self.size()

    def __getitem__(self, index) -> FrameClipBatch:
        if not isinstance(index, tuple) or len(index) != 2:
            raise IndexError('TrackClipsFrameView takes [items, clip frames] '
                             f'indices, got {index!r}')
        items, positions = index
        n = len(self.clips)
        items = _as_list(items, n)
        positions = _as_list(positions, len(items))
        if len(positions) == 1 and len(items) > 1:
            positions = positions * len(items)
        batch = self.clips.gather(items, positions)
        return FrameClipBatch(batch.frames, batch.metas)


def _as_list(index, n: int) -> Sequence[int]:
    if isinstance(index, slice):
        return list(range(n))[index]
    if isinstance(index, Tensor):
        return [int(i) for i in index.reshape(-1).tolist()]
    if isinstance(index, int):
        return [index]
    return [int(i) for i in index]


def frame_view(inputs, model: str) -> TrackClipsFrameView:
    """The frame view of a tracker's input; a clear error for anything but
    :class:`TrackClips`.

    Args:
        inputs: The data preprocessor's ``inputs``.
        model (str): The adapter's name, for the message.

    Returns:
        TrackClipsFrameView: The view of ``inputs``.

    Raises:
        ValueError: ``inputs`` is not a :class:`TrackClips`.
    """
    if isinstance(inputs, TrackClips):
        return TrackClipsFrameView(inputs)
    desc = tuple(inputs.shape) if isinstance(inputs, Tensor) else \
        type(inputs).__name__
    raise ValueError(
        f'{model} expects TrackClips (data_preprocessor='
        "dict(type='TrackClipDataPreprocessor') with PackTrackClipInputs in "
        f'the pipeline), got {desc}: a plain tensor would give the STPN '
        'backbone frames without their support frames or video identity')


class FrameViewPredictMixin:
    """``predict`` of an mmdet tracker that slices ``inputs[:, t]`` per
    frame, run on the frame view so that each frame is a ``ClipBatch``.

    The tracker's state (mmdet resets it at each video's frame 0) is also
    reset with the model's video context (``train()``, a policy switch,
    the end of a val / test run).

    Args:
        *args, **kwargs: The tracker's arguments.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        context = find_video_context(self)
        tracker = getattr(self, 'tracker', None)
        if context is not None and callable(getattr(tracker, 'reset', None)):
            context.register_reset(tracker.reset)

    def predict(self, inputs, data_samples, **kwargs):
        """mmdet's ``predict``, one ``ClipBatch`` per frame.

        Args:
            inputs (TrackClips): From ``TrackClipDataPreprocessor``.
            data_samples (list[TrackDataSample]): The items.
            **kwargs: Passed to mmdet's ``predict``.

        Returns:
            list[TrackDataSample]: mmdet's result.
        """
        return super().predict(
            frame_view(inputs, type(self).__name__), data_samples, **kwargs)


class FrameViewMixin(FrameViewPredictMixin):
    """``loss`` and ``predict`` of an mmdet tracker that slices its
    ``(N, T, C, H, W)`` input (``inputs[batch_inds, key_inds]`` in training,
    ``inputs[:, t]`` at test), both run on the frame view (MaskTrack R-CNN,
    QDTrack)."""

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        """mmdet's ``loss`` on per-clip-frame ``ClipBatch``es.

        Args:
            inputs (TrackClips): From ``TrackClipDataPreprocessor``.
            data_samples (list[TrackDataSample]): The items.
            **kwargs: Passed to mmdet's ``loss``.

        Returns:
            dict[str, Tensor]: mmdet's losses.
        """
        return super().loss(
            frame_view(inputs, type(self).__name__), data_samples, **kwargs)
