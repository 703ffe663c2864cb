"""SELSA video detector on mmdet's TwoStageDetector."""
import copy
from typing import Dict, Hashable, List, Optional, Tuple

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import InstanceList
from torch import Tensor

from mmstpn.structures import as_clip_batch
from .selsa_roi_head import SelsaRoIHead

#: the reference frames of one item: (feature maps, one proposal list each)
Memory = Tuple[Tuple[Tensor, ...], InstanceList]


def unpack_clips(batch_inputs) -> Tuple[Tensor, Optional[list]]:
    """``(frames (N, 1+K, C, H, W), metas or None)`` of a ``ClipBatch`` or a
    plain tensor (4-D: no reference frames)."""
    try:
        batch = as_clip_batch(batch_inputs)
    except ValueError as err:
        raise ValueError(f'SELSA: {err}') from None
    return batch.frames, batch.metas


@MODELS.register_module()
class SELSA(TwoStageDetector):
    """SELSA (Wu et al., ICCV 2019): Faster R-CNN whose RoI head aggregates
    the proposals of reference frames (``SelsaRoIHead``).

    Training: one backbone pass over the key frames and their carried
    reference frames; RPN losses on the key frames, RPN proposals (test
    config, no gradient) on the reference frames; box losses on the key
    frames. An item with no reference frame (ImageNet DET's one-frame
    videos) uses its key frame as its reference.

    Test: an item that carries reference frames (frame 0 under
    ``test_with_adaptive_stride``: 14 frames spread over the video) stores
    their features and proposals as its video's memory; a later frame
    without reuses its video's memory. The references of a key frame are
    the memory plus the key frame itself (as MMTracking). The memory is
    keyed by ``ClipMeta.video_key``, replaced whenever a frame carries
    reference frames, never used for a frame 0, drops every video not in
    the current batch and is emptied by ``train()``. A batch without
    ``ClipMeta`` is self-contained: its carried frames (+ the key) are the
    references, nothing is stored.

    Args: as ``TwoStageDetector``; ``roi_head`` must be a ``SelsaRoIHead``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.roi_head, SelsaRoIHead) or not self.with_rpn:
            raise ValueError(
                'SELSA needs an rpn_head and a SelsaRoIHead roi_head, got '
                f'roi_head={type(self.roi_head).__name__}')
        self.ref_memory: Dict[Hashable, Memory] = {}

    def train(self, mode: bool = True) -> 'SELSA':
        """Switch mode; entering training empties the test memory."""
        if mode:
            self.ref_memory = {}
        return super().train(mode)

    @staticmethod
    def _num_refs(frames: Tensor, metas: Optional[list]) -> List[int]:
        """Real reference frames per item."""
        k = frames.size(1) - 1
        if metas is None:
            return [k] * frames.size(0)
        return [int(m.num_support) for m in metas]

    @staticmethod
    def _ref_samples(sample: DetDataSample, count: int) -> SampleList:
        """Data samples (metainfo only) of one item's reference frames."""
        return [DetDataSample(metainfo=sample.metainfo) for _ in range(count)]

    def loss(self, batch_inputs, batch_data_samples: SampleList) -> dict:
        """RPN and box losses of the key frames.

        Returns:
            dict[str, Tensor]: ``loss_rpn_cls``, ``loss_rpn_bbox``,
            ``loss_cls``, ``loss_bbox``, ``acc``.
        """
        frames, metas = unpack_clips(batch_inputs)
        num_imgs = frames.size(0)
        refs = [
            frames[i, 1:1 + k] if k > 0 else frames[i, :1]
            for i, k in enumerate(self._num_refs(frames, metas))
        ]
        num_refs = [len(r) for r in refs]
        feats = self.extract_feat(torch.cat([frames[:, 0]] + refs))
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
            ref_rpn_results = self.rpn_head.predict(
                ref_x, ref_samples, rescale=False)
        losses.update(
            self.roi_head.loss(
                x,
                ref_x,
                rpn_results_list,
                ref_rpn_results,
                batch_data_samples,
                num_ref_frames=num_refs))
        return losses

    def predict(self,
                batch_inputs,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detections of the key frames (see the class doc for the
        reference memory).

        Returns:
            list[DetDataSample]: with ``pred_instances``.
        """
        frames, metas = unpack_clips(batch_inputs)
        num_imgs = frames.size(0)
        num_refs = self._num_refs(frames, metas)
        carried = [frames[i, 1:1 + k] for i, k in enumerate(num_refs)]
        feats = self.extract_feat(torch.cat([frames[:, 0]] + carried))
        samples = list(batch_data_samples) + [
            s for i, k in enumerate(num_refs)
            for s in self._ref_samples(batch_data_samples[i], k)
        ]
        proposals = self.rpn_head.predict(feats, samples, rescale=False)
        x = tuple(f[:num_imgs] for f in feats)

        memories: List[Memory] = []
        start, batch_memory = num_imgs, {}
        for i, k in enumerate(num_refs):
            if k > 0:
                memory = (tuple(f[start:start + k].clone() for f in feats),
                          proposals[start:start + k])
            elif metas is None:
                memory = (tuple(f[:0] for f in feats), [])
            else:
                memory = self._stored_memory(metas[i], batch_memory)
            if metas is not None:
                batch_memory[metas[i].video_key] = memory
            memories.append(memory)
            start += k
        if metas is not None:
            self.ref_memory = batch_memory

        ref_x = tuple(
            torch.cat([
                t for i, mem in enumerate(memories)
                for t in (mem[0][lvl], x[lvl][i:i + 1])
            ]) for lvl in range(len(x)))
        ref_proposals = [
            p for i, mem in enumerate(memories)
            for p in list(mem[1]) + [proposals[i]]
        ]
        results = self.roi_head.predict(
            x,
            ref_x,
            proposals[:num_imgs],
            ref_proposals,
            batch_data_samples,
            rescale=rescale,
            num_ref_frames=[len(mem[1]) + 1 for mem in memories])
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _stored_memory(self, meta, batch_memory: dict) -> Memory:
        """The stored references of ``meta``'s video (this batch first)."""
        memory = batch_memory.get(meta.video_key)
        if memory is None and meta.frame_id != 0:
            memory = self.ref_memory.get(meta.video_key)
        if memory is None:
            raise ValueError(
                f'SELSA: video {meta.video_key!r} frame {meta.frame_id} '
                'carries no reference frames and none are stored for its '
                'video (frame 0 of a video must carry them, e.g. '
                "SupportFrameSample(method='test_with_adaptive_stride'))")
        return memory

    def _forward(self, batch_inputs, batch_data_samples: SampleList = None):
        """Tensor mode is not implemented for SELSA."""
        raise NotImplementedError('SELSA has no tensor mode; use loss / '
                                  'predict')
