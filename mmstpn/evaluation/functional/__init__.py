# Copyright (c) OpenMMLab. All rights reserved.
from .got10k_eval import (GOT10K_IOU_THRS, OPE_CE_THRS, OPE_IOU_THRS,
                          OPE_NORM_THRS, box_iou_xywh, center_errors,
                          got10k_clip_boxes,
                          got10k_metrics, got10k_pooled_ious,
                          got10k_sequence_ious, got10k_speed,
                          normalized_center_errors, ope_metrics,
                          success_curve)
from .vid_eval import (RECALL_THRS, VIDAPEvaluator, compute_motion_ious,
                       mean_ap, motion_split_masks)
from .ytvis_compat import YTVISevalCompat

__all__ = [
    'RECALL_THRS', 'VIDAPEvaluator', 'compute_motion_ious', 'mean_ap',
    'motion_split_masks', 'YTVISevalCompat', 'GOT10K_IOU_THRS',
    'OPE_IOU_THRS', 'OPE_CE_THRS', 'OPE_NORM_THRS',
    'normalized_center_errors',
    'box_iou_xywh', 'center_errors', 'got10k_clip_boxes', 'got10k_metrics',
    'got10k_pooled_ious', 'got10k_sequence_ious', 'got10k_speed',
    'ope_metrics', 'success_curve'
]
