# Copyright (c) OpenMMLab. All rights reserved.
from .dump_video_det_results import DumpVideoDetResults
from .vid_metric import VIDMetric

__all__ = ['DumpVideoDetResults', 'VIDMetric']
