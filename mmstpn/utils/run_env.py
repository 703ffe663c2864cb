"""Where a run ran: library versions, CPU, threads and load, as one dict to
store next to a run's results (so that a difference between two machines'
figures can be read from the results themselves)."""
import importlib
import os
import platform
import sys
from typing import Dict, List, Mapping, Optional

__all__ = ['run_environment', 'load_average', 'BLAS_CPU_FLAGS']

#: the ``/proc/cpuinfo`` flags that decide which SIMD kernels BLAS, oneDNN
#: and ATen pick (recorded when the CPU has them)
BLAS_CPU_FLAGS = ('sse4_1', 'sse4_2', 'avx', 'avx2', 'fma', 'f16c',
                  'avx512f', 'avx512dq', 'avx512bw', 'avx512vl',
                  'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_tile',
                  'amx_bf16', 'amx_int8', 'neon', 'asimd', 'sve')
#: libraries whose versions are recorded (module name)
LIBRARIES = ('torch', 'numpy', 'mmcv', 'mmdet', 'mmengine', 'mmstpn')
#: the keys of a worker's environment kept in ``workers`` (what can differ
#: between the processes of one run)
PER_PROCESS = ('threads', 'load_1min')


def load_average() -> Optional[float]:
    """The 1-minute load average of the machine (None where the platform
    has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _versions() -> Dict[str, Optional[str]]:
    out = {'python': platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            out[name] = None
    return out


def _cpuinfo(path: str = '/proc/cpuinfo') -> Dict[str, object]:
    """Model name and the BLAS-relevant flags of the first processor in
    ``path`` (Linux); the platform's processor string and no flags
    elsewhere."""
    model, flags = None, None
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key in ('model name', 'Model') and model is None:
                    model = value.strip()
                elif key in ('flags', 'Features') and flags is None:
                    present = set(value.split())
                    flags = [f for f in BLAS_CPU_FLAGS if f in present]
                if model is not None and flags is not None:
                    break
    except OSError:
        pass
    return dict(model=model or platform.processor() or None, flags=flags)


def _parallel_info(text: str) -> List[str]:
    """The summary lines of ``torch.__config__.parallel_info()``: the
    libraries (OpenMP, MKL, oneDNN versions), the hardware concurrency and
    the parallel backend, without the indented per-library thread counts
    and the section headers."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line[0].isspace()
            and not line.rstrip().endswith(':')]


def _threads() -> Dict[str, object]:
    out: Dict[str, object] = {
        var: os.environ.get(var) for var in ('OMP_NUM_THREADS',
                                             'MKL_NUM_THREADS')
    }
    torch = sys.modules.get('torch') or importlib.import_module('torch')
    out.update(
        torch=torch.get_num_threads(),
        torch_interop=torch.get_num_interop_threads(),
        parallel_info=_parallel_info(torch.__config__.parallel_info()),
        cpu_capability=torch.backends.cpu.get_cpu_capability())
    return out


def run_environment(load_at_start: Optional[float] = None,
                    workers: Optional[Mapping[str, dict]] = None) -> dict:
    """Where this process runs, as a json-able dict.

    Args:
        load_at_start (float, optional): the 1-minute load average when the
            run started (:func:`load_average` then); default: now.
        workers (Mapping[str, dict], optional): the
            :func:`run_environment` of each worker process of the run, by
            name; their thread settings and loads are kept under
            ``workers`` (the rest is this machine's, recorded once).

    Returns:
        dict: ``versions`` (python, torch, numpy, mmcv, mmdet, mmengine,
        mmstpn; None for a library that is not installed), ``platform``,
        ``cpu`` (``model``, the BLAS-relevant ``flags`` of
        ``/proc/cpuinfo`` among :data:`BLAS_CPU_FLAGS` (None where there is
        no such file), ``count`` = ``os.cpu_count()``, ``usable`` = the
        cores this process may run on), ``threads`` (torch's intra- and
        inter-op thread counts, the summary lines of
        ``torch.__config__.parallel_info()``, ATen's CPU capability,
        ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``), ``load_1min``
        (``start``, ``end``: the 1-minute load average) and, when given,
        ``workers``.
    """
    cpu = _cpuinfo()
    cpu['count'] = os.cpu_count()
    try:
        cpu['usable'] = len(os.sched_getaffinity(0))
    except AttributeError:
        cpu['usable'] = cpu['count']
    now = load_average()
    out = dict(
        versions=_versions(),
        platform=platform.platform(),
        cpu=cpu,
        threads=_threads(),
        load_1min=dict(start=now if load_at_start is None else load_at_start,
                       end=now))
    if workers is not None:
        out['workers'] = {
            name: {k: env[k] for k in PER_PROCESS if k in env}
            for name, env in workers.items()
        }
    return out
