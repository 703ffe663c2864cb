from .minvis import MinVIS
from .prompt_supervised_masktrack import PromptSupervisedMaskTrackRCNN
from .prompt_supervised_vis import (PromptSupervisedMask2FormerVideo,
                                    PromptSupervisedMinVIS)
from .query_linking import QueryTrackState, match_queries
from .stpn_mask2former_vis import STPNMask2FormerVideo
from .stpn_masktrack_rcnn import STPNMaskTrackRCNN
from .video_clip_view import TrackClipsVideoView

__all__ = [
    'STPNMaskTrackRCNN', 'PromptSupervisedMaskTrackRCNN',
    'STPNMask2FormerVideo', 'MinVIS', 'QueryTrackState', 'match_queries',
    'TrackClipsVideoView', 'PromptSupervisedMinVIS',
    'PromptSupervisedMask2FormerVideo'
]
