# Copyright (c) OpenMMLab. All rights reserved.
from .vid_metric import VIDMetric

__all__ = ['VIDMetric']
