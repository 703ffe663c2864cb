from .frame_view import FrameClipBatch, TrackClipsFrameView, frame_view
from .stpn_bytetrack import STPNByteTrack
from .stpn_qdtrack import STPNQDTrack

__all__ = [
    'STPNQDTrack', 'STPNByteTrack', 'TrackClipsFrameView', 'FrameClipBatch',
    'frame_view'
]
