from .prompt_supervised_masktrack import PromptSupervisedMaskTrackRCNN
from .stpn_masktrack_rcnn import STPNMaskTrackRCNN

__all__ = ['STPNMaskTrackRCNN', 'PromptSupervisedMaskTrackRCNN']
