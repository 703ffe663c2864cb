# Copyright (c) OpenMMLab. All rights reserved.
from .vid_eval import (RECALL_THRS, VIDAPEvaluator, compute_motion_ious,
                       mean_ap, motion_split_masks)
from .ytvis_compat import YTVISevalCompat

__all__ = [
    'RECALL_THRS', 'VIDAPEvaluator', 'compute_motion_ious', 'mean_ap',
    'motion_split_masks', 'YTVISevalCompat'
]
