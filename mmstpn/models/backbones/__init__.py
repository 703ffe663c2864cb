from .stpn_base import STPNBackboneMixin
from .stpn_one_stream_vit import STPNOneStreamViT
from .stpn_swin import STPNSwin
from .stpn_vit import STPNViT
from .support_cache import SupportCache

__all__ = [
    'STPNBackboneMixin', 'STPNOneStreamViT', 'STPNSwin', 'STPNViT',
    'SupportCache'
]
