"""What ``tools/analysis_tools/test_robustness.py`` is built from: config
surgery (:mod:`.pipeline`), sweep parsing (:mod:`.sweep`), the one result
store (:mod:`.results`), tables (:mod:`.tables`) and plots (:mod:`.plots`)."""
from .pipeline import (CLEAN, CORRUPT_STAGES, SUPPORT_KEYS,
                       apply_support_setting, effective_target, find_sampler,
                       innermost_test_dataset, insert_clip_corrupt,
                       support_mode, support_settings, type_name,
                       with_test_pipeline)
from .results import DEFAULT_METRIC, RobustnessResults, get_metric
from .sweep import (parse_sweep, parse_sweep_checkpoints, setting_label,
                    split_setting, sweep_settings)

__all__ = [
    'CLEAN', 'CORRUPT_STAGES', 'SUPPORT_KEYS', 'apply_support_setting',
    'effective_target', 'find_sampler', 'innermost_test_dataset',
    'insert_clip_corrupt', 'support_mode', 'support_settings', 'type_name',
    'with_test_pipeline', 'DEFAULT_METRIC', 'RobustnessResults',
    'get_metric', 'parse_sweep', 'parse_sweep_checkpoints', 'setting_label',
    'split_setting', 'sweep_settings'
]
