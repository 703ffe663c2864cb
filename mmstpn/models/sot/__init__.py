from .center_head import TrackCenterHead, hann2d
from .crop import clip_box, crop_resize, square_region
from .one_stream_tracker import OneStreamTracker, TrackState
from .prompt_supervised_tracker import PromptSupervisedOneStreamTracker

__all__ = [
    'TrackCenterHead', 'hann2d', 'OneStreamTracker', 'TrackState',
    'PromptSupervisedOneStreamTracker',
    'square_region', 'crop_resize', 'clip_box'
]
