from .formatting import CLIP_META_KEYS, PackClipInputs
from .frame_sampling import SAMPLING_METHODS, SupportFrameSample

__all__ = [
    'CLIP_META_KEYS', 'PackClipInputs', 'SAMPLING_METHODS',
    'SupportFrameSample'
]
