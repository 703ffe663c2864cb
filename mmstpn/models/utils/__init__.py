from .compile import CompiledMethods, canonical, compile_options
from .record import recorded_outputs

__all__ = [
    'CompiledMethods', 'canonical', 'compile_options', 'recorded_outputs'
]
