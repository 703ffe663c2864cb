"""The one test-time video context of a model: policy + per-video state."""
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, Hashable, List, Optional, Sequence,
                    Tuple, Union)

from mmengine.model import is_model_wrapper
from torch import Tensor, nn

from .clip_batch import ClipMeta
from .support_policy import SupportPolicy

PolicyLike = Union[None, str, dict, SupportPolicy]


@dataclass
class VideoState:
    """What a model keeps for ONE video at test time.

    Args:
        prompts (Tensor, optional): Offline mode: the video's ``(P, d)``
            prompts (computed from the support frames of its frame 0).
        embeddings (list): Online mode: ``(frame_id, (L, C) tokens)`` of the
            stored support frames, in frame order.
        hw_shape (tuple, optional): The token grid of ``embeddings``.
        slots (dict): Consumers' own per-video state, one key per consumer
            (e.g. SELSA's reference memory, a tracker's sequence state).
    """

    prompts: Optional[Tensor] = None
    embeddings: List[Tuple[int, Tensor]] = field(default_factory=list)
    hw_shape: Optional[Tuple[int, int]] = None
    slots: Dict[str, Any] = field(default_factory=dict)

    def add_embedding(self, video_key: Hashable, frame_id: int,
                      embedding: Tensor, hw_shape: Tuple[int, int],
                      max_len: int) -> None:
        """Store the unprompted tokens of a support frame, keeping the
        ``max_len`` latest (storing the last stored frame again is a no-op).

        Args:
            video_key (Hashable): The video (named in errors).
            frame_id (int): The support frame.
            embedding (Tensor): Its ``(L, C)`` unprompted tokens.
            hw_shape (tuple[int, int]): Their token grid.
            max_len (int): How many frames are kept.

        Raises:
            ValueError: The grid differs from the video's earlier frames, or
                ``frame_id`` is older than the last stored frame.
        """
        hw_shape = tuple(hw_shape)
        if self.hw_shape is not None and self.hw_shape != hw_shape:
            raise ValueError(
                f'video {video_key!r} frame {frame_id}: support grid '
                f'{hw_shape} differs from the earlier frames\' '
                f'{self.hw_shape} (frame sizes must not change inside a '
                'video in online mode)')
        self.hw_shape = hw_shape
        hist = self.embeddings
        if hist and frame_id <= hist[-1][0]:
            if frame_id == hist[-1][0]:
                return  # already stored
            raise ValueError(
                f'video {video_key!r}: frame {frame_id} arrived after frame '
                f'{hist[-1][0]}; online mode needs frames in order (use '
                'TrackImgSampler for testing)')
        hist.append((frame_id, embedding))
        del hist[:-max_len]

    def past_embeddings(self, frame_id: int, num: int) -> List[Tensor]:
        """The latest stored embeddings before a frame.

        Args:
            frame_id (int): The frame; only frames before it count.
            num (int): How many at most.

        Returns:
            list[Tensor]: Up to ``num`` ``(L, C)`` embeddings, oldest first.
        """
        return [e for fid, e in self.embeddings if fid < frame_id][-num:]


class VideoContext(nn.Module):
    """The test-time video context of a model: its support policy and the
    state it keeps per video. Each model holds exactly one.

    An STPN backbone creates it from its ``test_support`` config key; a
    video detector (SELSA, Temporal RoI Align) on an STPN backbone uses the
    backbone's, on another backbone creates its own from
    ``model.test_support``; trackers reach it through their detector. Every
    consumer reads :attr:`policy` and keeps its per-video tensors in
    :meth:`video`, so switching the policy (:meth:`set_policy`) or emptying
    the state (:meth:`clear`) is one call for the whole model.

    It is an ``nn.Module`` without parameters or buffers only so that it is
    a submodule of its owners (found by :func:`get_video_context`, and
    emptied by the model's ``train()``); it adds nothing to a state dict.

    Reset rule:

    - :meth:`enter_batch` (called by every consumer before it reads or
      writes state for a batch of frames) drops every video not in the
      batch and resets the videos whose frame 0 is in it; consecutive calls
      with the same frames are one call (the backbone and the detector
      around it both call it in one forward).
    - :meth:`clear` empties everything and resets every registered
      consumer state (:meth:`register_reset`): on ``train()``, on
      :meth:`set_policy`, and after each val / test run
      (``VideoContextHook``).

    Args:
        policy (dict | str | SupportPolicy, optional): The policy; a str is
            the mode with the other keys' defaults. None: the released
            offline policy.
        config_key (str): Where the policy is declared, for messages.

    Raises:
        ValueError: An invalid policy (naming ``config_key``).

    See docs/design/video_context.md.
    """

    def __init__(self,
                 policy: PolicyLike = None,
                 config_key: str = 'model.backbone.test_support') -> None:
        super().__init__()
        self.config_key = config_key
        self._policy = self._build(policy)
        self._videos: Dict[Hashable, VideoState] = {}
        self._resets: List[Callable[[], Any]] = []
        self._last_batch: Optional[Tuple[Tuple[Hashable, int], ...]] = None

    def _build(self, policy: PolicyLike) -> SupportPolicy:
        if isinstance(policy, str):
            policy = dict(mode=policy)
        try:
            return SupportPolicy.build(policy)
        except ValueError as err:
            raise ValueError(
                str(err).replace('model.backbone.test_support',
                                 self.config_key)) from None

    # ------------------------------------------------------------ policy
    @property
    def policy(self) -> SupportPolicy:
        """The test-time support policy every consumer follows."""
        return self._policy

    def set_policy(self, policy: PolicyLike) -> SupportPolicy:
        """Switch the policy of the whole model; a different policy
        empties the state (the same one changes nothing).

        Args:
            policy (dict | str | SupportPolicy): A full policy, a dict of
                the keys to change (the others keep their current value),
                or a mode name.

        Returns:
            SupportPolicy: The new policy.
        """
        if isinstance(policy, str):
            policy = dict(mode=policy)
        if isinstance(policy, dict):
            merged = dict(mode=self._policy.mode,
                          num_support=self._policy.num_support,
                          stride=self._policy.stride)
            merged.update(policy)
            policy = merged
        new = self._build(policy)
        if new != self._policy:
            self._policy = new
            self.clear()
        return self._policy

    def describe(self) -> str:
        """The policy as its config key would set it.

        Returns:
            str: e.g. ``model.backbone.test_support=dict(mode='offline',
            num_support=14, stride=1)``.
        """
        return self._policy.describe(self.config_key)

    def error(self, meta: ClipMeta, what: str) -> str:
        """An error message naming the video, the frame and the policy.

        Args:
            meta (ClipMeta): The frame.
            what (str): What went wrong.

        Returns:
            str: The message.
        """
        return (f'video {meta.video_key!r} frame {meta.frame_id}: {what} '
                f'[{self.describe()}]')

    # ------------------------------------------------------------ state
    def enter_batch(self, metas: Sequence[ClipMeta]) -> None:
        """Apply the reset rule for a batch of frames (see the class
        docstring).

        Args:
            metas (Sequence[ClipMeta]): The frames of the batch.
        """
        items = tuple((m.video_key, m.frame_id) for m in metas)
        if items == self._last_batch:
            return
        self._last_batch = items
        keep = {key for key, _ in items}
        for key in [k for k in self._videos if k not in keep]:
            del self._videos[key]
        for key, frame_id in items:
            if frame_id == 0:
                self._videos.pop(key, None)

    def video(self, video_key: Hashable) -> VideoState:
        """The state of one video.

        Args:
            video_key (Hashable): The video.

        Returns:
            VideoState: Its state (created empty on first use).
        """
        state = self._videos.get(video_key)
        if state is None:
            state = self._videos[video_key] = VideoState()
        return state

    def reset_video(self, video_key: Hashable) -> VideoState:
        """Forget one video.

        Args:
            video_key (Hashable): The video.

        Returns:
            VideoState: Its new, empty state.
        """
        self._videos.pop(video_key, None)
        self._last_batch = None
        return self.video(video_key)

    def videos(self) -> List[Hashable]:
        """The videos with state.

        Returns:
            list[Hashable]: Their keys, in the order they arrived.
        """
        return list(self._videos)

    @property
    def prompts(self) -> Dict[Hashable, Tensor]:
        """``{video: (P, d) prompts}`` of the videos with offline prompts
        (a read-only view)."""
        return {k: s.prompts for k, s in self._videos.items()
                if s.prompts is not None}

    @property
    def embeddings(self) -> Dict[Hashable, List[Tuple[int, Tensor]]]:
        """``{video: [(frame_id, tokens), ...]}`` of the videos with stored
        online support embeddings (a read-only view)."""
        return {k: list(s.embeddings) for k, s in self._videos.items()
                if s.embeddings}

    def slot(self, name: str) -> Dict[Hashable, Any]:
        """One consumer's per-video state.

        Args:
            name (str): The consumer's slot (e.g. ``'selsa'``).

        Returns:
            dict: ``{video: state}`` of the videos that have the slot (a
            read-only view).
        """
        return {k: s.slots[name] for k, s in self._videos.items()
                if name in s.slots}

    def register_reset(self, reset: Callable[[], Any]) -> None:
        """Have :meth:`clear` also call ``reset``.

        Args:
            reset (Callable[[], Any]): Resets state a consumer keeps outside
                the context (e.g. mmdet's trackers' ``reset``).
        """
        self._resets.append(reset)

    def clear(self) -> None:
        """Forget every video and reset every registered consumer state."""
        self._videos.clear()
        self._last_batch = None
        for reset in self._resets:
            reset()

    def train(self, mode: bool = True) -> 'VideoContext':
        """Switch mode; entering training empties the state.

        Args:
            mode (bool): Training mode.

        Returns:
            VideoContext: ``self``.
        """
        if mode:
            self.clear()
        return super().train(mode)

    def extra_repr(self) -> str:
        """The policy, in the module's repr."""
        return self.describe()


def _contexts(model: nn.Module) -> List[VideoContext]:
    if is_model_wrapper(model):
        model = model.module
    found = {id(m): m for m in model.modules() if isinstance(m, VideoContext)}
    return list(found.values())


def get_video_context(model: nn.Module) -> VideoContext:
    """The one :class:`VideoContext` of a model.

    Args:
        model (nn.Module): The model (wrappers such as DDP are unwrapped).

    Returns:
        VideoContext: Its video context.

    Raises:
        ValueError: The model has none (no STPN backbone, no video
            detector) or several different ones.
    """
    found = _contexts(model)
    if not found:
        raise ValueError(
            f'{type(model).__name__} has no video context: it holds no STPN '
            'backbone and no video detector (SELSA, Temporal RoI Align), so '
            'it has no test-time support policy to follow or switch')
    if len(found) > 1:
        raise ValueError(
            f'{type(model).__name__} holds {len(found)} video contexts '
            f'({", ".join(c.describe() for c in found)}); a model has one: '
            'build its video detector on the STPN backbone\'s')
    return found[0]


def find_video_context(model: nn.Module) -> Optional[VideoContext]:
    """The video context of a model, if any.

    Args:
        model (nn.Module): The model (wrappers such as DDP are unwrapped).

    Returns:
        VideoContext | None: :func:`get_video_context`, or None for a model
        without one.

    Raises:
        ValueError: The model holds several different ones.
    """
    return get_video_context(model) if _contexts(model) else None


def set_test_policy(model: nn.Module, policy: PolicyLike) -> SupportPolicy:
    """Switch the test-time policy of a built model, for every consumer,
    in one call.

    Args:
        model (nn.Module): The model.
        policy (dict | str | SupportPolicy): See
            :meth:`VideoContext.set_policy`.

    Returns:
        SupportPolicy: The new policy.

    Raises:
        ValueError: The model has no (or several) video contexts, or the
            policy is invalid.

    See docs/design/video_context.md.
    """
    return get_video_context(model).set_policy(policy)
