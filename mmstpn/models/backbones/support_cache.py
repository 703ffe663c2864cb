from typing import Any, Dict, Hashable, Iterable, List, Tuple

from torch import Tensor


class SupportCache:
    """Test-time store of per-video prompts and support embeddings.

    Owned by one STPN backbone (its lifetime is the model's), or by a video
    detector without one (SELSA on a ResNet); a SELSA on an STPN backbone
    shares the backbone's cache, so the model holds one. ``prompts`` /
    ``history`` / ``hw_shape`` are the STPN backbone's; ``memory`` is a
    neutral per-video slot for a detector's own state (SELSA: its reference
    frames' features and proposals). Entries are
    keyed by video; :meth:`keep_only` drops every video that is not in the
    current batch, and a video's entries are reset when its frame 0 arrives,
    so nothing leaks from one video (or run) to the next. Each process owns
    its model, hence its cache.
    """

    def __init__(self) -> None:
        self.prompts: Dict[Hashable, Tensor] = {}
        # video -> list of (frame_id, (L, C) embedding), in frame order
        self.history: Dict[Hashable, List[Tuple[int, Tensor]]] = {}
        self.hw_shape: Dict[Hashable, Tuple[int, int]] = {}
        # video -> a detector's own per-video state (e.g. SELSA's references)
        self.memory: Dict[Hashable, Any] = {}

    def _stores(self) -> Tuple[dict, ...]:
        return self.prompts, self.history, self.hw_shape, self.memory

    def clear(self) -> None:
        """Forget everything."""
        for store in self._stores():
            store.clear()

    def keep_only(self, video_keys: Iterable[Hashable]) -> None:
        """Drop the entries of every video not in ``video_keys``."""
        keep = set(video_keys)
        for store in self._stores():
            for key in [k for k in store if k not in keep]:
                del store[key]

    def reset_video(self, video_key: Hashable) -> None:
        """Forget one video (its frame 0 has arrived)."""
        for store in self._stores():
            store.pop(video_key, None)

    def add_embedding(self, video_key: Hashable, frame_id: int,
                      embedding: Tensor, hw_shape: Tuple[int, int],
                      max_len: int) -> None:
        """Store the unprompted embedding of a support (grid) frame."""
        if self.hw_shape.get(video_key, hw_shape) != tuple(hw_shape):
            raise ValueError(
                f'video {video_key!r} frame {frame_id}: support grid '
                f'{tuple(hw_shape)} differs from the earlier frames\' '
                f'{self.hw_shape[video_key]} (frame sizes must not change '
                'inside a video in online mode)')
        self.hw_shape[video_key] = tuple(hw_shape)
        hist = self.history.setdefault(video_key, [])
        if hist and frame_id <= hist[-1][0]:
            if frame_id == hist[-1][0]:
                return  # already computed
            raise ValueError(
                f'video {video_key!r}: frame {frame_id} arrived after frame '
                f'{hist[-1][0]}; online mode needs frames in order (use '
                'TrackImgSampler for testing)')
        hist.append((frame_id, embedding))
        del hist[:-max_len]

    def past_embeddings(self, video_key: Hashable, frame_id: int,
                        num: int) -> List[Tensor]:
        """The ``num`` most recent stored embeddings strictly before
        ``frame_id``."""
        hist = self.history.get(video_key, [])
        return [emb for fid, emb in hist if fid < frame_id][-num:]
