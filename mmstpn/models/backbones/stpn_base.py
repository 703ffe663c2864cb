from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS
from torch import Tensor

from mmstpn.structures import ClipMeta, get_clip_meta
from .support_cache import SupportCache


class STPNBackboneMixin:
    """What STPNSwin and STPNViT share: input handling, the unprompted
    support pass, the DVP predictor and the test-time support cache.

    A subclass provides :meth:`support_embeddings` (unprompted pass that
    returns last-stage tokens) and :meth:`forward_prompted` (prompted pass of
    key frames), and calls :meth:`init_stpn` in its ``__init__``.

    Input of :meth:`forward`: ``(N, 1+K, C, H, W)``, frame 0 the key frame and
    frames ``1..K`` its support frames, or ``(N, C, H, W)`` (each frame is its
    own support, as for still images). At test time a tensor carrying
    :class:`~mmstpn.structures.ClipMeta` (attached by
    ``VideoDetDataPreprocessor``) switches on per-video caching.
    """

    in_channels: int

    def init_stpn(self,
                  predictor: Optional[dict],
                  support_channels: int,
                  prompt_dims: int,
                  num_prompts: int,
                  support_grad: bool,
                  support_chunk: int = 4) -> None:
        """Build the predictor. ``num_prompts=0`` gives the same backbone
        without prompts (the single-frame baseline): no predictor, no
        support pass, support frames in the input are ignored.
        ``support_chunk``: the no-grad support pass runs at most this many
        frames at once (same result, bounded peak memory when an offline
        video's first frame carries K=14 support frames; 0: no limit)."""
        self.support_chunk = support_chunk
        self.num_prompts = num_prompts
        self.prompt_dims = prompt_dims
        self.support_grad = support_grad
        self.support_cache = SupportCache()
        # set by a detector with a loss on the prompts (see
        # pop_train_prompts); otherwise nothing is kept after a forward
        self.keep_train_prompts = False
        self._train_prompts: Optional[Tensor] = None
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

    # ------------------------------------------------------------ subclass API
    def support_embeddings(self,
                           frames: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Unprompted pass: (M, C, H, W) -> ((M, h*w, C_L) tokens, (h, w))."""
        raise NotImplementedError

    def forward_prompted(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        """Prompted pass of key frames (N, C, H, W) with prompts (N, P, d)."""
        raise NotImplementedError

    # ------------------------------------------------------------ public API
    def check_inputs(self, x: Tensor) -> None:
        """Raise a ValueError for inputs of the wrong rank or channels."""
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
        if x.dim() == 5 and x.shape[1] < 1:
            raise ValueError('a clip needs at least its key frame, got '
                             f'shape {tuple(x.shape)}')

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
        return torch.cat([prompts.to(tokens.dtype), tokens], dim=1)

    def compute_prompts(self,
                        clips: Tensor,
                        num_support: Optional[Sequence[int]] = None) -> Tensor:
        """Prompts for each item of a clip batch.

        Args:
            clips (Tensor): (N, 1+K, C, H, W); frame 0 is used as the support
                of items without support frames.
            num_support (Sequence[int], optional): Real support frames per
                item (the rest is padding). None: all K.

        Returns:
            Tensor: (N, num_prompts, prompt_dims).
        """
        n, t = clips.shape[:2]
        counts = [t - 1] * n if num_support is None else list(num_support)
        if len(set(counts)) == 1 and counts[0] > 0:
            frames = clips[:, 1:1 + counts[0]].flatten(0, 1)
        else:
            frames = torch.cat([
                clips[i, 1:1 + c] if c > 0 else clips[i, :1]
                for i, c in enumerate(counts)
            ])
            counts = [max(c, 1) for c in counts]
        tokens, hw = self._support_tokens(frames)
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

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        """Prompted features of the key frames (see the class docstring)."""
        self.check_inputs(x)
        metas = None if self.training else get_clip_meta(x)
        if x.dim() == 4:
            x = x.unsqueeze(1)
        if self.predictor is None:  # no prompts: a single-frame backbone
            return self.forward_prompted(x[:, 0], x.new_zeros(
                x.shape[0], 0, self.prompt_dims))
        if metas is None:
            prompts = self.compute_prompts(x)
        else:
            prompts = self._cached_prompts(x, metas)
        if self.training and self.keep_train_prompts:
            self._train_prompts = prompts
        return self.forward_prompted(x[:, 0], prompts)

    def pop_train_prompts(self) -> Tensor:
        """The (N, P, d) prompts of the last training forward, handed over
        once (for an auxiliary loss on them, see
        :class:`~mmstpn.models.PromptSupervisedFasterRCNN`); the reference is
        dropped so nothing outlives the training step."""
        prompts, self._train_prompts = self._train_prompts, None
        if prompts is None:
            raise RuntimeError(
                f'{type(self).__name__} holds no training prompts: call '
                'pop_train_prompts() once after a forward in training mode '
                'with num_prompts > 0')
        return prompts

    # ------------------------------------------------------------ internals
    def _support_tokens(self,
                        frames: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        if self.support_grad:
            return self.support_embeddings(frames)
        chunk = self.support_chunk or frames.shape[0]
        with torch.no_grad():
            parts = [
                self.support_embeddings(frames[i:i + chunk])
                for i in range(0, frames.shape[0], chunk)
            ]
        return torch.cat([t for t, _ in parts]), parts[0][1]

    def _cached_prompts(self, x: Tensor, metas: List[ClipMeta]) -> Tensor:
        cache = self.support_cache
        cache.keep_only(m.video_key for m in metas)
        prompts: List[Optional[Tensor]] = [None] * len(metas)

        fresh = [
            i for i, m in enumerate(metas) if m.mode == 'frames' or (
                m.mode == 'offline' and m.num_support > 0)
        ]
        if fresh:
            computed = self.compute_prompts(
                x[fresh], [metas[i].num_support for i in fresh])
            for j, i in enumerate(fresh):
                prompts[i] = computed[j]
                if metas[i].mode == 'offline':
                    cache.reset_video(metas[i].video_key)
                    cache.prompts[metas[i].video_key] = computed[j]

        for i, m in enumerate(metas):
            if m.mode == 'offline' and prompts[i] is None:
                if m.video_key not in cache.prompts:
                    raise ValueError(
                        f'video {m.video_key!r} frame {m.frame_id}: no '
                        'support frames and no cached prompts. In offline '
                        'mode the first frame of a video must carry the '
                        'support frames and a video\'s frames must reach one '
                        'process in order (TrackImgSampler).')
                prompts[i] = cache.prompts[m.video_key]

        online = [i for i, m in enumerate(metas) if m.mode == 'online']
        if online:
            self._online_prompts(x, metas, online, prompts)
        return torch.stack(prompts)  # type: ignore[arg-type]

    def _online_prompts(self, x: Tensor, metas: List[ClipMeta],
                        items: List[int],
                        prompts: List[Optional[Tensor]]) -> None:
        cache = self.support_cache
        for i in items:
            if metas[i].frame_id == 0:
                cache.reset_video(metas[i].video_key)
        grid = [
            i for i in items if metas[i].frame_id % metas[i].online_stride == 0
        ]
        own = {}
        if grid:  # every grid frame's unprompted pass runs once, here
            tokens, hw = self._support_tokens(x[grid, 0])
            for j, i in enumerate(grid):
                m = metas[i]
                own[i] = (tokens[j], hw)
                cache.add_embedding(m.video_key, m.frame_id, tokens[j], hw,
                                    m.online_num_support + len(metas))
        # group items by support grid so that each predictor call is uniform
        by_hw: dict = {}
        for i in items:
            m = metas[i]
            past = cache.past_embeddings(m.video_key, m.frame_id,
                                         m.online_num_support)
            if past:
                hw = cache.hw_shape[m.video_key]
            else:  # nothing before this frame: it is its own support
                if i not in own:
                    tokens, hw = self._support_tokens(x[i:i + 1, 0])
                    own[i] = (tokens[0], hw)
                past, hw = [own[i][0]], own[i][1]
            by_hw.setdefault(tuple(hw), []).append((i, torch.stack(past)))
        for hw, entries in by_hw.items():
            predicted = self.predict_from_tokens([g for _, g in entries], hw)
            for j, (i, _) in enumerate(entries):
                prompts[i] = predicted[j]
