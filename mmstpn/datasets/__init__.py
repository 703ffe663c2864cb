from .coco_vid import CocoVIDDataset
from .dataset_wrappers import VideoConcatDataset
from .imagenet_vid import (IMAGENET_VID_CLASSES, IMAGENET_VID_WNIDS,
                           ImagenetVIDDataset)
from .samplers import VideoFrameSampler
from .mot_challenge import CheckedMOTChallengeDataset
from .youtube_vis import CheckedYouTubeVISDataset
from .transforms import (CLIP_META_KEYS, SAMPLING_METHODS, ClipCorrupt,
                         PackClipInputs, PackTrackClipInputs,
                         RefSupportFrameSample, VideoSupportFrameSample,
                         SupportFrameSample)
from .video_json_checks import check_cocovid_json, check_youtube_vis_json

__all__ = [
    'CocoVIDDataset', 'ImagenetVIDDataset', 'VideoConcatDataset',
    'IMAGENET_VID_CLASSES', 'IMAGENET_VID_WNIDS', 'VideoFrameSampler',
    'CLIP_META_KEYS', 'SAMPLING_METHODS', 'PackClipInputs',
    'SupportFrameSample', 'RefSupportFrameSample', 'PackTrackClipInputs',
    'VideoSupportFrameSample', 'ClipCorrupt',
    'CheckedYouTubeVISDataset', 'CheckedMOTChallengeDataset',
    'check_cocovid_json',
    'check_youtube_vis_json'
]
