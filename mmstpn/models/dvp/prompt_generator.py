"""The prompt generator of an STPN backbone."""
from contextlib import contextmanager
from typing import (Callable, Iterator, List, Optional, Protocol, Sequence,
                    Tuple)

import torch
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmstpn.structures import (BackboneInput, ClipBatch, VideoContext,
                               as_clip_batch)

#: tokens (M, h*w, C) and their grid (h, w)
Embedded = Tuple[Tensor, Tuple[int, int]]


class SupportEncoder(Protocol):
    """What the generator needs of its backbone: the unprompted pass."""

    training: bool

    def unprompted_pass(self) -> Callable[..., Embedded]:
        """``f(frames (M, C, H, W)[, context (M, ...)]) -> (tokens (M, L,
        C), (h, w))``: the (possibly compiled) unprompted pass."""

    def modules(self) -> Iterator[nn.Module]:
        """The encoder's modules (``nn.Module.modules``)."""
        ...


class PromptGenerator(BaseModule):
    """Support frames -> dynamic video prompts, under the video context's
    test-time policy.

    It runs the backbone's unprompted support pass (in chunks, without
    gradient unless ``support_grad``), the DVP predictor, and at test time
    the per-video caching that :attr:`VideoContext.policy` asks for:
    ``'offline'`` computes a video's prompts at its frame 0 and reuses
    them, ``'online'`` stores the support tokens of every ``stride``-th
    frame and predicts each frame's prompts from the ``num_support`` latest
    before it, ``'frames'`` uses the frames each item carries.

    Args:
        predictor (dict, optional): DVP predictor config (``in_channels``,
            ``prompt_dims``, ``num_prompts`` are filled in). Defaults to
            ``dict(type='AttentionDVPPredictor')``.
        support_channels (int): Width of the support tokens.
        prompt_dims (int): Width of the prompts.
        num_prompts (int): Prompts per frame, > 0.
        video_context (VideoContext): The model's video context.
        support_grad (bool): Back-propagate through the support pass.
        support_chunk (int): Test-time frames per no-grad support pass
            (0: all at once). The result does not depend on it.
        train_support_chunk (int): The same in training.
        support_eval (bool): In training, run the no-grad support pass with
            the backbone's modules in eval mode.

    Guarantees: an item's prompts do not depend on the other items of its
    batch; a cached mode without video identity, or a frame the policy
    cannot serve, is a ValueError naming the video, the frame and the
    policy's config key.
    """

    def __init__(self,
                 predictor: Optional[dict],
                 support_channels: int,
                 prompt_dims: int,
                 num_prompts: int,
                 video_context: VideoContext,
                 support_grad: bool = False,
                 support_chunk: int = 1,
                 train_support_chunk: int = 4,
                 support_eval: bool = False) -> None:
        super().__init__()
        for name, value in (('support_chunk', support_chunk),
                            ('train_support_chunk', train_support_chunk)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f'model.backbone.{name} must be an int >= 0 '
                                 f'(0: no limit), got {value!r}')
        if num_prompts < 1:
            raise ValueError(f'num_prompts must be >= 1, got {num_prompts}')
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
        self.video_context = video_context
        self.num_prompts = num_prompts
        self.support_grad = support_grad
        self.support_chunk = support_chunk
        self.train_support_chunk = train_support_chunk
        self.support_eval = support_eval

    # ------------------------------------------------------------ no cache
    def compute(self,
                encoder: SupportEncoder,
                clips: BackboneInput,
                num_support: Optional[Sequence[int]] = None,
                context: Optional[Tensor] = None) -> Tensor:
        """Prompts of each item from the support frames it carries.

        Args:
            encoder: The backbone (its support pass).
            clips (ClipBatch | Tensor): (N, 1+K, C, H, W) clips; the key
                frame is the support of an item without support frames.
            num_support (Sequence[int], optional): Real support frames per
                item. None: those of the ClipBatch (all K for a tensor).
            context (Tensor, optional): (N, ...) per-item extra input of the
                support pass (a tracker's template).

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
        tokens, hw = self.support_tokens(encoder, frames, context)
        return self.predict(list(tokens.split(counts)), hw)

    def predict(self, groups: List[Tensor], hw_shape) -> Tensor:
        """Run the predictor on per-item groups of support tokens.

        Args:
            groups (list[Tensor]): Per item (K_i, L, C) tokens (padded and
                masked when the K_i differ).
            hw_shape (tuple[int, int]): (h, w) of the token grid.

        Returns:
            Tensor: (N, num_prompts, prompt_dims).
        """
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

    def support_tokens(self,
                       encoder: SupportEncoder,
                       frames: Tensor,
                       context: Optional[Tensor] = None) -> Embedded:
        """The unprompted pass of support frames, chunked when it runs
        without gradient (the result does not depend on the chunk size).

        Args:
            encoder (SupportEncoder): The backbone.
            frames (Tensor): (M, C, H, W) support frames.
            context (Tensor, optional): (M, ...) per-frame extra input.

        Returns:
            tuple: (M, L, C) tokens and their grid ``(h, w)``.
        """
        run = encoder.unprompted_pass()
        num = frames.shape[0]

        def embed(start: int, stop: int) -> Embedded:
            if context is None:
                return run(frames[start:stop])
            return run(frames[start:stop], context[start:stop])

        if self.support_grad:
            return embed(0, num)
        chunk = (self.train_support_chunk if encoder.training else
                 self.support_chunk) or num
        with torch.no_grad(), self._support_mode(encoder):
            if chunk >= num:
                return embed(0, num)
            parts = [embed(i, i + chunk) for i in range(0, num, chunk)]
        return torch.cat([t for t, _ in parts]), parts[0][1]

    @contextmanager
    def _support_mode(self, encoder: SupportEncoder) -> Iterator[None]:
        """With ``support_eval`` in training: the encoder's modules in eval
        mode for the no-grad pass, restored afterwards."""
        if not (encoder.training and self.support_eval):
            yield
            return
        modules = [m for m in encoder.modules() if m.training]
        for m in modules:
            m.training = False
        try:
            yield
        finally:
            for m in modules:
                m.training = True

    # ------------------------------------------------------------ policy
    def forward(self,
                encoder: SupportEncoder,
                batch: ClipBatch,
                still: bool = False,
                context: Optional[Tensor] = None) -> Tensor:
        """Each item's prompts: from its carried support frames in
        training, under ``'frames'`` and for still images; through the
        video context's per-video state otherwise.

        Args:
            encoder: The backbone (its support pass).
            batch (ClipBatch): The items.
            still (bool): Plain still images (each its own support).
            context (Tensor, optional): Per-item extra input of the
                support pass; a cached video must keep the same one.

        Returns:
            Tensor: (N, num_prompts, prompt_dims).
        """
        ctx = self.video_context
        policy = ctx.policy
        if encoder.training or still or not policy.cached:
            return self.compute(encoder, batch, context=context)
        if batch.metas is None:
            raise ValueError(
                f'{policy.describe(ctx.config_key)} caches per video, but '
                'this test-time input carries no video identity (frames of '
                f'shape {tuple(batch.frames.shape)} without ClipMeta). Pass '
                'a ClipBatch with one ClipMeta per item '
                '(VideoDetDataPreprocessor builds it), or use '
                "mode='frames' for self-contained clips.")
        ctx.enter_batch(batch.metas)
        if policy.mode == 'offline':
            return self._offline(encoder, batch, context)
        return self._online(encoder, batch, context)

    def _offline(self, encoder: SupportEncoder, batch: ClipBatch,
                 context: Optional[Tensor]) -> Tensor:
        ctx, metas = self.video_context, batch.metas
        for m in metas:
            if m.frame_id == 0 and m.num_support == 0:
                raise ValueError(ctx.error(
                    m, 'frame 0 carries no support frames; offline mode '
                    'computes a video\'s prompts at its frame 0 (test '
                    "pipeline: SupportFrameSample(method='from_model') with "
                    'VideoContextHook)'))
        prompts: List[Optional[Tensor]] = [None] * len(metas)
        fresh = [i for i, m in enumerate(metas) if m.num_support > 0]
        if fresh:
            computed = self.compute(
                encoder, batch.select(fresh),
                context=None if context is None else context[fresh])
            for j, i in enumerate(fresh):
                prompts[i] = computed[j]
                ctx.video(metas[i].video_key).prompts = computed[j]
        for i, m in enumerate(metas):
            if prompts[i] is None:
                prompts[i] = ctx.video(m.video_key).prompts
                if prompts[i] is None:
                    raise ValueError(ctx.error(
                        m, 'no support frames and no cached prompts: the '
                        'first frame of a video must carry the support '
                        'frames and a video\'s frames must reach one '
                        'process in order (TrackImgSampler)'))
        return torch.stack(prompts)  # type: ignore[arg-type]

    def _online(self, encoder: SupportEncoder, batch: ClipBatch,
                context: Optional[Tensor]) -> Tensor:
        ctx, metas = self.video_context, batch.metas
        k, stride = ctx.policy.num_support, ctx.policy.stride
        for m in metas:
            if m.num_support:
                raise ValueError(ctx.error(
                    m, f'the input carries {m.num_support} support frames '
                    'but online mode loads none (the test pipeline '
                    "disagrees with the policy: use SupportFrameSample("
                    "method='from_model') with VideoContextHook)"))
        key = batch.key_frames
        grid = [i for i, m in enumerate(metas) if m.frame_id % stride == 0]
        own = {}
        if grid:  # every grid frame's unprompted pass runs once, here
            tokens, hw = self.support_tokens(
                encoder, key[grid], None if context is None else
                context[grid])
            for j, i in enumerate(grid):
                m = metas[i]
                own[i] = (tokens[j], hw)
                ctx.video(m.video_key).add_embedding(
                    m.video_key, m.frame_id, tokens[j], hw, k + len(metas))
        by_hw: dict = {}  # uniform predictor calls per support grid
        for i, m in enumerate(metas):
            state = ctx.video(m.video_key)
            past = state.past_embeddings(m.frame_id, k)
            if past:
                hw = state.hw_shape
            else:  # nothing before this frame: it is its own support
                if i not in own:
                    tokens, hw = self.support_tokens(
                        encoder, key[i:i + 1],
                        None if context is None else context[i:i + 1])
                    own[i] = (tokens[0], hw)
                past, hw = [own[i][0]], own[i][1]
            by_hw.setdefault(tuple(hw), []).append((i, torch.stack(past)))
        prompts: List[Optional[Tensor]] = [None] * len(metas)
        for hw, entries in by_hw.items():
            predicted = self.predict([g for _, g in entries], hw)
            for j, (i, _) in enumerate(entries):
                prompts[i] = predicted[j]
        return torch.stack(prompts)  # type: ignore[arg-type]
