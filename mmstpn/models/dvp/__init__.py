from .attention import AttentionDVPPredictor
from .average import AverageDVPPredictor
from .base import BaseDVPPredictor
from .mixer import MixerDVPPredictor
from .prompt_generator import PromptGenerator

__all__ = [
    'BaseDVPPredictor', 'AttentionDVPPredictor', 'AverageDVPPredictor',
    'MixerDVPPredictor', 'PromptGenerator'
]
