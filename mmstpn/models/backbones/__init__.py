from .stpn_base import STPNBackboneMixin, stpn_backbones
from .stpn_swin import STPNSwin
from .stpn_vit import STPNViT

__all__ = ['STPNBackboneMixin', 'STPNSwin', 'STPNViT', 'stpn_backbones']
