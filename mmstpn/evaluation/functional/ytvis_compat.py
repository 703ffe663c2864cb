# Copyright (c) OpenMMLab. All rights reserved.
"""mmdet's YouTube-VIS evaluation under numpy >= 1.24 (numpy 2 included).

``mmdet.evaluation.functional.ytviseval.YTVISeval.accumulate`` (mmdet 3.3.0)
casts with ``.astype(dtype=np.float)``; numpy removed the ``np.float`` alias
in 1.24, so the stock ``YouTubeVISMetric`` raises ``AttributeError`` after
all predictions are in and never reports a local AP.

The fix chosen here, the smallest that touches no shared state:
``YTVISevalCompat.accumulate`` runs mmdet's OWN ``accumulate`` function (its
code object, not a copy of its source) with a private globals mapping in
which the name ``np`` is numpy plus the one removed alias
``float = builtins.float`` (exactly what ``np.float`` was). Neither numpy nor
mmdet's module is modified, so other code in the process (and other threads)
sees the usual numpy, nothing needs an environment variable, and the fix is
a no-op on older numpy. If a later mmdet drops the names this relies on,
:func:`with_globals` raises instead of silently evaluating something else.
"""
import builtins
import types
from typing import Any, Callable

import numpy
from mmdet.evaluation.functional import YTVISeval


def with_globals(func: Callable, **names: Any) -> Callable:
    """A function running ``func``'s code with some global names rebound.

    The module ``func`` comes from is not modified: the new function gets a
    copy of its globals with ``names`` replaced.

    Args:
        func (Callable): A plain Python function.
        **names: Global names of ``func``'s module and their new values;
            each must already be a global name of that module.

    Returns:
        Callable: The new function (same code, defaults and closure).
    """
    missing = [n for n in names if n not in func.__globals__]
    if missing:
        raise RuntimeError(
            f'{func.__module__}.{func.__qualname__} has no global name(s) '
            f'{missing}: the mmstpn compatibility shim does not match this '
            'mmdet version')
    new = types.FunctionType(func.__code__, {
        **func.__globals__,
        **names
    }, func.__name__, func.__defaults__, func.__closure__)
    new.__kwdefaults__ = func.__kwdefaults__
    new.__qualname__ = func.__qualname__
    new.__doc__ = func.__doc__
    return new


class NumpyWithRemovedAliases:
    """numpy, plus the alias ``float`` (builtin float) that numpy 1.24
    removed. Every other attribute is numpy's own."""

    float = builtins.float

    def __getattr__(self, name: str) -> Any:
        return getattr(numpy, name)


class YTVISevalCompat(YTVISeval):
    """mmdet's ``YTVISeval`` whose ``accumulate`` works under numpy >= 1.24.

    Same constructor, ``evaluate`` and ``summarize``; ``accumulate`` is
    mmdet's function run with ``np`` resolving to
    :class:`NumpyWithRemovedAliases` (see the module docstring).
    """

    _accumulate = staticmethod(
        with_globals(YTVISeval.accumulate, np=NumpyWithRemovedAliases()))

    def accumulate(self, p=None) -> None:
        """Accumulate per-video results into ``self.eval`` (mmdet's code).

        Args:
            p (Params, optional): Evaluation parameters; ``self.params``
                when None.
        """
        self._accumulate(self, p)
