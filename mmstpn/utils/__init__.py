from .checkpoint_compat import (mmengine_safe_globals,
                                register_mmengine_safe_globals)

__all__ = ['mmengine_safe_globals', 'register_mmengine_safe_globals']
