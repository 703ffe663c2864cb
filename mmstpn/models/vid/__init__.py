"""Video object detection (ImageNet VID) modules: SELSA and Temporal RoI
Align."""
from .selsa_aggregator import SelsaAggregator
from .selsa_bbox_head import SelsaBBoxHead
from .selsa_roi_head import SelsaRoIHead
from .temporal_roi_align import TemporalRoIAlign

__all__ = [
    'SelsaAggregator', 'SelsaBBoxHead', 'SelsaRoIHead', 'TemporalRoIAlign'
]
