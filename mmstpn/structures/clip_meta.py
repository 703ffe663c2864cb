"""Per-sample video metadata that travels with a batch of clips.

Stock mmdet detectors hand the tensor returned by the data preprocessor to
``self.backbone`` untouched (``extract_feat(batch_inputs)``), but never the
data samples. The STPN backbones need to know, at test time, which video and
frame each batch item belongs to, so that prompts / support embeddings can be
computed once per video and reused. The video-aware data preprocessor
therefore attaches a list of :class:`ClipMeta` to the very tensor object it
returns (a plain Python attribute, not global state). A tensor without it is
treated as a self-contained clip batch: prompts are computed from the frames
it holds, nothing is cached.
"""
from dataclasses import dataclass
from typing import Hashable, List, Optional, Sequence

from torch import Tensor

_ATTR = '_mmstpn_clip_meta'

SUPPORT_MODES = ('frames', 'offline', 'online')


@dataclass(frozen=True)
class ClipMeta:
    """Metadata of one batch item of a ``(N, 1+K, C, H, W)`` clip tensor.

    Args:
        video_key (Hashable): Identity of the video (e.g. its ``video_id``).
        frame_id (int): Index of the key frame inside its video.
        num_support (int): How many of the frames ``1..K`` of this item are
            real support frames (the rest is zero padding from batching).
        mode (str): How the backbone obtains this item's prompts at test
            time. ``'frames'``: from the support frames it carries (no
            cache). ``'offline'``: an item that carries support frames
            computes its video's prompts and stores them; an item without
            support frames reuses the stored prompts of its video.
            ``'online'``: causal; the backbone keeps the unprompted
            embedding of every ``online_stride``-th frame of the video and
            uses the ``online_num_support`` most recent ones strictly before
            the key frame (the key frame itself when there are none yet).
        online_num_support (int): K of the online mode.
        online_stride (int): S of the online mode.
    """

    video_key: Hashable
    frame_id: int
    num_support: int
    mode: str = 'frames'
    online_num_support: int = 0
    online_stride: int = 1

    def __post_init__(self) -> None:
        if self.mode not in SUPPORT_MODES:
            raise ValueError(f'ClipMeta.mode must be one of {SUPPORT_MODES}, '
                             f'got {self.mode!r} (video {self.video_key!r}, '
                             f'frame {self.frame_id})')
        if self.num_support < 0:
            raise ValueError('ClipMeta.num_support must be >= 0, got '
                             f'{self.num_support} (video {self.video_key!r})')
        if self.mode == 'online' and (self.online_num_support < 1
                                      or self.online_stride < 1):
            raise ValueError(
                'online mode needs online_num_support >= 1 and '
                f'online_stride >= 1, got {self.online_num_support} and '
                f'{self.online_stride} (video {self.video_key!r})')


def attach_clip_meta(inputs: Tensor, metas: Sequence[ClipMeta]) -> Tensor:
    """Attach ``metas`` (one per batch item) to ``inputs`` and return it."""
    if len(metas) != inputs.shape[0]:
        raise ValueError(f'got {len(metas)} ClipMeta for a batch of '
                         f'{inputs.shape[0]} items')
    if inputs.dim() == 5:
        max_support = inputs.shape[1] - 1
        for meta in metas:
            if meta.num_support > max_support:
                raise ValueError(
                    f'video {meta.video_key!r} frame {meta.frame_id}: '
                    f'num_support={meta.num_support} but the clip tensor '
                    f'holds only {max_support} support frames')
    setattr(inputs, _ATTR, list(metas))
    return inputs


def get_clip_meta(inputs: Tensor) -> Optional[List[ClipMeta]]:
    """Return the metadata attached by :func:`attach_clip_meta`, or None."""
    return getattr(inputs, _ATTR, None)
