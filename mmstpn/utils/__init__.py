from .checkpoint_compat import (mmengine_safe_globals,
                                register_mmengine_safe_globals)
from .config_scope import register_config_scope
from .launch import (apply_tta, build_runner, enable_visualization,
                     merge_cli_args, setup_distributed)

__all__ = [
    'mmengine_safe_globals', 'register_mmengine_safe_globals',
    'merge_cli_args', 'setup_distributed', 'build_runner', 'apply_tta',
    'enable_visualization', 'register_config_scope'
]
