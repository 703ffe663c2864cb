from .clip_batch import BackboneInput, ClipBatch, ClipMeta, as_clip_batch
from .support_policy import SUPPORT_MODES, SupportPolicy
from .track_clips import TrackClips

__all__ = [
    'ClipMeta', 'ClipBatch', 'BackboneInput', 'as_clip_batch',
    'SupportPolicy', 'SUPPORT_MODES', 'TrackClips'
]
