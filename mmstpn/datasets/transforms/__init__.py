from .corruption import (CLIP_CORRUPT_TARGETS, CORRUPTION_GROUPS, CORRUPTIONS,
                         ClipCorrupt, resolve_corruptions)
from .formatting import CLIP_META_KEYS, PackClipInputs
from .frame_sampling import SAMPLING_METHODS, SupportFrameSample
from .loading import CheckedLoadImageFromFile
from .ref_support_sampling import RefSupportFrameSample
from .sot_crop import SOTCropRegion, crop_square
from .sot_formatting import SOT_META_KEYS, PackSOTInputs
from .sot_sampling import SOT_ROLES, SOTPairSample
from .track_clip_formatting import PackTrackClipInputs
from .video_support_sampling import VideoSupportFrameSample

__all__ = [
    'CLIP_META_KEYS', 'PackClipInputs', 'SAMPLING_METHODS',
    'SupportFrameSample', 'RefSupportFrameSample', 'PackTrackClipInputs',
    'VideoSupportFrameSample', 'ClipCorrupt',
    'CLIP_CORRUPT_TARGETS', 'CORRUPTIONS', 'CORRUPTION_GROUPS',
    'resolve_corruptions', 'SOTCropRegion', 'crop_square', 'SOT_ROLES',
    'SOTPairSample', 'PackSOTInputs', 'SOT_META_KEYS',
    'CheckedLoadImageFromFile'
]
