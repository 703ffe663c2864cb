from .non_finite_loss_hook import (NonFiniteLossError, NonFiniteLossHook,
                                   describe_items)
from .video_context_hook import VideoContextHook, support_samplers

__all__ = [
    'VideoContextHook', 'support_samplers', 'NonFiniteLossHook',
    'NonFiniteLossError', 'describe_items'
]
