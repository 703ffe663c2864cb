from .strict_checkpoint_runner import StrictCheckpointRunner

__all__ = ['StrictCheckpointRunner']
