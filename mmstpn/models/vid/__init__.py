"""Video object detection (ImageNet VID) modules: SELSA and Temporal RoI
Align."""
from .mmtrack_compat import (MMTRACK_VID_PREFIX,
                             convert_mmtrack_vid_state_dict)
from .selsa import SELSA, unpack_clips
from .selsa_aggregator import SelsaAggregator
from .selsa_bbox_head import SelsaBBoxHead
from .selsa_roi_head import SelsaRoIHead
from .temporal_roi_align import TemporalRoIAlign

__all__ = [
    'MMTRACK_VID_PREFIX', 'convert_mmtrack_vid_state_dict',
    'SelsaAggregator', 'SelsaBBoxHead',
    'SELSA', 'unpack_clips', 'SelsaRoIHead', 'TemporalRoIAlign'
]
