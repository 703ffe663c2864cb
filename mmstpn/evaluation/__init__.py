# Copyright (c) OpenMMLab. All rights reserved.
from .functional import (VIDAPEvaluator, compute_motion_ious, mean_ap,
                         motion_split_masks)
from .metrics import DumpVideoDetResults, VIDMetric

__all__ = [
    'DumpVideoDetResults', 'VIDMetric', 'VIDAPEvaluator',
    'compute_motion_ious', 'mean_ap', 'motion_split_masks'
]
