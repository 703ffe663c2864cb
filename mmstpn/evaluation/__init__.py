# Copyright (c) OpenMMLab. All rights reserved.
from .functional import (VIDAPEvaluator, compute_motion_ious, mean_ap,
                         motion_split_masks, YTVISevalCompat)
from .metrics import DumpVideoDetResults, VIDMetric, YouTubeVISMetricNp2

__all__ = [
    'DumpVideoDetResults', 'VIDMetric', 'VIDAPEvaluator',
    'compute_motion_ious', 'mean_ap', 'motion_split_masks',
    'YouTubeVISMetricNp2', 'YTVISevalCompat'
]
