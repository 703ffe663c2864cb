"""Temporal RoI Align (Gong et al., AAAI 2021)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class TemporalRoIAlign(SingleRoIExtractor):
    """RoI Align on the key frame plus temporal aggregation of the most
    similar points of the reference frames.

    1. RoI Align on the key maps (``SingleRoIExtractor``).
    2. Most Similar RoI Align: for every cell of a key RoI and every
       reference frame, the ``num_most_similar_points`` positions of that
       frame's LAST feature map with the highest cosine similarity to the
       cell; their features are summed with softmax(similarity) weights.
    3. Temporal attentional feature aggregation over {key RoI feature,
       one most-similar feature per reference frame}: both go through
       ``embed_network`` (3x3 conv) and are L2-normalised over channels;
       per channel group and cell, softmax over the frames of the dot
       products with the key embedding weights the (unembedded) features.
       ``num_temporal_attention_blocks <= 0``: plain mean over the frames.

    The result does not depend on the order of the reference frames.
    Called without ``ref_feats`` it is a plain ``SingleRoIExtractor``
    (RoI features of reference proposals).

    Args:
        num_most_similar_points (int): Points per cell and reference frame.
            Defaults to 2.
        num_temporal_attention_blocks (int): Channel groups of the temporal
            attention; must divide ``out_channels``. Defaults to 4.
        **kwargs: ``SingleRoIExtractor`` arguments.
    """

    def __init__(self,
                 num_most_similar_points: int = 2,
                 num_temporal_attention_blocks: int = 4,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if num_most_similar_points < 1:
            raise ValueError('TemporalRoIAlign: num_most_similar_points must '
                             f'be >= 1, got {num_most_similar_points}')
        if num_temporal_attention_blocks > 0 and \
                self.out_channels % num_temporal_attention_blocks:
            raise ValueError(
                'TemporalRoIAlign: num_temporal_attention_blocks='
                f'{num_temporal_attention_blocks} must divide out_channels='
                f'{self.out_channels}')
        self.num_most_similar_points = num_most_similar_points
        self.num_temporal_attention_blocks = num_temporal_attention_blocks
        if num_temporal_attention_blocks > 0:
            self.embed_network = ConvModule(
                self.out_channels,
                self.out_channels,
                3,
                padding=1,
                conv_cfg=None,
                norm_cfg=None,
                act_cfg=None)

    def forward(self,
                feats: Tuple[Tensor],
                rois: Tensor,
                roi_scale_factor: Optional[float] = None,
                ref_feats: Optional[Tuple[Tensor]] = None,
                num_ref_frames: Optional[Sequence[int]] = None) -> Tensor:
        """RoI features, temporally aggregated when ``ref_feats`` is given.

        Args:
            feats (tuple[Tensor]): Key maps, each (B, C, H, W).
            rois (Tensor): (n, 5) RoIs, column 0 the key image index.
            roi_scale_factor (float, optional): As ``SingleRoIExtractor``.
            ref_feats (tuple[Tensor], optional): Reference maps, each
                (F, C, H', W'); only the last level is used.
            num_ref_frames (Sequence[int], optional): Reference frames of
                each key image (length B, sum F), consecutive in
                ``ref_feats``. None: all F frames are references of every
                key image (MMTracking's one-clip batch).

        Returns:
            Tensor: (n, C, h, w) RoI features.
        """
        roi_feats = super().forward(feats, rois, roi_scale_factor)
        if ref_feats is None:
            return roi_feats
        ref_map = ref_feats[-1]
        if ref_map.dim() != 4 or ref_map.size(1) != roi_feats.size(1):
            raise ValueError(
                'TemporalRoIAlign: the last reference map must be (F, '
                f'{roi_feats.size(1)}, H, W), got {tuple(ref_map.shape)}')
        groups = self._frame_groups(rois, ref_map.size(0), num_ref_frames)
        out = roi_feats.new_zeros(roi_feats.shape)
        img_inds = rois[:, 0].long()
        for img, (start, count) in groups.items():
            inds = (img_inds == img).nonzero(as_tuple=True)[0]
            if inds.numel() == 0:
                continue
            key = roi_feats[inds]
            refs = self.most_similar_roi_align(
                key, ref_map[start:start + count])  # all frames at once
            out[inds] = self.aggregate(key, refs)
        return out

    @staticmethod
    def _frame_groups(rois: Tensor, num_frames: int,
                      num_ref_frames: Optional[Sequence[int]]) -> dict:
        """{key image index: (first reference frame, number of frames)}."""
        used = sorted(set(rois[:, 0].long().tolist()))
        if num_ref_frames is None:
            if num_frames < 1:
                raise ValueError('TemporalRoIAlign: ref_feats holds no '
                                 'reference frame')
            return {img: (0, num_frames) for img in used}
        num_ref_frames = list(num_ref_frames)
        if sum(num_ref_frames) != num_frames:
            raise ValueError(
                f'TemporalRoIAlign: num_ref_frames={num_ref_frames} sum to '
                f'{sum(num_ref_frames)}, ref_feats holds {num_frames} frames')
        starts = [sum(num_ref_frames[:i]) for i in range(len(num_ref_frames))]
        groups = {}
        for img in used:
            if img >= len(num_ref_frames) or num_ref_frames[img] < 1:
                raise ValueError(
                    f'TemporalRoIAlign: key image {img} has RoIs but no '
                    f'reference frame (num_ref_frames={num_ref_frames})')
            groups[img] = (starts[img], num_ref_frames[img])
        return groups

    def most_similar_roi_align(self, roi_feats: Tensor,
                               ref_map: Tensor) -> Tensor:
        """Most similar features of one or several reference frames.

        Args:
            roi_feats (Tensor): (n, C, h, w) key RoI features.
            ref_map (Tensor): (C, H, W) one reference frame's map, or
                (F, C, H, W) F frames' maps (each searched on its own).

        Returns:
            Tensor: (n, C, h, w) weighted sums of the top-k points (of each
            frame: (F, n, C, h, w)).
        """
        if ref_map.dim() == 3:
            return self.most_similar_roi_align(roi_feats, ref_map[None])[0]
        n, c, h, w = roi_feats.shape
        cells = F.normalize(roi_feats.permute(0, 2, 3, 1).reshape(-1, c),
                            dim=1)  # (n*h*w, C), once for all frames
        points = ref_map.flatten(2).transpose(1, 2)  # (F, H*W, C)
        sim = torch.matmul(cells, F.normalize(points, dim=2).transpose(1, 2))
        k = min(self.num_most_similar_points, points.size(1))
        values, indices = sim.topk(k, dim=2)  # (F, n*h*w, k)
        weights = values.softmax(dim=2)
        frames = torch.arange(points.size(0), device=points.device)
        picked = points[frames[:, None, None], indices]  # (F, n*h*w, k, C)
        out = (picked * weights.unsqueeze(-1)).sum(dim=2)
        return out.view(-1, n, h, w, c).permute(0, 1, 4, 2, 3)

    def aggregate(self, roi_feats: Tensor, ref_roi_feats: Tensor) -> Tensor:
        """Temporal attentional feature aggregation.

        Args:
            roi_feats (Tensor): (n, C, h, w) key RoI features.
            ref_roi_feats (Tensor): (F, n, C, h, w) most similar features.

        Returns:
            Tensor: (n, C, h, w).
        """
        frames = torch.cat([roi_feats.unsqueeze(0), ref_roi_feats])
        if self.num_temporal_attention_blocks <= 0:
            return frames.mean(dim=0)
        t, n, c, h, w = frames.shape
        groups = self.num_temporal_attention_blocks
        embed = self.embed_network(frames.flatten(0, 1))
        embed = F.normalize(embed, dim=1).view(t, n, groups, -1, h, w)
        weights = (embed * embed[:1]).sum(dim=3, keepdim=True)
        weights = weights.softmax(dim=0)  # over frames
        frames = frames.view(t, n, groups, -1, h, w)
        return (frames * weights).sum(dim=0).view(n, c, h, w)
