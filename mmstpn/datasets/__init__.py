from .coco_vid import CocoVIDDataset
from .dataset_wrappers import VideoConcatDataset
from .got10k import GOT10kDataset
from .imagenet_vid import (IMAGENET_VID_CLASSES, IMAGENET_VID_WNIDS,
                           ImagenetVIDDataset)
from .lasot import LaSOTDataset
from .mot_challenge import CheckedMOTChallengeDataset
from .samplers import VideoFrameSampler
from .trackingnet import TrackingNetDataset
from .transforms import (CLIP_META_KEYS, SAMPLING_METHODS, ClipCorrupt,
                         PackClipInputs, PackTrackClipInputs,
                         RefSupportFrameSample, SOTCropRegion, SOTPairSample,
                         SupportFrameSample, VideoSupportFrameSample)
from .video_json_checks import check_cocovid_json, check_youtube_vis_json
from .youtube_vis import CheckedYouTubeVISDataset

__all__ = [
    'CocoVIDDataset', 'ImagenetVIDDataset', 'VideoConcatDataset',
    'IMAGENET_VID_CLASSES', 'IMAGENET_VID_WNIDS', 'VideoFrameSampler',
    'CLIP_META_KEYS', 'SAMPLING_METHODS', 'PackClipInputs',
    'SupportFrameSample', 'RefSupportFrameSample', 'PackTrackClipInputs',
    'VideoSupportFrameSample', 'ClipCorrupt',
    'CheckedYouTubeVISDataset', 'CheckedMOTChallengeDataset',
    'check_cocovid_json', 'check_youtube_vis_json', 'GOT10kDataset',
    'SOTPairSample', 'SOTCropRegion', 'LaSOTDataset', 'TrackingNetDataset'
]
