"""Per-frame latency estimators of the STPN test modes and the cost goals
of the benchmark (pure Python on lists of seconds; the generic statistics are
:mod:`mmstpn.utils.benchmark`)."""
from typing import Dict, List, Optional, Sequence

from mmstpn.utils.benchmark import median


def amortized_latency(first: float, steady: float, length: int) -> float:
    """Per-frame latency of a video of ``length`` frames whose frame 0 costs
    ``first`` and every later frame ``steady`` (offline mode: frame 0 also
    computes the video's prompts from its K support frames)."""
    if length < 1:
        raise ValueError(f'video length must be >= 1, got {length}')
    return (first + (length - 1) * steady) / length


def offline_latency(frame_times: Sequence[float], length: int) -> float:
    """Robust per-frame latency of an offline video from the measured times
    of its first ``len(frame_times)`` frames: frame 0 as measured, every
    later frame at the median of the measured later frames. Equal to the
    plain mean when all later frames take the same time; with fewer
    measured frames than ``length`` the rest is extrapolated."""
    if not len(frame_times):
        raise ValueError('no frame times')
    if len(frame_times) == 1:
        return amortized_latency(frame_times[0], frame_times[0], length)
    return amortized_latency(frame_times[0], median(frame_times[1:]), length)


def phase_latency(frame_times: Sequence[float], stride: int) -> float:
    """Robust per-frame latency of a stream with a period of ``stride``
    frames (online mode: every ``stride``-th frame also runs its unprompted
    support pass): the mean over the phases ``t % stride`` of the median
    time of the frames of that phase. Phases that were not measured are
    left out."""
    if not len(frame_times):
        raise ValueError('no frame times')
    if stride < 1:
        raise ValueError(f'stride must be >= 1, got {stride}')
    phases = [list(frame_times[p::stride]) for p in range(stride)]
    meds = [median(p) for p in phases if p]
    return sum(meds) / len(meds)


# Cost goals (ratios STPN / baseline on the same backbone, input size and
# machine, in one run; see docs/tools.md).
GOALS = (
    dict(
        key='offline_latency@317',
        limit=1.10,
        text='offline per-frame latency, L=317, K=14, prompts included'),
    dict(
        key='online_latency',
        limit=1.35,
        text='online per-frame latency, S=4'),
    dict(key='train_step_time', limit=1.70, text='training step time, K=2'),
    dict(
        key='train_peak_memory',
        limit=1.25,
        text='peak training memory, K=2'),
    dict(
        key='offline_peak_memory',
        limit=1.25,
        text='offline peak inference memory, frame 0 with K support '
        'frames'),
    dict(
        key='backbone_operator_calls',
        limit=1.10,
        text='backbone aten operator calls, one pass'),
)


def check_goals(ratios: Dict[str, Optional[float]],
                goals: Sequence[dict] = GOALS) -> List[dict]:
    """PASS/FAIL (or n/a when the ratio was not measured) of each goal."""
    out = []
    for goal in goals:
        value = ratios.get(goal['key'])
        status = 'n/a' if value is None else (
            'PASS' if value <= goal['limit'] else 'FAIL')
        out.append(dict(goal, ratio=value, status=status))
    return out
