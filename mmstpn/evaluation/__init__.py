# Copyright (c) OpenMMLab. All rights reserved.
from .functional import (VIDAPEvaluator, YTVISevalCompat, compute_motion_ious,
                         got10k_metrics, mean_ap, motion_split_masks,
                         ope_metrics)
from .metrics import (DumpVideoDetResults, GOT10kMetric, VIDMetric,
                      YouTubeVISMetricNp2)

__all__ = [
    'DumpVideoDetResults', 'VIDMetric', 'VIDAPEvaluator',
    'compute_motion_ious', 'mean_ap', 'motion_split_masks',
    'YouTubeVISMetricNp2', 'YTVISevalCompat', 'GOT10kMetric',
    'got10k_metrics', 'ope_metrics'
]
