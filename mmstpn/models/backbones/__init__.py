from .stpn_base import STPNBackboneMixin, stpn_backbones
from .stpn_one_stream_vit import STPNOneStreamViT
from .stpn_swin import STPNSwin
from .stpn_vit import STPNViT

__all__ = [
    'STPNBackboneMixin', 'STPNOneStreamViT', 'STPNSwin', 'STPNViT',
    'stpn_backbones'
]
