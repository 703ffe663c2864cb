from .checkpoint_compat import (mmengine_safe_globals,
                                register_mmengine_safe_globals)
from .checkpoint_io import (CheckpointLoadError, CheckpointMismatchError,
                            CheckpointReadError, checkpoint_dataset_meta,
                            load_checkpoint_strict,
                            load_state_dict_checked, read_checkpoint)
from .checkpoint_upgrade import upgrade_state_dict
from .config_scope import register_config_scope
from .launch import (apply_tta, build_runner, enable_visualization,
                     merge_cli_args, setup_distributed)
from .run_env import load_average, run_environment

__all__ = [
    'mmengine_safe_globals', 'register_mmengine_safe_globals',
    'merge_cli_args', 'setup_distributed', 'build_runner', 'apply_tta',
    'enable_visualization', 'load_checkpoint_strict',
    'load_state_dict_checked', 'read_checkpoint', 'CheckpointLoadError',
    'CheckpointReadError', 'CheckpointMismatchError',
    'checkpoint_dataset_meta', 'upgrade_state_dict', 'register_config_scope',
    'run_environment', 'load_average'
]
