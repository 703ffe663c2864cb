"""Let torch >= 2.6 load the checkpoints mmengine writes, safely.

torch 2.6 made ``torch.load`` default to ``weights_only=True``. mmengine
0.10's Runner calls ``torch.load`` without that argument, and its own
checkpoints hold a few non-tensor objects (the message hub's
``HistoryBuffer`` with numpy arrays and scalars), so ``load_from`` and
``resume`` fail. Instead of turning ``weights_only`` off (which would let a
malicious checkpoint run code), mmstpn adds exactly those types to torch's
allow-list of safe globals with ``torch.serialization.add_safe_globals``:
they are plain data containers whose unpickling runs no user code. This is
the documented torch API for the purpose, applied once at ``import mmstpn``.

One entry needs care: a ``HistoryBuffer`` pickles its statistics methods
(``HistoryBuffer.min`` ...) as ``builtins.getattr(HistoryBuffer, 'min')``.
Allow-listing the real ``getattr`` would let a checkpoint fetch any attribute
of any allow-listed object, so the global name ``builtins.getattr`` is mapped
to :func:`history_buffer_getattr`, which only resolves statistics methods of
``HistoryBuffer`` and refuses everything else.
"""
import pickle
from typing import List

import numpy as np
import torch


def _numpy_globals() -> List:
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_types = [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_)]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_types]


def history_buffer_getattr(obj: object, name: str) -> object:
    """Stand-in for ``getattr`` during ``weights_only`` loads: resolves only
    ``HistoryBuffer``'s statistics methods (min, max, mean, current and any
    registered with ``HistoryBuffer.register_statistics``)."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and (name in HistoryBuffer._statistics_methods
                                 or name in ('min', 'max', 'mean',
                                             'current')):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); mmstpn only allows '
        'HistoryBuffer statistics methods in weights_only loads')


def mmengine_safe_globals() -> List:
    """The globals mmengine checkpoints need beyond torch's defaults."""
    from mmengine.logging import HistoryBuffer
    return [
        HistoryBuffer, (history_buffer_getattr, 'builtins.getattr'),
        *_numpy_globals()
    ]


def register_mmengine_safe_globals() -> None:
    """Allow-list :func:`mmengine_safe_globals` for ``weights_only`` loads
    (no-op on torch without ``add_safe_globals``)."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(mmengine_safe_globals())
