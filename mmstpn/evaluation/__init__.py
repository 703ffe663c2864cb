# Copyright (c) OpenMMLab. All rights reserved.
from .functional import (VIDAPEvaluator, compute_motion_ious, got10k_metrics,
                         mean_ap, motion_split_masks, ope_metrics)
from .metrics import DumpVideoDetResults, GOT10kMetric, VIDMetric

__all__ = [
    'DumpVideoDetResults', 'VIDMetric', 'VIDAPEvaluator',
    'compute_motion_ious', 'mean_ap', 'motion_split_masks', 'GOT10kMetric',
    'got10k_metrics', 'ope_metrics'
]
