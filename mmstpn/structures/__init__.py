from .clip_batch import BackboneInput, ClipBatch, ClipMeta, as_clip_batch
from .support_policy import SUPPORT_MODES, SupportPolicy
from .track_clips import TrackClips
from .video_context import (VideoContext, VideoState, find_video_context,
                            get_video_context, set_test_policy)

__all__ = [
    'ClipMeta', 'ClipBatch', 'BackboneInput', 'as_clip_batch',
    'SupportPolicy', 'SUPPORT_MODES', 'TrackClips', 'VideoContext',
    'VideoState', 'get_video_context', 'find_video_context', 'set_test_policy'
]
