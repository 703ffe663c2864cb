from contextlib import contextmanager
from functools import partial
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import torch
from mmdet.registry import MODELS
from torch import Tensor

from mmstpn.structures import (BackboneInput, ClipBatch, ClipMeta,
                               SupportPolicy, as_clip_batch)
from .support_cache import SupportCache


#: tokens (M, h*w, C) and their grid (h, w)
Embedded = Tuple[Tensor, Tuple[int, int]]


def _canonical(x: Tensor) -> Tensor:
    """``x`` with row-major strides (also on size-1 dims): frame 0's key
    frame is a view of its clip with the clip's batch stride, later frames'
    are not, and dynamo guards on strides (one recompile per kind of frame
    otherwise). No copy when the strides already are row-major."""
    stride, strides = 1, []
    for size in reversed(x.shape):
        strides.append(stride)
        stride *= size
    if x.stride() == tuple(reversed(strides)):
        return x
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    return out.copy_(x)


class STPNBackboneMixin:
    """What STPNSwin and STPNViT share: input handling, the unprompted
    support pass, the DVP predictor, the test-time support policy and its
    cache (see ``docs/design/video_context.md``).

    A subclass provides :meth:`support_embeddings` (unprompted pass that
    returns last-stage tokens) and :meth:`forward_prompted` (prompted pass of
    key frames), and calls :meth:`init_stpn` in its ``__init__``.

    Input of :meth:`forward`:

    - a :class:`~mmstpn.structures.ClipBatch` (what
      ``VideoDetDataPreprocessor`` and the task adapters build): frames
      ``(N, 1+K, C, H, W)`` with one ``ClipMeta`` (video, frame, real
      support count) per item. Training: prompts from the carried support
      frames. Test: :attr:`test_support` decides (offline / online cache or
      the carried frames).
    - a plain ``(N, C, H, W)`` tensor: still images, each its own support
      (any mode).
    - a plain ``(N, 1+K, C, H, W)`` tensor: all K frames real, no identity;
      at test only under ``test_support.mode='frames'``.
    """

    in_channels: int

    def init_stpn(self,
                  predictor: Optional[dict],
                  support_channels: int,
                  prompt_dims: int,
                  num_prompts: int,
                  support_grad: bool,
                  test_support: Union[None, dict, SupportPolicy] = None,
                  support_chunk: int = 1,
                  support_eval: bool = False,
                  train_support_chunk: int = 4,
                  compile: Union[bool, dict, None] = False) -> None:
        """Build the predictor and the test-time policy.

        ``num_prompts=0`` gives the same backbone without prompts (the
        single-frame baseline): no predictor, no support pass, support frames
        in the input are ignored. ``test_support``: see
        :class:`~mmstpn.structures.SupportPolicy` (default: the released
        offline policy, K=14 over the video). ``support_chunk``: at test
        time the (no-grad) support pass runs at most this many frames at
        once, keeping only their last-stage tokens (same result; 1, the
        default, keeps the peak memory of an offline video's frame 0, which
        carries K=14 support frames, near that of one frame; 0: no limit).
        ``train_support_chunk``: the same for the no-grad support pass of
        training (default 4). ``support_eval``: run the no-grad support pass
        of training without drop-path / dropout (the released model runs it
        in training mode; see docs/toy_vid.md). ``compile``: see
        :meth:`set_compile`."""
        for name, value in (('support_chunk', support_chunk),
                            ('train_support_chunk', train_support_chunk)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f'model.backbone.{name} must be an int >= 0 '
                                 f'(0: no limit), got {value!r}')
        self.support_chunk = support_chunk
        self.train_support_chunk = train_support_chunk
        self.set_compile(compile)
        self.support_eval = support_eval
        self.num_prompts = num_prompts
        self.prompt_dims = prompt_dims
        self.support_grad = support_grad
        self.test_support = SupportPolicy.build(test_support)
        self.support_cache = SupportCache()
        if num_prompts == 0:
            self.predictor = None
            return
        if num_prompts < 0:
            raise ValueError(f'num_prompts must be >= 0, got {num_prompts}')
        cfg = dict(type='AttentionDVPPredictor') if predictor is None \
            else dict(predictor)
        if 'num_prompts' in cfg and cfg['num_prompts'] != num_prompts:
            raise ValueError(
                f'predictor.num_prompts={cfg["num_prompts"]} conflicts with '
                f'num_prompts={num_prompts}; set only the backbone key')
        cfg.update(
            in_channels=support_channels,
            prompt_dims=prompt_dims,
            num_prompts=num_prompts)
        self.predictor = MODELS.build(cfg)

    def train(self, mode: bool = True):
        """Switch mode; entering training empties the test-time cache (no
        tensors of the last validation video survive into training)."""
        super().train(mode)
        if mode:
            self.support_cache.clear()
        return self

    # ------------------------------------------------------------ subclass API
    def support_embeddings(self,
                           frames: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Unprompted pass: (M, C, H, W) -> ((M, h*w, C_L) tokens, (h, w))."""
        raise NotImplementedError

    def forward_prompted(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        """Prompted pass of key frames (N, C, H, W) with prompts (N, P, d)."""
        raise NotImplementedError

    # ------------------------------------------------------------ compile
    COMPILE_KEYS = ('backend', 'mode', 'options', 'dynamic', 'fullgraph')

    def set_compile(self, compile: Union[bool, dict, None]) -> None:
        """Run the hot passes (:meth:`forward_prompted` and
        :meth:`support_embeddings`: patch embedding and every stage) through
        ``torch.compile`` at test time.

        Args:
            compile (bool | dict | None): False / None (default): eager.
                True: ``torch.compile`` with its defaults (inductor). A dict:
                keyword arguments of ``torch.compile`` (``backend``,
                ``mode``, ``options``, ``dynamic``, ``fullgraph``).

        The input handling, the support policy, the cache and the predictor
        stay eager Python around the compiled passes, so a fixed frame size
        compiles each pass once (a new batch or frame size recompiles).
        Training stays eager. Compiled functions are made on first use.
        """
        if compile is None or compile is False:
            options = None
        elif compile is True:
            options = {}
        elif isinstance(compile, dict):
            bad = sorted(set(compile) - set(self.COMPILE_KEYS))
            if bad:
                raise ValueError(
                    f'model.backbone.compile: unknown key(s) {bad}; allowed: '
                    f'{list(self.COMPILE_KEYS)} (torch.compile arguments)')
            options = dict(compile)
        else:
            raise ValueError('model.backbone.compile must be a bool or a dict '
                             f'of torch.compile arguments, got {compile!r}')
        self.compile_options: Optional[Dict[str, Any]] = options
        self._compiled_passes: Dict[str, Callable] = {}

    def hot_pass(self, name: str) -> Callable:
        """``self.<name>`` (``'forward_prompted'`` or
        ``'support_embeddings'``), compiled when :meth:`set_compile` asked
        for it and the model is in eval mode."""
        if self.compile_options is None or self.training or \
                name in self.__dict__:  # (an instance override: eager)
            return getattr(self, name)
        fn = self._compiled_passes.get(name)
        if fn is None:
            # the unbound function, compiled once per backbone (the module
            # is an argument, so a deepcopy gets working passes too)
            fn = torch.compile(getattr(type(self), name),
                               **self.compile_options)
            self._compiled_passes[name] = fn
        return partial(self._call_compiled, fn)

    def _call_compiled(self, fn: Callable, *args: Tensor) -> Any:
        return fn(self, *(_canonical(a) for a in args))

    # ------------------------------------------------------------ public API
    def check_inputs(self, x: Tensor) -> None:
        """Raise a ValueError for frames of the wrong rank or channels."""
        if not isinstance(x, Tensor):
            raise ValueError(f'{type(self).__name__} expects a Tensor, got '
                             f'{type(x).__name__}')
        if x.dim() not in (4, 5):
            raise ValueError(
                f'{type(self).__name__} expects (N, 1+K, C, H, W) clips or '
                f'(N, C, H, W) images, got a {x.dim()}-D tensor of shape '
                f'{tuple(x.shape)}')
        channels = x.shape[-3]
        if channels != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} was built with in_channels='
                f'{self.in_channels} but the input has {channels} channels '
                f'(shape {tuple(x.shape)})')

    @staticmethod
    def prepend_prompts(prompts: Tensor, tokens: Tensor, x: Tensor) -> Tensor:
        """``[prompts, tokens]`` along the token axis, after checking that
        (N, P, C) prompts fit (N, L, C) embedded key frames ``x``."""
        if prompts.dim() != 3 or prompts.shape[0] != tokens.shape[0] or \
                prompts.shape[-1] != tokens.shape[-1]:
            raise ValueError(
                f'prompts of shape {tuple(prompts.shape)} do not fit key '
                f'frames of shape {tuple(x.shape)} (expected '
                f'({tokens.shape[0]}, P, {tokens.shape[-1]}))')
        if prompts.dtype != tokens.dtype:
            prompts = prompts.to(tokens.dtype)
        return torch.cat([prompts, tokens], dim=1)

    def compute_prompts(self,
                        clips: BackboneInput,
                        num_support: Optional[Sequence[int]] = None,
                        context: Optional[Tensor] = None) -> Tensor:
        """Prompts of each item from the support frames it carries (no
        cache).

        Args:
            clips (ClipBatch | Tensor): (N, 1+K, C, H, W) clips; the key
                frame is the support of items without support frames.
            num_support (Sequence[int], optional): Real support frames per
                item (the rest is padding). None: those of the ClipBatch (all
                K for a tensor).
            context (Tensor, optional): (N, ...) per-item input the support
                pass also takes (a tracker's template: see
                :meth:`support_embeddings`); None: the frames alone.

        Returns:
            Tensor: (N, num_prompts, prompt_dims).
        """
        batch = as_clip_batch(clips)
        frames_all = batch.frames
        t = frames_all.shape[1]
        counts = batch.num_support if num_support is None else \
            list(num_support)
        if len(counts) != len(batch) or not all(0 <= c < t for c in counts):
            raise ValueError(f'num_support {counts} does not fit clips of '
                             f'shape {tuple(frames_all.shape)}')
        if len(set(counts)) == 1 and counts[0] > 0:
            frames = frames_all[:, 1:1 + counts[0]].flatten(0, 1)
        else:
            frames = torch.cat([
                frames_all[i, 1:1 + c] if c > 0 else frames_all[i, :1]
                for i, c in enumerate(counts)
            ])
            counts = [max(c, 1) for c in counts]
        if context is not None:  # one copy per support frame of its item
            context = context.repeat_interleave(
                torch.as_tensor(counts, device=context.device), dim=0)
        tokens, hw = self._support_tokens(frames, context)
        return self.predict_from_tokens(list(tokens.split(counts)), hw)

    def predict_from_tokens(self, groups: List[Tensor],
                            hw_shape: Tuple[int, int]) -> Tensor:
        """Run the predictor on per-item groups of (K_i, L, C) tokens."""
        kmax = max(g.shape[0] for g in groups)
        if all(g.shape[0] == kmax for g in groups):
            return self.predictor(torch.stack(groups), hw_shape)
        padded = groups[0].new_zeros(len(groups), kmax, *groups[0].shape[1:])
        mask = torch.zeros(
            len(groups), kmax, dtype=torch.bool, device=padded.device)
        for i, g in enumerate(groups):
            padded[i, :g.shape[0]] = g
            mask[i, :g.shape[0]] = True
        return self.predictor(padded, hw_shape, mask)

    def forward(self, x: BackboneInput) -> Tuple[Tensor]:
        """Prompted features of the key frames (see the class docstring)."""
        return self.forward_with_prompts(x)[0]

    def forward_with_prompts(
            self, x: BackboneInput) -> Tuple[Tuple[Tensor], Optional[Tensor]]:
        """Features and the (N, P, d) prompts that made them (None without
        prompts), e.g. for an auxiliary loss on the prompts."""
        still = isinstance(x, Tensor) and x.dim() == 4
        batch = as_clip_batch(x)
        self.check_inputs(batch.frames)
        key = batch.key_frames
        prompted = self.hot_pass('forward_prompted')
        if self.predictor is None:  # no prompts: a single-frame backbone
            return prompted(
                key, key.new_zeros(key.shape[0], 0, self.prompt_dims)), None
        prompts = self.prompts_for(batch, still)
        return prompted(key, prompts), prompts

    def prompts_for(self,
                    batch: ClipBatch,
                    still: bool = False,
                    context: Optional[Tensor] = None) -> Tensor:
        """The prompts of each item: from its carried support frames in
        training, under ``test_support.mode='frames'`` and for still images;
        from the per-video cache otherwise (see :attr:`test_support`).
        ``context``: (N, ...) per-item extra input of the support pass (see
        :meth:`compute_prompts`); a cached video must keep the same one."""
        policy = self.test_support
        if self.training or still or not policy.cached:
            return self.compute_prompts(batch, context=context)
        if batch.metas is None:
            raise ValueError(
                f'{type(self).__name__}: {policy.describe()} caches per '
                'video, but this test-time input carries no video identity '
                f'(frames of shape {tuple(batch.frames.shape)} without '
                'ClipMeta). Pass a ClipBatch with one ClipMeta per item '
                '(VideoDetDataPreprocessor builds it), or set '
                "model.backbone.test_support.mode='frames' for "
                'self-contained clips.')
        self.support_cache.keep_only(m.video_key for m in batch.metas)
        if policy.mode == 'offline':
            return self._offline_prompts(batch, context)
        return self._online_prompts(batch, context)

    # ------------------------------------------------------------ internals
    def _support_tokens(self,
                        frames: Tensor,
                        context: Optional[Tensor] = None) -> Embedded:
        """The unprompted pass of (M, C, H, W) support frames (with their
        (M, ...) ``context`` rows when given), in chunks at test time."""
        hot = self.hot_pass('support_embeddings')
        num = frames.shape[0]

        def embed(start: int, stop: int) -> Embedded:
            if context is None:
                return hot(frames[start:stop])
            return hot(frames[start:stop], context[start:stop])

        if self.support_grad:
            return embed(0, num)
        chunk = (self.train_support_chunk if self.training else
                 self.support_chunk) or num
        with torch.no_grad(), self._support_pass_mode():
            if chunk >= num:
                return embed(0, num)
            # one chunk at a time; only the last-stage tokens are kept
            parts = [embed(i, i + chunk) for i in range(0, num, chunk)]
        return torch.cat([t for t, _ in parts]), parts[0][1]

    @contextmanager
    def _support_pass_mode(self) -> Iterator[None]:
        """With ``support_eval`` during training, the no-grad support pass
        runs with its modules in eval mode (no drop-path / dropout noise),
        restored afterwards; otherwise nothing changes."""
        if not (self.training and self.support_eval):
            yield
            return
        modules = [m for m in self.modules() if m.training]
        for m in modules:
            m.training = False
        try:
            yield
        finally:
            for m in modules:
                m.training = True

    def _offline_prompts(self,
                         batch: ClipBatch,
                         context: Optional[Tensor] = None) -> Tensor:
        cache, metas = self.support_cache, batch.metas
        prompts: List[Optional[Tensor]] = [None] * len(metas)
        fresh = [i for i, m in enumerate(metas) if m.num_support > 0]
        for i, m in enumerate(metas):
            if m.frame_id == 0 and m.num_support == 0:
                raise ValueError(self._policy_error(
                    m, 'frame 0 carries no support frames; offline mode '
                    'computes a video\'s prompts at its frame 0 (test '
                    "pipeline: SupportFrameSample(method='from_model') with "
                    'VideoContextHook)'))
        if fresh:
            computed = self.compute_prompts(
                batch.select(fresh),
                context=None if context is None else context[fresh])
            for j, i in enumerate(fresh):
                prompts[i] = computed[j]
                cache.reset_video(metas[i].video_key)
                cache.prompts[metas[i].video_key] = computed[j]
        for i, m in enumerate(metas):
            if prompts[i] is None:
                if m.video_key not in cache.prompts:
                    raise ValueError(self._policy_error(
                        m, 'no support frames and no cached prompts: the '
                        'first frame of a video must carry the support '
                        'frames and a video\'s frames must reach one '
                        'process in order (TrackImgSampler)'))
                prompts[i] = cache.prompts[m.video_key]
        return torch.stack(prompts)  # type: ignore[arg-type]

    def _online_prompts(self,
                        batch: ClipBatch,
                        context: Optional[Tensor] = None) -> Tensor:
        cache, metas = self.support_cache, batch.metas
        k, stride = self.test_support.num_support, self.test_support.stride
        for m in metas:
            if m.num_support:
                raise ValueError(self._policy_error(
                    m, f'the input carries {m.num_support} support frames '
                    'but online mode loads none (the test pipeline '
                    "disagrees with the policy: use SupportFrameSample("
                    "method='from_model') with VideoContextHook)"))
            if m.frame_id == 0:
                cache.reset_video(m.video_key)
        key = batch.key_frames
        grid = [i for i, m in enumerate(metas) if m.frame_id % stride == 0]
        own = {}
        if grid:  # every grid frame's unprompted pass runs once, here
            tokens, hw = self._support_tokens(
                key[grid], None if context is None else context[grid])
            for j, i in enumerate(grid):
                m = metas[i]
                own[i] = (tokens[j], hw)
                cache.add_embedding(m.video_key, m.frame_id, tokens[j], hw,
                                    k + len(metas))
        # group items by support grid so that each predictor call is uniform
        by_hw: dict = {}
        for i, m in enumerate(metas):
            past = cache.past_embeddings(m.video_key, m.frame_id, k)
            if past:
                hw = cache.hw_shape[m.video_key]
            else:  # nothing before this frame: it is its own support
                if i not in own:
                    tokens, hw = self._support_tokens(
                        key[i:i + 1],
                        None if context is None else context[i:i + 1])
                    own[i] = (tokens[0], hw)
                past, hw = [own[i][0]], own[i][1]
            by_hw.setdefault(tuple(hw), []).append((i, torch.stack(past)))
        prompts: List[Optional[Tensor]] = [None] * len(metas)
        for hw, entries in by_hw.items():
            predicted = self.predict_from_tokens([g for _, g in entries], hw)
            for j, (i, _) in enumerate(entries):
                prompts[i] = predicted[j]
        return torch.stack(prompts)  # type: ignore[arg-type]

    def _policy_error(self, meta: ClipMeta, what: str) -> str:
        return (f'video {meta.video_key!r} frame {meta.frame_id}: {what} '
                f'[{self.test_support.describe()}]')
