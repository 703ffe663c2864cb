"""SELSA's RoI head: mmdet's StandardRoIHead with reference RoI features."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import empty_instances, unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import ConfigType, InstanceList
from torch import Tensor

from .temporal_roi_align import TemporalRoIAlign


@MODELS.register_module()
class SelsaRoIHead(StandardRoIHead):
    """``StandardRoIHead`` whose box head also sees reference RoIs.

    Key RoIs (sampled proposals in training, all proposals at test) and the
    reference frames' proposals go through the same RoI extractor; the box
    head (``SelsaBBoxHead``) aggregates, per sample, over all reference RoIs
    of that sample. With a ``TemporalRoIAlign`` extractor the key RoI
    features are also aggregated with the most similar points of the
    sample's reference maps (the reference RoIs get plain RoI Align).

    Reference inputs, shared by ``loss`` and ``predict``:
    ``ref_x``: multi-level maps of all reference frames of the batch, each
    (F, C, H, W), sample 0's frames first; ``ref_rpn_results_list``: F
    ``InstanceData`` with the ``bboxes`` of each reference frame;
    ``num_ref_frames``: frames per sample (sum F); None: F split equally
    over the samples. Losses are computed on the key frames only.
    No mask head (SELSA has none).
    """

    def init_mask_head(self, mask_roi_extractor: ConfigType,
                       mask_head: ConfigType) -> None:
        """SELSA has no mask branch.

        Args:
            mask_roi_extractor (dict): Must not be given.
            mask_head (dict): Must not be given.

        Raises:
            ValueError: Always (a mask head is configured).
        """
        raise ValueError('SelsaRoIHead does not support a mask head '
                         '(mask_head must be None)')

    def _ref_rois(self, ref_x: Tuple[Tensor],
                  ref_rpn_results_list: InstanceList,
                  num_ref_frames: Optional[Sequence[int]],
                  num_imgs: int) -> Tuple[Tensor, List[int], List[int]]:
        """Reference RoIs (column 0 = reference frame index), frames per
        sample and reference RoIs per sample."""
        num_frames = ref_x[0].size(0)
        if len(ref_rpn_results_list) != num_frames:
            raise ValueError(
                f'SelsaRoIHead: {len(ref_rpn_results_list)} reference '
                f'proposal lists for {num_frames} reference frames in ref_x')
        if num_ref_frames is None:
            if num_frames % num_imgs:
                raise ValueError(
                    f'SelsaRoIHead: {num_frames} reference frames cannot be '
                    f'split equally over {num_imgs} samples; pass '
                    'num_ref_frames')
            num_ref_frames = [num_frames // num_imgs] * num_imgs
        num_ref_frames = list(num_ref_frames)
        if len(num_ref_frames) != num_imgs or \
                sum(num_ref_frames) != num_frames:
            raise ValueError(
                f'SelsaRoIHead: num_ref_frames={num_ref_frames} does not '
                f'match {num_imgs} samples and {num_frames} reference frames')
        per_frame = [len(res) for res in ref_rpn_results_list]
        num_ref_rois, start = [], 0
        for count in num_ref_frames:
            num_ref_rois.append(sum(per_frame[start:start + count]))
            start += count
        ref_rois = bbox2roi([res.bboxes for res in ref_rpn_results_list])
        return ref_rois, num_ref_frames, num_ref_rois

    def ref_states(self, ref_x: Tuple[Tensor],
                   ref_rpn_results_list: InstanceList) -> List[Tensor]:
        """The box head's states (``SelsaBBoxHead.ref_states``) of each
        reference frame's proposals, for reuse across key frames.

        Args:
            ref_x (tuple[Tensor]): Maps of F frames, each (F, C, H, W).
            ref_rpn_results_list (list[InstanceData]): Their F proposals.

        Returns:
            list[Tensor]: F tensors (n_f, num_shared_fcs, 2C'), one per
            frame (its proposals in order).
        """
        if len(ref_rpn_results_list) != ref_x[0].size(0):
            raise ValueError(
                f'SelsaRoIHead.ref_states: {len(ref_rpn_results_list)} '
                f'proposal lists for {ref_x[0].size(0)} frames in ref_x')
        if not ref_rpn_results_list:
            return []
        ref_rois = bbox2roi([res.bboxes for res in ref_rpn_results_list])
        levels = self.bbox_roi_extractor.num_inputs
        # the reference RoIs get plain RoI Align (also with TemporalRoIAlign)
        feats = self.bbox_roi_extractor(ref_x[:levels], ref_rois)
        if self.with_shared_head:
            feats = self.shared_head(feats)
        states = self.bbox_head.ref_states(feats)
        return list(states.split([len(r) for r in ref_rpn_results_list]))

    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor,
                      ref_x: Tuple[Tensor], ref_rois: Tensor,
                      num_rois: List[int], num_ref_frames: List[int],
                      num_ref_rois: List[int],
                      ref_states: Optional[Tensor] = None) -> dict:
        """Box head forward on key RoIs with reference RoIs (their
        ``ref_states`` (M, L, 2C') when given, else extracted from ``ref_x``
        at ``ref_rois``).

        Returns:
            dict: ``cls_score``, ``bbox_pred``, ``bbox_feats`` (key RoIs).
        """
        extractor = self.bbox_roi_extractor
        levels = extractor.num_inputs
        if isinstance(extractor, TemporalRoIAlign):
            bbox_feats = extractor(
                x[:levels],
                rois,
                ref_feats=ref_x[:levels],
                num_ref_frames=num_ref_frames)
        else:
            bbox_feats = extractor(x[:levels], rois)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        if ref_states is None:
            ref_bbox_feats = extractor(ref_x[:levels], ref_rois)
            if self.with_shared_head:
                ref_bbox_feats = self.shared_head(ref_bbox_feats)
            ref_states = self.bbox_head.ref_states(ref_bbox_feats)
        cls_score, bbox_pred = self.bbox_head(
            bbox_feats,
            num_rois=num_rois,
            num_ref_rois=num_ref_rois,
            ref_states=ref_states)
        return dict(
            cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats)

    def loss(self,
             x: Tuple[Tensor],
             ref_x: Tuple[Tensor],
             rpn_results_list: InstanceList,
             ref_rpn_results_list: InstanceList,
             batch_data_samples: SampleList,
             num_ref_frames: Optional[Sequence[int]] = None) -> dict:
        """Box losses of the key frames.

        Args:
            x (tuple[Tensor]): Key frame maps, each (N, C, H, W).
            ref_x (tuple[Tensor]): Reference maps, each (F, C, H, W).
            rpn_results_list (list[InstanceData]): Key proposals (N).
            ref_rpn_results_list (list[InstanceData]): Reference proposals
                (F).
            batch_data_samples (list[DetDataSample]): Key frame samples with
                ``gt_instances``.
            num_ref_frames (Sequence[int], optional): Frames per sample.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``, ``acc``.
        """
        num_imgs = len(batch_data_samples)
        if len(rpn_results_list) != num_imgs:
            raise ValueError(
                f'SelsaRoIHead.loss: {len(rpn_results_list)} proposal lists '
                f'for {num_imgs} data samples')
        ref_rois, num_ref_frames, num_ref_rois = self._ref_rois(
            ref_x, ref_rpn_results_list, num_ref_frames, num_imgs)
        gts, gts_ignore, _ = unpack_gt_instances(batch_data_samples)
        sampling_results = []
        for i in range(num_imgs):
            proposals = rpn_results_list[i].clone()
            proposals.priors = proposals.pop('bboxes')
            assign_result = self.bbox_assigner.assign(proposals, gts[i],
                                                      gts_ignore[i])
            sampling_results.append(
                self.bbox_sampler.sample(
                    assign_result,
                    proposals,
                    gts[i],
                    feats=[lvl[i][None] for lvl in x]))
        rois = bbox2roi([res.priors for res in sampling_results])
        num_rois = [len(res.priors) for res in sampling_results]
        bbox_results = self._bbox_forward(x, rois, ref_x, ref_rois, num_rois,
                                          num_ref_frames, num_ref_rois)
        loss_and_target = self.bbox_head.loss_and_target(
            cls_score=bbox_results['cls_score'],
            bbox_pred=bbox_results['bbox_pred'],
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.train_cfg)
        return dict(loss_and_target['loss_bbox'])

    def predict(self,
                x: Tuple[Tensor],
                ref_x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                ref_rpn_results_list: InstanceList,
                batch_data_samples: SampleList,
                rescale: bool = False,
                num_ref_frames: Optional[Sequence[int]] = None,
                ref_states: Optional[Sequence[Optional[Tensor]]] = None
                ) -> InstanceList:
        """Detections of the key frames.

        Args:
            x, ref_x, rpn_results_list, ref_rpn_results_list,
            batch_data_samples, num_ref_frames: As :meth:`loss`
                (``batch_data_samples`` need no ``gt_instances``).
            rescale (bool): Boxes in the original image. Defaults to False.
            ref_states (Sequence[Tensor | None], optional): One entry per
                reference frame, aligned with ``ref_rpn_results_list``: that
                frame's :meth:`ref_states` kept from another key frame of
                the video, or None to compute it here. The result is the
                same as without them (the reference branch does not depend
                on the key frame); SELSA's test memory passes them so that a
                video's reference frames go through RoI Align and the shared
                FCs once.

        Returns:
            list[InstanceData]: ``bboxes``, ``scores``, ``labels`` per key
            frame (rescaled to the original image when ``rescale``).
        """
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        num_imgs = len(batch_img_metas)
        if len(rpn_results_list) != num_imgs:
            raise ValueError(
                f'SelsaRoIHead.predict: {len(rpn_results_list)} proposal '
                f'lists for {num_imgs} data samples')
        ref_rois, num_ref_frames, num_ref_rois = self._ref_rois(
            ref_x, ref_rpn_results_list, num_ref_frames, num_imgs)
        proposals = [res.bboxes for res in rpn_results_list]
        rois = bbox2roi(proposals)
        if rois.shape[0] == 0:
            return empty_instances(
                batch_img_metas,
                rois.device,
                task_type='bbox',
                box_type=self.bbox_head.predict_box_type,
                num_classes=self.bbox_head.num_classes,
                score_per_cls=self.test_cfg is None)
        num_rois = [len(p) for p in proposals]
        states = None
        if ref_states is not None:
            states = self._fill_states(ref_x, ref_rpn_results_list,
                                       list(ref_states))
        bbox_results = self._bbox_forward(x, rois, ref_x, ref_rois, num_rois,
                                          num_ref_frames, num_ref_rois,
                                          states)
        bbox_preds = bbox_results['bbox_pred']
        return self.bbox_head.predict_by_feat(
            rois=rois.split(num_rois),
            cls_scores=bbox_results['cls_score'].split(num_rois),
            bbox_preds=bbox_preds.split(num_rois) if bbox_preds is not None
            else (None, ) * num_imgs,
            batch_img_metas=batch_img_metas,
            rcnn_test_cfg=self.test_cfg,
            rescale=rescale)

    def _fill_states(self, ref_x: Tuple[Tensor],
                     ref_rpn_results_list: InstanceList,
                     ref_states: List[Optional[Tensor]]) -> Tensor:
        """All F frames' states concatenated (M, L, 2C'), computing the
        missing (None) ones in one pass."""
        if len(ref_states) != len(ref_rpn_results_list):
            raise ValueError(
                f'SelsaRoIHead.predict: {len(ref_states)} ref_states for '
                f'{len(ref_rpn_results_list)} reference frames')
        missing = [f for f, s in enumerate(ref_states) if s is None]
        if missing:
            new = self.ref_states(
                tuple(lvl[missing] for lvl in ref_x),
                [ref_rpn_results_list[f] for f in missing])
            for f, state in zip(missing, new):
                ref_states[f] = state
        for f, (state, res) in enumerate(
                zip(ref_states, ref_rpn_results_list)):
            if state.size(0) != len(res):
                raise ValueError(
                    f'SelsaRoIHead.predict: ref_states[{f}] holds '
                    f'{state.size(0)} RoIs, reference frame {f} has '
                    f'{len(res)} proposals')
        return torch.cat(ref_states)

    def forward(self, *args, **kwargs):
        """Not used: SELSA needs reference features (see :meth:`predict`).

        Raises:
            NotImplementedError: Always.
        """
        raise NotImplementedError(
            'SelsaRoIHead.forward (tensor mode) is not implemented; use '
            'loss / predict with reference features')
