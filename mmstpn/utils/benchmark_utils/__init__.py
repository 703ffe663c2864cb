"""The benchmark procedure behind ``tools/analysis_tools/benchmark.py``
(synthetic video streams, the measured phases, ratios, goals and the
report)."""
from .estimators import (GOALS, amortized_latency, check_goals,
                         offline_latency, phase_latency)
from .measure import BenchSettings, measure_flops, offline_plans
from .report import format_report, write_json
from .run import (compute_ratios, count_params, latency_vs_baseline,
                  run_benchmark, share_weights)
from .video import (FrameStream, SyntheticVideo, cached_embeddings,
                    frame_inputs, prefill_online_cache, reset_video_cache,
                    support_indices, uses_prompts, uses_references)

__all__ = [
    'GOALS', 'amortized_latency', 'check_goals', 'offline_latency',
    'phase_latency', 'BenchSettings', 'measure_flops', 'offline_plans',
    'format_report', 'write_json', 'compute_ratios', 'count_params',
    'run_benchmark', 'share_weights', 'FrameStream', 'SyntheticVideo',
    'cached_embeddings', 'frame_inputs', 'prefill_online_cache',
    'reset_video_cache', 'support_indices', 'uses_prompts',
    'uses_references', 'latency_vs_baseline'
]
