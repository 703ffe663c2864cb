"""The input of an STPN tracker: T clip frames per item, each with its own
support frames.

mmdet's ``MaskTrackRCNN`` / ``QDTrack`` / ``ByteTrack`` get ``(N, T, C, H,
W)`` from ``TrackDataPreprocessor`` and slice one frame per call of
``detector.extract_feat`` (``inputs[batch_inds, key_inds]`` in training,
``inputs[:, t]`` at test). :class:`TrackClips` holds every loaded frame once
(clip frames and support frames) plus, for every clip position, where its key
frame and support frames are, and builds the :class:`ClipBatch` of one
position on demand (:meth:`clip_batch`, :meth:`gather`).
"""
from dataclasses import dataclass
from typing import List, Sequence

import torch
from torch import Tensor

from .clip_batch import ClipBatch, ClipMeta


@dataclass
class TrackClips:
    """Frames of N track samples and the clip structure of each.

    Args:
        frames (Tensor): ``(N, F, C, H, W)``: every loaded frame of an item
            once (zero frames pad items with fewer frames).
        frame_inds (list[list[int]]): ``frame_inds[i][t]``: index in
            ``frames[i]`` of clip frame ``t`` of item ``i``.
        support_inds (list[list[list[int]]]): ``support_inds[i][t]``: indices
            in ``frames[i]`` of that clip frame's support frames.
        metas (list[list[ClipMeta]]): ``metas[i][t]``: identity of that clip
            frame (video, frame id, ``num_support``).

    Raises:
        ValueError: ``frames`` not 5-D, lists whose lengths do not match
            the items / clip frames, an index outside an item's frames, or
            a ``num_support`` that differs from its support list.
    """

    frames: Tensor
    frame_inds: List[List[int]]
    support_inds: List[List[List[int]]]
    metas: List[List[ClipMeta]]

    def __post_init__(self) -> None:
        if not isinstance(self.frames, Tensor) or self.frames.dim() != 5:
            shape = tuple(self.frames.shape) if isinstance(
                self.frames, Tensor) else type(self.frames).__name__
            raise ValueError('TrackClips.frames must be an (N, F, C, H, W) '
                             f'tensor, got {shape}')
        n, f = self.frames.shape[:2]
        for name in ('frame_inds', 'support_inds', 'metas'):
            if len(getattr(self, name)) != n:
                raise ValueError(f'TrackClips.{name} has '
                                 f'{len(getattr(self, name))} items for {n} '
                                 'items of frames')
        for i in range(n):
            t = len(self.frame_inds[i])
            if len(self.support_inds[i]) != t or len(self.metas[i]) != t:
                raise ValueError(
                    f'TrackClips item {i}: {t} clip frames but '
                    f'{len(self.support_inds[i])} support lists and '
                    f'{len(self.metas[i])} ClipMeta')
            inds = list(self.frame_inds[i]) + [
                j for s in self.support_inds[i] for j in s
            ]
            if inds and not all(0 <= j < f for j in inds):
                raise ValueError(f'TrackClips item {i}: frame indices {inds} '
                                 f'outside its {f} frames')
            for meta, sup in zip(self.metas[i], self.support_inds[i]):
                if meta.num_support != len(sup):
                    raise ValueError(
                        f'video {meta.video_key!r} frame {meta.frame_id}: '
                        f'ClipMeta.num_support={meta.num_support} but '
                        f'{len(sup)} support indices')

    def __len__(self) -> int:
        return self.frames.shape[0]

    @property
    def num_clip_frames(self) -> List[int]:
        """T of each item."""
        return [len(inds) for inds in self.frame_inds]

    def to(self, *args, **kwargs) -> 'TrackClips':
        """``frames.to(...)``; the structure is kept.

        Args:
            *args, **kwargs: ``Tensor.to`` arguments (device, dtype, ...).

        Returns:
            TrackClips: The moved / cast frames, same clip structure.
        """
        return TrackClips(
            self.frames.to(*args, **kwargs), self.frame_inds,
            self.support_inds, self.metas)

    def gather(self, batch_inds: Sequence[int],
               positions: Sequence[int]) -> ClipBatch:
        """The :class:`ClipBatch` of some clip frames.

        Args:
            batch_inds (Sequence[int]): Item of each output row.
            positions (Sequence[int]): Clip position of each output row.

        Returns:
            ClipBatch: Row ``j`` is clip position ``positions[j]`` of item
            ``batch_inds[j]`` with its support frames (zero padded to the
            largest count) and its ``ClipMeta``.

        Raises:
            ValueError: The two sequences differ in length.
            IndexError: A position beyond its item's clip frames.
        """
        batch_inds = [int(i) for i in batch_inds]
        positions = [int(t) for t in positions]
        if len(batch_inds) != len(positions):
            raise ValueError(f'{len(batch_inds)} items but {len(positions)} '
                             'clip positions')
        keys, supports, metas = [], [], []
        for i, t in zip(batch_inds, positions):
            if not 0 <= t < len(self.frame_inds[i]):
                raise IndexError(
                    f'clip position {t} of item {i}, which has '
                    f'{len(self.frame_inds[i])} clip frames')
            keys.append(self.frame_inds[i][t])
            supports.append(self.support_inds[i][t])
            metas.append(self.metas[i][t])
        device = self.frames.device
        key_frames = self.frames[torch.tensor(batch_inds, device=device),
                                 torch.tensor(keys, device=device)]
        support = [self.frames[i, s] for i, s in zip(batch_inds, supports)]
        return ClipBatch.from_frames(key_frames, support, metas)

    def clip_batch(self, position: int) -> ClipBatch:
        """The :class:`ClipBatch` of one clip position of every item.

        Args:
            position (int): The clip position ``t``.

        Returns:
            ClipBatch: ``(N, 1+K, C, H, W)``, one row per item (see
            :meth:`gather`).
        """
        return self.gather(range(len(self)), [position] * len(self))
