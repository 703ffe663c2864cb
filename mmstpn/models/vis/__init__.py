from .stpn_masktrack_rcnn import STPNMaskTrackRCNN

__all__ = ['STPNMaskTrackRCNN']
