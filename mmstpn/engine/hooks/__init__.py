from .non_finite_loss_hook import (NonFiniteLossError, NonFiniteLossHook,
                                   describe_items)
from .video_context_hook import (VideoContextHook, model_policy,
                                 stpn_backbones, support_samplers,
                                 video_context_modules)

__all__ = [
    'VideoContextHook', 'model_policy', 'stpn_backbones', 'support_samplers',
    'video_context_modules', 'NonFiniteLossHook', 'NonFiniteLossError',
    'describe_items'
]
