from .clip_meta import ClipMeta, attach_clip_meta, get_clip_meta

__all__ = ['ClipMeta', 'attach_clip_meta', 'get_clip_meta']
