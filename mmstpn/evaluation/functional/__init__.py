# Copyright (c) OpenMMLab. All rights reserved.
from .got10k_eval import (GOT10K_IOU_THRS, OPE_CE_THRS, OPE_IOU_THRS,
                          OPE_NORM_PRECISION_AT, OPE_NORM_THRS,
                          TRACKINGNET_CE_THRS, TRACKINGNET_IOU_THRS,
                          TRACKINGNET_NORM_THRS, TRACKINGNET_X,
                          box_iou_xywh, center_errors,
                          got10k_clip_boxes,
                          got10k_metrics, got10k_pooled_ious,
                          got10k_sequence_ious, got10k_speed,
                          normalized_center_errors, ope_metrics,
                          success_curve, trackingnet_metrics)
from .vid_eval import (RECALL_THRS, VIDAPEvaluator, compute_motion_ious,
                       mean_ap, motion_split_masks, vid_devkit_ap,
                       vid_devkit_iou_thrs)
from .ytvis_compat import YTVISevalCompat

__all__ = [
    'RECALL_THRS', 'VIDAPEvaluator', 'compute_motion_ious', 'mean_ap',
    'motion_split_masks', 'vid_devkit_ap', 'vid_devkit_iou_thrs',
    'YTVISevalCompat', 'GOT10K_IOU_THRS',
    'OPE_IOU_THRS', 'OPE_CE_THRS', 'OPE_NORM_THRS', 'OPE_NORM_PRECISION_AT',
    'TRACKINGNET_IOU_THRS', 'TRACKINGNET_CE_THRS', 'TRACKINGNET_NORM_THRS',
    'TRACKINGNET_X', 'trackingnet_metrics',
    'normalized_center_errors',
    'box_iou_xywh', 'center_errors', 'got10k_clip_boxes', 'got10k_metrics',
    'got10k_pooled_ious', 'got10k_sequence_ious', 'got10k_speed',
    'ope_metrics', 'success_curve'
]
