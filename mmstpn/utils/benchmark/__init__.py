"""Speed / cost benchmark helpers (used by
``tools/analysis_tools/benchmark.py``). Import by full path:
``from mmstpn.utils.benchmark import run_benchmark``."""
from .bench import (BenchSettings, compute_ratios, count_params,
                    run_benchmark, share_weights)
from .flops import COUNTING_RULES, count_flops, flop_handles, sdpa_flops
from .memory import PeakMemory
from .report import format_report, write_json
from .stats import (GOALS, check_goals, offline_latency, percentile,
                    phase_latency, ratio, summarize)
from .timing import Timer, alternating
from .video import FrameStream, SyntheticVideo, support_indices, uses_prompts

__all__ = [
    'BenchSettings', 'run_benchmark', 'compute_ratios', 'count_params',
    'share_weights', 'COUNTING_RULES', 'count_flops', 'flop_handles',
    'sdpa_flops', 'PeakMemory', 'format_report', 'write_json', 'GOALS',
    'check_goals', 'offline_latency', 'percentile', 'phase_latency', 'ratio',
    'summarize', 'Timer', 'alternating', 'FrameStream', 'SyntheticVideo',
    'support_indices', 'uses_prompts'
]
