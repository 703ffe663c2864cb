from .coco_vid import CocoVIDDataset
from .dataset_wrappers import VideoConcatDataset
from .got10k import GOT10kDataset
from .lasot import LaSOTDataset
from .imagenet_vid import (IMAGENET_VID_CLASSES, IMAGENET_VID_WNIDS,
                           ImagenetVIDDataset)
from .samplers import VideoFrameSampler
from .transforms import (CLIP_META_KEYS, SAMPLING_METHODS, ClipCorrupt,
                         PackClipInputs, SOTCropRegion, SOTPairSample,
                         SupportFrameSample)

__all__ = [
    'CocoVIDDataset', 'ImagenetVIDDataset', 'VideoConcatDataset',
    'IMAGENET_VID_CLASSES', 'IMAGENET_VID_WNIDS', 'VideoFrameSampler',
    'CLIP_META_KEYS', 'SAMPLING_METHODS', 'PackClipInputs',
    'SupportFrameSample', 'ClipCorrupt', 'GOT10kDataset', 'SOTPairSample',
    'SOTCropRegion', 'LaSOTDataset'
]
