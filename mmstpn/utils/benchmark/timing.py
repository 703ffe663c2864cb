"""Wall-clock timing that is correct on CUDA, and alternation orders."""
import time
from typing import List, Sequence, TypeVar, Union

import torch

T = TypeVar('T')


def synchronize(device: Union[str, torch.device]) -> None:
    """Wait for the device's queued kernels (no-op on CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class Timer:
    """Context manager measuring the wall time of its body; on CUDA the
    device is synchronised on entry (so earlier work is not billed) and on
    exit (so the body's kernels are).

    Example:
        >>> with Timer('cpu') as t:
        ...     run()
        >>> t.elapsed  # seconds
    """

    def __init__(self, device: Union[str, torch.device] = 'cpu') -> None:
        self.device = torch.device(device)
        self.elapsed = float('nan')
        self._start = 0.

    def __enter__(self) -> 'Timer':
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.elapsed = time.perf_counter() - self._start


def alternating(items: Sequence[T], step: int) -> List[T]:
    """``items`` rotated by ``step``: with two models, A,B on even steps and
    B,A on odd steps, so that neither always runs first (warm caches, turbo
    and background load hit both equally)."""
    items = list(items)
    if not items:
        return items
    k = step % len(items)
    return items[k:] + items[:k]
