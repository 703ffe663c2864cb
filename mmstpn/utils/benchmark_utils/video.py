"""Synthetic video streams fed frame by frame through a detector's real
``predict`` path, in the offline / online test-time modes of an STPN
backbone.

Everything that depends on how the backbone receives its video context
(its ``test_support`` policy, the ClipBatch of a frame, its support cache)
is in the four functions of the first section: :func:`frame_inputs`,
:func:`prefill_online_cache`, :func:`reset_video_cache` and
:func:`cached_embeddings`. SELSA-type detectors (``SELSA``: SELSA, Temporal
RoI Align, STPN + SELSA) get their reference frames the same way: offline,
frame 0 carries the K frames spread over the video (their features,
proposals and head states are computed there and kept in the model's
memory), later frames carry none; online, frames carry nothing and the
model keeps its past key frames.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmstpn.models.vid import SELSA
from mmstpn.structures import (ClipBatch, ClipMeta, SupportPolicy,
                               find_video_context, get_video_context)

MODES = ('offline', 'online')


# ------------------------------------------- the backbone's video context
def frame_inputs(model: nn.Module, frames: Tensor, mode: str,
                 video_key: str, t: int, num_support: int,
                 stride: int) -> ClipBatch:
    """The input of frame ``t`` of a stream for a prompted backbone, with
    the backbone's ``test_support`` set to the stream's policy.

    Offline (released test): frame 0 carries the K support frames spread
    over the whole video; later frames carry none and reuse the video's
    cached prompts. Online: every frame carries only its key frame; the
    backbone caches the unprompted pass of every S-th frame and takes the K
    latest cached ones as the support.

    Args:
        model (nn.Module): The detector (its ``backbone`` gets the policy).
        frames (Tensor): (1, 1+k, C, H, W) key (and support) frames.
        mode (str): 'offline' or 'online'.
        video_key (str): Identity of the stream's video.
        t (int): Frame index in the video.
        num_support (int): K.
        stride (int): S (online).

    Returns:
        ClipBatch: ``frames`` with the frame's ClipMeta.
    """
    context = find_video_context(model)
    if context is not None:  # one switch for every consumer
        context.set_policy(SupportPolicy(mode, num_support, stride))
    return ClipBatch(frames, [ClipMeta(video_key, t, frames.shape[1] - 1)])


def prefill_online_cache(model: nn.Module, video_key: str, frame: Tensor,
                         num_support: int, stride: int) -> None:
    """Put the online cache of ``video_key`` in its steady state without
    streaming K*S frames: K copies of ``frame``'s (1, C, H, W) unprompted
    embedding at frames 0, S, ..., (K-1)*S. A SELSA-type detector runs its
    real ``predict`` on those K grid frames (one frame each) instead, which
    fills its memory (and its STPN backbone's cache)."""
    if isinstance(model, SELSA):
        video = SyntheticVideo(frame.shape[-2:], 1, frame.shape[1],
                               device=frame.device)
        reset_video_cache(model, video_key)
        with torch.no_grad():
            for i in range(num_support):
                model.predict(
                    frame_inputs(model, frame[None], 'online', video_key,
                                 i * stride, num_support, stride),
                    [video.data_sample(video_key, i * stride)])
        return
    backbone = model.backbone
    with torch.no_grad():
        tokens, hw = backbone.support_embeddings(frame)
    state = backbone.video_context.reset_video(video_key)
    for i in range(num_support):
        state.add_embedding(video_key, i * stride, tokens[0].clone(), hw,
                            num_support + 1)


def reset_video_cache(model: nn.Module, video_key: str) -> None:
    """Forget what the model's video context holds for ``video_key``."""
    get_video_context(model).reset_video(video_key)


def cached_embeddings(model: nn.Module, video_key: str,
                      t: int) -> List[Tensor]:
    """What frame ``t`` of ``video_key`` stored in the backbone's support
    cache (online: its own unprompted embedding); [] without a cache."""
    context = find_video_context(model)
    if context is None:
        return []
    return [emb for fid, emb in context.embeddings.get(video_key, [])
            if fid == t]


# ---------------------------------------------------------------- streams
def uses_prompts(model: nn.Module) -> bool:
    """Whether a detector's backbone is an STPN backbone with prompts (a
    DVP predictor). ``num_prompts=0`` and stock backbones: False."""
    backbone = getattr(model, 'backbone', model)
    return getattr(backbone, 'predictor', None) is not None


def uses_references(model: nn.Module) -> bool:
    """Whether a detector reads support / reference frames at test time: a
    prompted STPN backbone or a SELSA-type detector."""
    return uses_prompts(model) or isinstance(model, SELSA)


def support_indices(length: int, num_support: int) -> List[int]:
    """The released offline test sampling: ``num_support`` frames spread
    evenly over the whole video, ``round(i * (length - 1) / (K - 1))``."""
    if num_support < 1:
        raise ValueError(f'num_support must be >= 1, got {num_support}')
    if num_support == 1:
        return [0]
    return [
        int(round(i * (length - 1) / (num_support - 1)))
        for i in range(num_support)
    ]


def padded_size(size: Tuple[int, int], divisor: int) -> Tuple[int, int]:
    """``size`` rounded up to multiples of ``divisor`` (the batch input)."""
    divisor = max(1, int(divisor))
    return tuple(-(-int(s) // divisor) * divisor for s in size)  # type: ignore


class SyntheticVideo:
    """A deterministic, endless video of normalised frames: one random
    image (values ~ N(0, 1), i.e. already mean/std-normalised) shifted by a
    few pixels per frame so that consecutive frames differ, zero-padded (the
    normalised mean) to the batch input size. Frames are made on demand
    (outside any timed region) so long videos cost no memory.

    Args:
        img_size (tuple): (H, W) of the frame content (``img_shape``).
        pad_divisor (int): The batch input is padded to multiples of it.
        channels (int): Image channels.
        seed (int): Seed of the image.
        device (str): Where frames are made.
    """

    def __init__(self,
                 img_size: Tuple[int, int],
                 pad_divisor: int = 32,
                 channels: int = 3,
                 seed: int = 0,
                 device: str = 'cpu') -> None:
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.pad_size = padded_size(self.img_size, pad_divisor)
        self.channels = channels
        self.device = torch.device(device)
        gen = torch.Generator().manual_seed(seed)
        self._base = torch.randn(channels, *self.img_size,
                                 generator=gen).to(self.device)

    def frame(self, t: int) -> Tensor:
        """Frame ``t``: (C, Hp, Wp)."""
        h, w = self.img_size
        img = torch.roll(self._base, (3 * t % h, 5 * t % w), dims=(1, 2))
        out = img.new_zeros(self.channels, *self.pad_size)
        out[:, :h, :w] = img
        return out

    def frames(self, ids: Sequence[int]) -> Tensor:
        """Frames ``ids`` stacked: (len(ids), C, Hp, Wp)."""
        return torch.stack([self.frame(t) for t in ids])

    def data_sample(self,
                    video_key: str = '',
                    frame_id: int = 0,
                    gt: Optional[Tuple[Tensor, Tensor]] = None
                    ) -> DetDataSample:
        """A DetDataSample with the metainfo mmdet's heads read (the frame
        is not resized: scale factor 1), and optional ground truth
        ``(bboxes (n, 4), labels (n,))``."""
        sample = DetDataSample()
        sample.set_metainfo(
            dict(
                img_shape=self.img_size,
                ori_shape=self.img_size,
                scale_factor=(1., 1.),
                batch_input_shape=self.pad_size,
                pad_shape=self.pad_size,
                video_id=video_key,
                frame_id=frame_id))
        if gt is not None:
            inst = InstanceData()
            inst.bboxes, inst.labels = gt
            sample.gt_instances = inst
        return sample

    def random_boxes(self, num: int, num_classes: int,
                     seed: int) -> Tuple[Tensor, Tensor]:
        """``num`` boxes inside the frame (>= 1/8 of its size) and labels."""
        gen = torch.Generator().manual_seed(seed)
        h, w = self.img_size
        xy = torch.rand(num, 2, generator=gen) * 0.6
        wh = 0.125 + torch.rand(num, 2, generator=gen) * 0.25
        scale = torch.tensor([w, h], dtype=torch.float32)
        boxes = torch.cat([xy * scale, (xy + wh) * scale], dim=1)
        labels = torch.randint(0, max(1, num_classes), (num, ), generator=gen)
        return boxes.to(self.device), labels.to(self.device)


class FrameStream:
    """One video fed to one detector, one frame (batch of 1) at a time
    (:meth:`inputs`), or later offline frames in batches
    (:meth:`batch_inputs`).

    A prompted or SELSA-type model (:func:`uses_references`) gets
    :func:`frame_inputs` (offline: frame 0 with the K support / reference
    frames spread over the video, later frames alone; online: key frames
    alone) and the stream's policy as its ``test_support``; a single-frame
    model gets plain ``(1, C, H, W)`` key frames (the same frames).
    """

    def __init__(self, model: nn.Module, video: SyntheticVideo, mode: str,
                 length: int, num_support: int, stride: int,
                 video_key: str) -> None:
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.model = model
        self.video = video
        self.mode = mode
        self.length = length
        self.num_support = num_support
        self.stride = stride
        self.video_key = video_key
        self.prompted = uses_references(model)

    def raw_inputs(self, t: int) -> Tensor:
        """The input tensor of frame ``t`` (no metadata attached)."""
        key = self.video.frame(t)[None]
        if not self.prompted:
            return key
        if self.mode == 'offline' and t == 0:
            support = self.video.frames(
                support_indices(self.length, self.num_support))
            return torch.cat([key, support])[None]
        return key[None]

    def attach(self, x: Tensor, t: int):
        """Frame ``t``'s ClipBatch of ``x`` (prompted models; the backbone
        gets the stream's policy), or ``x`` itself."""
        if not self.prompted:
            return x
        return frame_inputs(self.model, x, self.mode, self.video_key, t,
                            self.num_support, self.stride)

    def inputs(self, t: int) -> Tuple[object, List[DetDataSample]]:
        """Input (a ClipBatch for prompted models) and data samples of frame
        ``t``."""
        return (self.attach(self.raw_inputs(t), t),
                [self.video.data_sample(self.video_key, t)])

    def batch_inputs(self, ts: Sequence[int]
                     ) -> Tuple[object, List[DetDataSample]]:
        """One batch of the LATER frames ``ts`` (all > 0) of an offline
        stream: ``(B, 1, C, H, W)`` key frames with one ClipMeta each (they
        share the video's cached prompts) for a prompted model, ``(B, C, H,
        W)`` otherwise; and their data samples."""
        if self.mode != 'offline' or min(ts) < 1:
            raise ValueError('batch_inputs: later frames (t > 0) of an '
                             f'offline stream, got {self.mode} {list(ts)}')
        keys = self.video.frames(ts)
        samples = [self.video.data_sample(self.video_key, t) for t in ts]
        if not self.prompted:
            return keys, samples
        self.model.backbone.test_support = SupportPolicy(
            'offline', self.num_support, self.stride)
        return ClipBatch(keys[:, None],
                         [ClipMeta(self.video_key, t, 0)
                          for t in ts]), samples

    def predict_fn(self, t: int):
        """``fn(model, x)`` that runs frame ``t`` through ``model.predict``
        with ``x`` as the input (for tracing). It also returns what frame
        ``t`` stored in the backbone's support cache (online: its own
        unprompted embedding, used only by later frames), so that a jit
        trace does not drop that work as dead code."""

        def fn(model: nn.Module, x: Tensor):
            results = model.predict(
                self.attach(x, t),
                [self.video.data_sample(self.video_key, t)])
            stored = cached_embeddings(model, self.video_key, t) \
                if self.prompted else []
            return results, stored

        return fn
