from .sot_data_preprocessor import SOTDataPreprocessor
from .track_clip_data_preprocessor import TrackClipDataPreprocessor
from .video_det_data_preprocessor import VideoDetDataPreprocessor

__all__ = [
    'VideoDetDataPreprocessor', 'TrackClipDataPreprocessor',
    'SOTDataPreprocessor'
]
