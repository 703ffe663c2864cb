# Copyright (c) OpenMMLab. All rights reserved.
from .functional import (VIDAPEvaluator, compute_motion_ious, mean_ap,
                         motion_split_masks)
from .metrics import VIDMetric

__all__ = [
    'VIDMetric', 'VIDAPEvaluator', 'compute_motion_ious', 'mean_ap',
    'motion_split_masks'
]
