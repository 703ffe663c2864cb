# Copyright (c) OpenMMLab. All rights reserved.
from .dump_video_det_results import DumpVideoDetResults
from .vid_metric import VIDMetric
from .youtube_vis_metric import YouTubeVISMetricNp2

__all__ = ['DumpVideoDetResults', 'VIDMetric', 'YouTubeVISMetricNp2']
