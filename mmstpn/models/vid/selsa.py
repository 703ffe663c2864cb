"""SELSA video detector on mmdet's TwoStageDetector."""
import copy
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import InstanceList
from torch import Tensor

from mmstpn.structures import (BackboneInput, ClipBatch, ClipMeta,
                               SupportPolicy, VideoContext, as_clip_batch)
from ..backbones import STPNBackboneMixin
from .selsa_roi_head import SelsaRoIHead

POLICY_KEY = 'model.test_support'
#: SELSA's slot in the video context's per-video state
SLOT = 'selsa'


@dataclass
class RefMemory:
    """The reference frames SELSA keeps for one video at test time.

    Args:
        feats (tuple[Tensor]): Per level, ``(F, C, H, W)`` maps of the F
            reference frames.
        proposals (list[InstanceData]): Their F RPN proposal lists.
        frame_ids (list[int]): Online mode: the frame of each reference (in
            order); offline: empty (frame 0's carried frames).
        states (list[Tensor]): Their F box-head reference states
            (``SelsaRoIHead.ref_states``: RoI Align of the proposals and the
            reference branch of every shared FC, which do not depend on the
            key frame), computed when the frame enters the memory and reused
            by every later key frame of the video. Empty: not computed.
    """

    feats: Tuple[Tensor, ...]
    proposals: InstanceList
    frame_ids: List[int] = field(default_factory=list)
    states: List[Tensor] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.proposals)

    def select(self, indices: Sequence[int]) -> 'RefMemory':
        """Some of the references.

        Args:
            indices (Sequence[int]): Positions in this memory.

        Returns:
            RefMemory: Those references (features, proposals, frame ids
            and states).
        """
        indices = list(indices)
        return RefMemory(
            tuple(f[indices] for f in self.feats),
            [self.proposals[i] for i in indices],
            [self.frame_ids[i] for i in indices] if self.frame_ids else [],
            [self.states[i] for i in indices] if self.states else [])


def unpack_clips(batch_inputs: BackboneInput
                 ) -> Tuple[Tensor, Optional[List[ClipMeta]]]:
    """Frames and identities of a detector input.

    Args:
        batch_inputs (ClipBatch | Tensor): A ``ClipBatch``, a ``(N, 1+K, C,
            H, W)`` tensor or a ``(N, C, H, W)`` tensor (no reference
            frames).

    Returns:
        tuple: ``(N, 1+K, C, H, W)`` frames and the ``ClipMeta`` list (None
        for a tensor).

    Raises:
        ValueError: Any other input.
    """
    batch = _clip_batch(batch_inputs)
    return batch.frames, batch.metas


def _clip_batch(batch_inputs: BackboneInput) -> ClipBatch:
    try:
        return as_clip_batch(batch_inputs)
    except ValueError as err:
        raise ValueError(f'SELSA: {err}') from None


@MODELS.register_module()
class SELSA(TwoStageDetector):
    """SELSA (Wu et al., ICCV 2019): Faster R-CNN whose RoI head aggregates
    the proposals of reference frames (``SelsaRoIHead``).

    Input: a :class:`~mmstpn.structures.ClipBatch` (what
    ``VideoDetDataPreprocessor`` builds; the support frames
    ``SupportFrameSample`` loaded are SELSA's reference frames), a plain
    ``(N, 1+K, C, H, W)`` tensor (self-contained: all K real, nothing
    stored) or a ``(N, C, H, W)`` tensor (still images: no references).

    Training: one backbone pass over the key frames and their carried
    reference frames; RPN losses on the key frames, RPN proposals (test
    config, no gradient) on the reference frames; box losses on the key
    frames. An item with no reference frame (ImageNet DET's one-frame
    videos) uses its key frame as its reference.

    Test (the policy of the model's :class:`~mmstpn.structures.VideoContext`;
    the references of a key frame are always those below plus the key frame
    itself, as MMTracking):

    - ``'offline'`` (released, K=14): frame 0 of a video carries K frames
      spread over the video; their features and proposals are computed once
      and kept in the video's state (a :class:`RefMemory`); later frames
      reuse them.
    - ``'online'`` (causal): frames carry nothing; the features and
      proposals of every ``stride``-th key frame are kept as it passes, and
      a frame's references are the K latest kept frames strictly before it.
    - ``'frames'``: every frame carries its K references; nothing is kept.

    ``video_context`` is the model's one video context: the STPN
    backbone's when there is one (its policy is declared once, at
    ``model.backbone.test_support``), else SELSA's own from
    ``model.test_support``; its reset rule applies.

    STPN + SELSA: with an STPN backbone (with prompts), each item's prompts
    come from the backbone (``prompts_for``: its support frames in training
    and under 'frames', its cache under 'offline' / 'online'; SELSA's
    reference frames are the backbone's support frames) and prompt the key
    frame AND that item's reference frames (``forward_prompted``), once.

    Args:
        test_support (dict | SupportPolicy, optional): The test-time policy
            of a model WITHOUT an STPN backbone (None: offline, K=14). With
            an STPN backbone it must stay unset: the model's policy is
            ``model.backbone.test_support``.
        num_ref_proposals (int, optional): Reference RoIs per reference
            frame: the top-scored ``num_ref_proposals`` of its RPN proposals
            (training and test; the key frame as its own reference too).
            None (default, MMTracking's recipe): all of them
            (``test_cfg.rpn.max_per_img``, 300 in the zoo). A speed knob
            for small experiments (the toy configs); key frames always use
            all their proposals.
        Others: as ``TwoStageDetector``; ``roi_head`` must be a
            ``SelsaRoIHead``.

    Raises:
        ValueError: ``num_ref_proposals < 1``, no RPN or another RoI head,
            or ``test_support`` set next to an STPN backbone.

    See docs/vid_selsa_troi.md.
    """

    def __init__(self,
                 *args,
                 test_support: Union[None, dict, SupportPolicy] = None,
                 num_ref_proposals: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if num_ref_proposals is not None and num_ref_proposals < 1:
            raise ValueError('SELSA: model.num_ref_proposals must be None '
                             f'or >= 1, got {num_ref_proposals}')
        self.num_ref_proposals = num_ref_proposals
        if not isinstance(self.roi_head, SelsaRoIHead) or not self.with_rpn:
            raise ValueError(
                'SELSA needs an rpn_head and a SelsaRoIHead roi_head, got '
                f'roi_head={type(self.roi_head).__name__}')
        if isinstance(self.backbone, STPNBackboneMixin):
            if test_support is not None:
                raise ValueError(
                    f'SELSA: {POLICY_KEY} is set, but the model has an STPN '
                    'backbone, whose support frames are SELSA\'s reference '
                    'frames: declare the policy once, at '
                    'model.backbone.test_support, and leave '
                    f'{POLICY_KEY} unset')
            self.video_context = self.backbone.video_context
        else:
            self.video_context = VideoContext(test_support, POLICY_KEY)

    # ------------------------------------------------------------ helpers
    @property
    def prompted(self) -> bool:
        """Whether the backbone is an STPN backbone with prompts."""
        return isinstance(self.backbone, STPNBackboneMixin) and \
            self.backbone.predictor is not None

    @property
    def test_support(self) -> SupportPolicy:
        """The model's test-time policy (its video context's); assigning
        switches it for every consumer."""
        return self.video_context.policy

    @test_support.setter
    def test_support(self, policy) -> None:
        self.video_context.set_policy(policy)

    @staticmethod
    def _ref_samples(sample: DetDataSample, count: int) -> SampleList:
        """Data samples (metainfo only) of one item's reference frames."""
        return [DetDataSample(metainfo=sample.metainfo) for _ in range(count)]

    def _prompts(self, batch: ClipBatch, still: bool) -> Optional[Tensor]:
        """Each item's (N, P, d) prompts from the STPN backbone (its policy
        and cache), or None for a backbone without prompts."""
        if not self.prompted:
            return None
        self.backbone.check_inputs(batch.frames)
        return self.backbone.prompts_for(batch, still)

    def _features(self, key: Tensor, refs: List[Tensor],
                  prompts: Optional[Tensor]) -> Tuple[Tensor, ...]:
        """Neck maps of ``key`` (N, C, H, W) then of every item's reference
        frames (K_i, C, H, W), in one backbone pass; with prompts, item i's
        prompts prompt its key and its references."""
        frames = torch.cat([key] + refs)
        if prompts is None:  # (an STPN backbone without prompts: too)
            maps = self.backbone(frames)
        else:
            per_frame = torch.cat([prompts] + [
                prompts[i:i + 1].expand(len(r), -1, -1)
                for i, r in enumerate(refs)
            ])
            maps = self.backbone.forward_prompted(frames, per_frame)
        maps = self.neck(maps) if self.with_neck else maps
        # mmcv's RoIAlign reads its input as contiguous NCHW: a channels-last
        # map (e.g. STPNViT's pyramid, kept by convs) gives wrong RoI features
        return tuple(m.contiguous() for m in maps)

    def _as_refs(self, proposals: InstanceList) -> InstanceList:
        """Each frame's reference RoIs: its top ``num_ref_proposals``
        proposals (mmdet's RPN returns them sorted by score)."""
        if self.num_ref_proposals is None:
            return list(proposals)
        return [p[:self.num_ref_proposals] for p in proposals]

    # ------------------------------------------------------------ loss
    def loss(self, batch_inputs: BackboneInput,
             batch_data_samples: SampleList) -> dict:
        """RPN and box losses of the key frames.

        Args:
            batch_inputs (ClipBatch | Tensor): Key frames with their
                reference frames (see the class docstring).
            batch_data_samples (list[DetDataSample]): The key frames'
                samples with ``gt_instances``.

        Returns:
            dict[str, Tensor]: ``loss_rpn_cls``, ``loss_rpn_bbox``,
            ``loss_cls``, ``loss_bbox``, ``acc``.
        """
        still = isinstance(batch_inputs, Tensor) and batch_inputs.dim() == 4
        batch = _clip_batch(batch_inputs)
        frames, num_imgs = batch.frames, len(batch)
        refs = [
            frames[i, 1:1 + k] if k > 0 else frames[i, :1]
            for i, k in enumerate(batch.num_support)
        ]
        num_refs = [len(r) for r in refs]
        feats = self._features(batch.key_frames, refs,
                               self._prompts(batch, still))
        x = tuple(f[:num_imgs] for f in feats)
        ref_x = tuple(f[num_imgs:] for f in feats)

        losses = dict()
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_samples = copy.deepcopy(batch_data_samples)
        for sample in rpn_samples:
            sample.gt_instances.labels = torch.zeros_like(
                sample.gt_instances.labels)
        rpn_losses, rpn_results_list = self.rpn_head.loss_and_predict(
            x, rpn_samples, proposal_cfg=proposal_cfg)
        for key in list(rpn_losses):
            if 'loss' in key and 'rpn' not in key:
                rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
        losses.update(rpn_losses)

        ref_samples = [
            s for i, k in enumerate(num_refs)
            for s in self._ref_samples(batch_data_samples[i], k)
        ]
        with torch.no_grad():
            ref_rpn_results = self._as_refs(
                self.rpn_head.predict(ref_x, ref_samples, rescale=False))
        losses.update(
            self.roi_head.loss(
                x,
                ref_x,
                rpn_results_list,
                ref_rpn_results,
                batch_data_samples,
                num_ref_frames=num_refs))
        return losses

    # ------------------------------------------------------------ predict
    def predict(self,
                batch_inputs: BackboneInput,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detections of the key frames (see the class doc for the
        references under each ``test_support`` mode).

        Args:
            batch_inputs (ClipBatch | Tensor): Key frames, with the
                reference frames they carry.
            batch_data_samples (list[DetDataSample]): The key frames'
                samples.
            rescale (bool): Boxes in the original image. Defaults to True.

        Returns:
            list[DetDataSample]: with ``pred_instances``.
        """
        still = isinstance(batch_inputs, Tensor) and batch_inputs.dim() == 4
        batch = _clip_batch(batch_inputs)
        ctx = self.video_context
        policy = ctx.policy
        frames, metas, num_imgs = batch.frames, batch.metas, len(batch)
        counts = batch.num_support
        cached = metas is not None and policy.cached
        if cached:
            ctx.enter_batch(metas)
        if cached and policy.mode == 'online':
            for m in metas:
                if m.num_support:
                    raise ValueError(self._error(
                        m, f'the input carries {m.num_support} reference '
                        'frames but online mode loads none (use '
                        "SupportFrameSample(method='from_model') with "
                        'VideoContextHook)'))
        prompts = self._prompts(batch, still)
        carried = [frames[i, 1:1 + k] for i, k in enumerate(counts)]
        feats = self._features(batch.key_frames, carried, prompts)
        samples = list(batch_data_samples) + [
            s for i, k in enumerate(counts)
            for s in self._ref_samples(batch_data_samples[i], k)
        ]
        proposals = self.rpn_head.predict(feats, samples, rescale=False)
        x = tuple(f[:num_imgs] for f in feats)
        # the box head's reference states of every frame of this pass (the
        # key frames are their own references; carried frames enter the
        # memory): once, here; kept frames are never recomputed
        refs = self._as_refs(proposals)
        states = self.roi_head.ref_states(feats, refs)

        memories: List[RefMemory] = []
        start = num_imgs
        for i, k in enumerate(counts):
            own = RefMemory(
                tuple(f[start:start + k].clone() for f in feats),
                refs[start:start + k], [], states[start:start + k])
            start += k
            if not cached:
                memories.append(own)
            elif policy.mode == 'offline':
                memories.append(self._offline_memory(metas[i], own))
            else:
                memories.append(
                    self._online_memory(metas[i], policy,
                                        tuple(f[i:i + 1] for f in x),
                                        refs[i], states[i]))

        ref_x = tuple(
            torch.cat([
                t for i, mem in enumerate(memories)
                for t in (mem.feats[lvl], x[lvl][i:i + 1])
            ]) for lvl in range(len(x)))
        ref_proposals, ref_states = [], []
        for i, mem in enumerate(memories):
            ref_proposals += list(mem.proposals) + [refs[i]]
            ref_states += (list(mem.states) or [None] * len(mem)) + [states[i]]
        results = self.roi_head.predict(
            x,
            ref_x,
            proposals[:num_imgs],
            ref_proposals,
            batch_data_samples,
            rescale=rescale,
            num_ref_frames=[len(mem) + 1 for mem in memories],
            ref_states=ref_states)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _offline_memory(self, meta: ClipMeta, own: RefMemory) -> RefMemory:
        """Store the references ``meta``'s frame carries, or reuse its
        video's."""
        slots = self.video_context.video(meta.video_key).slots
        if len(own):
            slots[SLOT] = own
            return own
        memory = slots.get(SLOT)
        if meta.frame_id == 0 or not isinstance(memory, RefMemory) or \
                memory.frame_ids:  # (frame_ids: an online memory)
            raise ValueError(self._error(
                meta, 'carries no reference frames and none are stored for '
                'its video (offline mode: frame 0 of a video must carry '
                "them; test pipeline: SupportFrameSample(method='from_model')"
                ' with VideoContextHook, frames of a video in order in one '
                'process: TrackImgSampler)'))
        return memory

    def _online_memory(self, meta: ClipMeta, policy: SupportPolicy,
                       key_feats: Tuple[Tensor, ...], key_proposals,
                       key_states: Tensor) -> RefMemory:
        """The K latest kept frames before ``meta``'s; then keep this frame
        when it lies on the stride grid."""
        slots = self.video_context.video(meta.video_key).slots
        memory = slots.get(SLOT)
        if not isinstance(memory, RefMemory) or \
                len(memory.frame_ids) != len(memory):  # none / not online
            memory = RefMemory(tuple(f[:0] for f in key_feats), [], [], [])
        if memory.frame_ids and meta.frame_id < memory.frame_ids[-1]:
            raise ValueError(self._error(
                meta, f'arrived after frame {memory.frame_ids[-1]}; online '
                'mode needs the frames of a video in order (TrackImgSampler)'))
        past = [
            j for j, fid in enumerate(memory.frame_ids) if fid < meta.frame_id
        ][-policy.num_support:]
        refs = memory.select(past)
        if meta.frame_id % policy.stride == 0 and \
                meta.frame_id not in memory.frame_ids:
            # keep the K latest grid frames: K-1 of the memory + this one
            last = len(memory)
            keep = memory.select(
                range(max(0, last - policy.num_support + 1), last))
            slots[SLOT] = RefMemory(
                tuple(
                    torch.cat([m, k.clone()])
                    for m, k in zip(keep.feats, key_feats)),
                list(keep.proposals) + [key_proposals],
                keep.frame_ids + [meta.frame_id],
                list(keep.states) + [key_states])
        return refs

    def _error(self, meta: ClipMeta, what: str) -> str:
        return (f'SELSA: video {meta.video_key!r} frame {meta.frame_id} '
                f'{what} [{self.video_context.describe()}]')

    def _forward(self, batch_inputs, batch_data_samples: SampleList = None):
        """Tensor mode is not implemented for SELSA."""
        raise NotImplementedError('SELSA has no tensor mode; use loss / '
                                  'predict')
