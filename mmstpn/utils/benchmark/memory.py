"""Peak memory of a region of code, on CUDA and on CPU (Linux).

CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``,
minus what was allocated when the region started: the peak of the tensors
the region itself allocated (activations, workspaces, gradients...).

CPU: Python's ``tracemalloc`` does not see torch's allocations, so the
resident set size of the process is used. Before the region the freed heap
memory is returned to the OS (glibc ``malloc_trim(0)``) and the kernel's
peak-RSS mark is reset (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0);
after it the peak (``VmHWM``) minus the resident size at the start is the
region's peak extra resident memory. This counts every page the process
touched (torch's tensors, the allocator's slack, Python objects), so it is
an upper bound of the tensor memory, and only regions measured one at a time
are comparable (not under alternation). When the reset is not possible
(not Linux, no permission) the measurement is reported as unavailable.

The peak of a model is then reported as its resident state (parameters,
buffers, and for training the optimizer state) plus the region's peak extra
memory, so that two models held in one process are compared fairly.
"""
import ctypes
import ctypes.util
import gc
import re
from typing import Iterable, Optional, Union

import torch
from torch import nn

_STATUS = '/proc/self/status'
_CLEAR_REFS = '/proc/self/clear_refs'


def _status_kib(field: str) -> Optional[int]:
    try:
        with open(_STATUS) as f:
            match = re.search(rf'^{field}:\s+(\d+)\s+kB', f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _malloc_trim() -> None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    try:
        with open(_CLEAR_REFS, 'w') as f:
            f.write('5')
    except OSError:
        return False
    return True


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes held by ``tensors`` (each storage counted once)."""
    seen, total = set(), 0
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            continue
        key = (t.untyped_storage().data_ptr(), t.device)
        if key in seen:
            continue
        seen.add(key)
        total += t.untyped_storage().nbytes()
    return total


def module_state_bytes(model: nn.Module) -> int:
    """Bytes of a model's parameters and buffers."""
    return tensor_bytes(list(model.parameters()) + list(model.buffers()))


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of an optimizer's state tensors (e.g. Adam moments)."""
    return tensor_bytes(v for state in optimizer.state.values()
                        for v in state.values())


class PeakMemory:
    """Peak extra memory of a region (see the module docstring).

    Example:
        >>> with PeakMemory('cpu') as mem:
        ...     run()
        >>> mem.peak_bytes  # None when unavailable; mem.reason says why
    """

    def __init__(self, device: Union[str, torch.device] = 'cpu') -> None:
        self.device = torch.device(device)
        self.peak_bytes: Optional[int] = None
        self.reason = ''
        self._base = 0
        self._ok = False

    @property
    def method(self) -> str:
        """How the peak is measured, in words."""
        if self.device.type == 'cuda':
            return ('torch.cuda.max_memory_allocated - memory_allocated at '
                    'the start')
        return ('peak RSS (VmHWM after malloc_trim + clear_refs reset) - '
                'RSS at the start')

    def __enter__(self) -> 'PeakMemory':
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            self._ok = True
            return self
        _malloc_trim()
        self._ok = _reset_peak_rss()
        rss = _status_kib('VmRSS')
        if not self._ok or rss is None:
            self._ok = False
            self.reason = ('cannot reset the peak RSS (needs Linux >= 4.0 '
                           'and a writable /proc/self/clear_refs)')
        else:
            self._base = rss * 1024
        return self

    def __exit__(self, *exc) -> None:
        if not self._ok:
            return
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            hwm = _status_kib('VmHWM')
            if hwm is None:
                self.reason = 'VmHWM not readable'
                return
            peak = hwm * 1024
        self.peak_bytes = max(0, peak - self._base)
