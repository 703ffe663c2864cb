# Copyright (c) OpenMMLab. All rights reserved.
from .dump_video_det_results import DumpVideoDetResults
from .got10k_metric import GOT10kMetric
from .vid_metric import VIDMetric
from .youtube_vis_metric import YouTubeVISMetricNp2

__all__ = [
    'DumpVideoDetResults', 'GOT10kMetric', 'VIDMetric', 'YouTubeVISMetricNp2'
]
