from .frame_view import FrameClipBatch, TrackClipsFrameView, frame_view
from .stpn_bytetrack import DetectorTrackerMixin, STPNByteTrack, STPNOCSORT
from .stpn_qdtrack import STPNQDTrack
from .stpn_sort import KeyFrameTracker, STPNDeepSORT, STPNStrongSORT

__all__ = [
    'STPNQDTrack', 'STPNByteTrack', 'STPNOCSORT', 'STPNDeepSORT',
    'STPNStrongSORT', 'KeyFrameTracker', 'DetectorTrackerMixin',
    'TrackClipsFrameView', 'FrameClipBatch', 'frame_view'
]
