from .attention import AttentionDVPPredictor
from .average import AverageDVPPredictor
from .base import BaseDVPPredictor
from .mixer import MixerDVPPredictor

__all__ = [
    'BaseDVPPredictor', 'AttentionDVPPredictor', 'AverageDVPPredictor',
    'MixerDVPPredictor'
]
