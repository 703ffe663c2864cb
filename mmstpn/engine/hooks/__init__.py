from .video_context_hook import (VideoContextHook, model_policy,
                                 stpn_backbones, support_samplers)

__all__ = [
    'VideoContextHook', 'model_policy', 'stpn_backbones', 'support_samplers'
]
