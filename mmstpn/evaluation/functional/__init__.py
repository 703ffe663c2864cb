# Copyright (c) OpenMMLab. All rights reserved.
from .vid_eval import (RECALL_THRS, VIDAPEvaluator, compute_motion_ious,
                       mean_ap, motion_split_masks)

__all__ = [
    'RECALL_THRS', 'VIDAPEvaluator', 'compute_motion_ious', 'mean_ap',
    'motion_split_masks'
]
