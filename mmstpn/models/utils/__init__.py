from .compile import CompiledMethods, canonical, compile_options

__all__ = ['CompiledMethods', 'canonical', 'compile_options']
