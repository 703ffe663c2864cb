"""Synthetic video data sets (no download needed)."""
from .deteriorated_vid import (DETERIORATION_KINDS, MOTION_THRS,
                               TEXTURE_CLASSES, generate_deteriorated_vid,
                               generate_split, motion_ious,
                               motion_split_names, render_texture)

__all__ = [
    'DETERIORATION_KINDS', 'MOTION_THRS', 'TEXTURE_CLASSES',
    'generate_deteriorated_vid', 'generate_split', 'motion_ious',
    'motion_split_names', 'render_texture'
]
