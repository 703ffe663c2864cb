from .video_context_hook import VideoContextHook, support_samplers

__all__ = ['VideoContextHook', 'support_samplers']
