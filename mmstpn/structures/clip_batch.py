"""The input of an STPN backbone: frames plus the identity of each item.

Stock mmdet detectors hand whatever the data preprocessor returned as
``inputs`` to ``self.backbone(...)`` untouched, so a :class:`ClipBatch` carries
the video identity from ``VideoDetDataPreprocessor`` (or a task adapter) to
the backbone in the call itself. It is not a tensor: code that wants the
pixels unwraps it explicitly, and nothing (``.to()``, a cast, a slice) can
drop the identity on the way.
"""
from dataclasses import dataclass
from typing import Hashable, List, Optional, Sequence, Union

from torch import Tensor


@dataclass(frozen=True)
class ClipMeta:
    """Identity of one batch item of a :class:`ClipBatch`.

    Args:
        video_key (Hashable): The item's video (e.g. its ``video_id``).
        frame_id (int): Index of the key frame inside its video.
        num_support (int): How many of the frames ``1..K`` of this item are
            real support frames (the rest is zero padding from batching).
    """

    video_key: Hashable
    frame_id: int
    num_support: int

    def __post_init__(self) -> None:
        if self.num_support < 0:
            raise ValueError('ClipMeta.num_support must be >= 0, got '
                             f'{self.num_support} (video {self.video_key!r}, '
                             f'frame {self.frame_id})')


@dataclass
class ClipBatch:
    """Key frames with their support frames and, optionally, identities.

    Args:
        frames (Tensor): ``(N, 1+K, C, H, W)``; frame 0 of each item is the
            key frame, frames ``1..K`` its support frames (zero padded past
            ``metas[i].num_support``).
        metas (list[ClipMeta], optional): One per item. None: a
            self-contained batch (all K support frames real, no identity:
            only usable where no per-video cache is needed).

    Raises:
        ValueError: ``frames`` is not a 5-D tensor with at least the key
            frame, ``metas`` has another length than the batch, or a
            ``num_support`` exceeds the K the tensor holds.
    """

    frames: Tensor
    metas: Optional[List[ClipMeta]] = None

    def __post_init__(self) -> None:
        if not isinstance(self.frames, Tensor) or self.frames.dim() != 5:
            shape = tuple(self.frames.shape) if isinstance(
                self.frames, Tensor) else type(self.frames).__name__
            raise ValueError('ClipBatch.frames must be an (N, 1+K, C, H, W) '
                             f'tensor, got {shape}')
        if self.frames.shape[1] < 1:
            raise ValueError('a clip needs at least its key frame, got '
                             f'shape {tuple(self.frames.shape)}')
        if self.metas is None:
            return
        self.metas = list(self.metas)
        if len(self.metas) != self.frames.shape[0]:
            raise ValueError(f'ClipBatch got {len(self.metas)} ClipMeta for '
                             f'{self.frames.shape[0]} items')
        max_support = self.frames.shape[1] - 1
        for meta in self.metas:
            if meta.num_support > max_support:
                raise ValueError(
                    f'video {meta.video_key!r} frame {meta.frame_id}: '
                    f'num_support={meta.num_support} but the clip tensor '
                    f'holds only {max_support} support frames')

    @property
    def key_frames(self) -> Tensor:
        """``(N, C, H, W)`` key frames."""
        return self.frames[:, 0]

    @property
    def num_support(self) -> List[int]:
        """Real support frames per item."""
        if self.metas is None:
            return [self.frames.shape[1] - 1] * self.frames.shape[0]
        return [m.num_support for m in self.metas]

    def __len__(self) -> int:
        return self.frames.shape[0]

    def to(self, *args, **kwargs) -> 'ClipBatch':
        """``frames.to(...)``; the identities are kept.

        Args:
            *args, **kwargs: ``Tensor.to`` arguments (device, dtype, ...).

        Returns:
            ClipBatch: The moved / cast frames with the same ``metas``.
        """
        return ClipBatch(self.frames.to(*args, **kwargs), self.metas)

    def select(self, indices: Sequence[int]) -> 'ClipBatch':
        """The items ``indices`` (frames and identities).

        Args:
            indices (Sequence[int]): Batch positions, in the output order.

        Returns:
            ClipBatch: Those items; a run of consecutive items is a view of
            the frames (no copy: an offline frame 0 carries K support
            frames).
        """
        indices = list(indices)
        metas = None if self.metas is None else [
            self.metas[i] for i in indices
        ]
        if indices and indices == list(range(indices[0], indices[-1] + 1)):
            frames = self.frames[indices[0]:indices[-1] + 1]
        else:
            frames = self.frames[indices]
        return ClipBatch(frames, metas)

    @staticmethod
    def from_frames(key_frames: Tensor,
                    support: Optional[Sequence[Tensor]] = None,
                    metas: Optional[Sequence[ClipMeta]] = None
                    ) -> 'ClipBatch':
        """Build a batch from key frames and per-item support frames.

        Args:
            key_frames (Tensor): ``(N, C, H, W)`` key frames.
            support (Sequence[Tensor], optional): Per item ``(K_i, C, H,
                W)`` support frames, zero padded to the largest K_i. None:
                no support frames (K = 0).
            metas (Sequence[ClipMeta], optional): One per item, with
                ``num_support`` = K_i; required when the K_i differ, so the
                padding stays known.

        Returns:
            ClipBatch: ``(N, 1 + max K_i, C, H, W)`` frames, key first.

        Raises:
            ValueError: Different K_i without ``metas``.
        """
        if support is None:
            return ClipBatch(key_frames.unsqueeze(1), metas)
        kmax = max([s.shape[0] for s in support] + [0])
        frames = key_frames.new_zeros(key_frames.shape[0], 1 + kmax,
                                      *key_frames.shape[1:])
        frames[:, 0] = key_frames
        for i, s in enumerate(support):
            frames[i, 1:1 + s.shape[0]] = s
        if metas is None and len({s.shape[0] for s in support}) > 1:
            raise ValueError('ClipBatch.from_frames: items with different '
                             'numbers of support frames need metas')
        return ClipBatch(frames, metas)


BackboneInput = Union[Tensor, ClipBatch]


def as_clip_batch(x: BackboneInput) -> ClipBatch:
    """A :class:`ClipBatch` view of a backbone input.

    Args:
        x (Tensor | ClipBatch): A ``ClipBatch`` (returned as it is), a
            ``(N, C, H, W)`` tensor (clips without support frames) or a
            ``(N, 1+K, C, H, W)`` tensor (a self-contained clip batch).

    Returns:
        ClipBatch: The batch (no copy of the frames).

    Raises:
        ValueError: Neither a ``ClipBatch`` nor a 4-D / 5-D tensor.
    """
    if isinstance(x, ClipBatch):
        return x
    if not isinstance(x, Tensor):
        raise ValueError('an STPN backbone expects a ClipBatch or a Tensor, '
                         f'got {type(x).__name__}')
    if x.dim() == 4:
        return ClipBatch(x.unsqueeze(1))
    if x.dim() == 5:
        return ClipBatch(x)
    raise ValueError(
        'an STPN backbone expects (N, 1+K, C, H, W) clips or (N, C, H, W) '
        f'images, got a {x.dim()}-D tensor of shape {tuple(x.shape)}')

