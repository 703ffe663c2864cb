from .video_det_data_preprocessor import VideoDetDataPreprocessor

__all__ = ['VideoDetDataPreprocessor']
