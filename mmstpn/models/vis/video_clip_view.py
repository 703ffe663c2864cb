"""mmdet's whole-clip use of a ``(N, T, C, H, W)`` VIS input, applied to
``TrackClips``; plus the checks a video-level model needs of its clips."""
from typing import List

from torch import Tensor

from mmstpn.structures import ClipBatch, TrackClips
from ..mot.frame_view import FrameClipBatch, TrackClipsFrameView, frame_view


class TrackClipsVideoView(TrackClipsFrameView):
    """Answer mmdet's ``Mask2FormerVideo`` (and the image models trained on
    clip frames) the way their ``(N, T, C, H, W)`` input would, with
    ``ClipBatch``es for frames.

    On top of :class:`~mmstpn.models.mot.frame_view.TrackClipsFrameView`'s
    ``[items, clip frames]`` indexing:

    - ``flatten(0, 1)``: the ``ClipBatch`` of every clip frame of every
      item, item-major (item 0's T frames, then item 1's, ...), each with
      its own support frames and ``ClipMeta`` (``Mask2FormerVideo.loss``);
    - ``[i]``: the ``ClipBatch`` of item ``i``'s T clip frames in clip order
      (``Mask2FormerVideo.predict``'s ``inputs[0]``, a whole video at
      test);
    - :meth:`item`: the view of item ``i`` alone (a batch of one).

    Args:
        clips (TrackClips): What ``TrackClipDataPreprocessor`` returned.
    """

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> ClipBatch:
        """Every clip frame of every item, item-major.

        Args:
            start_dim (int): Must be 0.
            end_dim (int): Must be 1 (only ``flatten(0, 1)``, the items and
                clip-frame axes, exists).

        Returns:
            FrameClipBatch: One row per clip frame.

        Raises:
            IndexError: Other dims.
        """
        if (start_dim, end_dim) != (0, 1):
            raise IndexError('TrackClipsVideoView only flattens its items '
                             f'and clip frames: flatten(0, 1), got '
                             f'flatten({start_dim}, {end_dim})')
        items, positions = [], []
        for i, t in enumerate(self.clips.num_clip_frames):
            items += [i] * t
            positions += list(range(t))
        batch = self.clips.gather(items, positions)
        return FrameClipBatch(batch.frames, batch.metas)

    def __getitem__(self, index) -> FrameClipBatch:
        if isinstance(index, tuple):
            return super().__getitem__(index)
        if isinstance(index, Tensor):
            index = int(index)
        if not isinstance(index, int):
            raise IndexError('TrackClipsVideoView takes an item index or '
                             f'[items, clip frames] indices, got {index!r}')
        n = len(self.clips)
        if not -n <= index < n:
            raise IndexError(f'item {index} of a batch of {n}')
        index %= n
        t = self.clips.num_clip_frames[index]
        batch = self.clips.gather([index] * t, range(t))
        return FrameClipBatch(batch.frames, batch.metas)

    def item(self, index: int) -> 'TrackClipsVideoView':
        """The view of one item alone.

        Args:
            index (int): The item.

        Returns:
            TrackClipsVideoView: A batch of one.
        """
        c = self.clips
        return TrackClipsVideoView(
            TrackClips(c.frames[index:index + 1], [c.frame_inds[index]],
                       [c.support_inds[index]], [c.metas[index]]))


def video_view(inputs, model: str) -> TrackClipsVideoView:
    """The video view of a VIS model's input (see
    :func:`~mmstpn.models.mot.frame_view.frame_view`).

    Args:
        inputs: The data preprocessor's ``inputs``.
        model (str): The model's name, for the message.

    Returns:
        TrackClipsVideoView: The view of ``inputs``.

    Raises:
        ValueError: ``inputs`` is not a :class:`~mmstpn.structures.
            TrackClips`.
    """
    return TrackClipsVideoView(frame_view(inputs, model).clips)


def check_same_size(data_samples, model: str) -> None:
    """Raise a ValueError when the frames of one item differ in size.

    A video-level model (``Mask2FormerVideo``) predicts all frames of a clip
    at one image size (its track head crops and rescales every frame with
    frame 0's ``img_shape`` / ``ori_shape``), so a clip whose frames differ
    would get wrong masks for the others.

    Args:
        data_samples (list[TrackDataSample]): The batch.
        model (str): The model's name, for the message.
    """
    for sample in data_samples:
        first = sample[0]
        for t in range(1, len(sample)):
            frame = sample[t]
            for key in ('img_shape', 'ori_shape'):
                a, b = first.metainfo.get(key), frame.metainfo.get(key)
                if a is not None and b is not None and \
                        tuple(a[:2]) != tuple(b[:2]):
                    raise ValueError(
                        f'{model}: video {frame.metainfo.get("video_id")!r} '
                        f'frame {frame.metainfo.get("frame_id")} has '
                        f'{key} {tuple(b[:2])} but frame '
                        f'{first.metainfo.get("frame_id")} of the same clip '
                        f'has {tuple(a[:2])}; a clip is predicted at one '
                        'size (resize its frames to one size in the '
                        'pipeline)')


def check_clip_length(data_samples, num_frames: int, model: str,
                      config_key: str) -> None:
    """Raise a ValueError unless every training item holds ``num_frames``
    distinct clip frames.

    mmdet's reference sampler repeats frames when a video is shorter than
    the clip (a one-frame video gives its frame T times); a video-level
    loss would then take copies of one frame for a clip.

    Args:
        data_samples (list[TrackDataSample]): The batch.
        num_frames (int): The clip length the model is built for.
        model (str): The model's name, for the message.
        config_key (str): Where ``num_frames`` is set, for the message.
    """
    for sample in data_samples:
        ids: List[int] = [sample[t].metainfo.get('frame_id', t)
                          for t in range(len(sample))]
        info = sample[0].metainfo
        video = info.get('video_id')
        if len(ids) != num_frames:
            raise ValueError(
                f'{model}: video {video!r} gives a clip of {len(ids)} '
                f'frames but {config_key}={num_frames} (the training '
                'pipeline\'s RefSupportFrameSample.num_ref_imgs + 1 must '
                'equal it)')
        if len(set(ids)) != len(ids):
            length = info.get('video_length',
                              info.get('ori_video_length'))
            why = (f'is shorter than the clip length {config_key}='
                   f'{num_frames}' if length is not None
                   and length < num_frames else
                   'has fewer frames in its reference window '
                   '(RefSupportFrameSample.frame_range) than the clip needs')
            raise ValueError(
                f'{model}: video {video!r} ({length} frames) {why}: its '
                f'clip repeats frames {ids}. Drop such videos from the '
                'training set or lower the clip length')
