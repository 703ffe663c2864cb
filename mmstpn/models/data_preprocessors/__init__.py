from .sot_data_preprocessor import SOTDataPreprocessor
from .video_det_data_preprocessor import VideoDetDataPreprocessor

__all__ = ['VideoDetDataPreprocessor', 'SOTDataPreprocessor']
