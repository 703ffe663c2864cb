"""``torch.compile`` of a module's hot methods at test time."""
from functools import partial
from typing import Any, Callable, Dict, Optional, Union

import torch
from torch import Tensor, nn

COMPILE_KEYS = ('backend', 'mode', 'options', 'dynamic', 'fullgraph')


def compile_options(compile: Union[bool, dict, None],
                    key: str = 'model.backbone.compile'
                    ) -> Optional[Dict[str, Any]]:
    """The ``torch.compile`` keyword arguments a config value asks for.

    Args:
        compile (bool | dict | None): False / None: eager (returns None).
            True: ``torch.compile``'s defaults (``{}``). A dict: its
            arguments (``backend``, ``mode``, ``options``, ``dynamic``,
            ``fullgraph``).
        key (str): The config key, for messages.

    Returns:
        dict | None: The keyword arguments, None for eager.

    Raises:
        ValueError: Anything else, or unknown dict keys.
    """
    if compile is None or compile is False:
        return None
    if compile is True:
        return {}
    if isinstance(compile, dict):
        bad = sorted(set(compile) - set(COMPILE_KEYS))
        if bad:
            raise ValueError(f'{key}: unknown key(s) {bad}; allowed: '
                             f'{list(COMPILE_KEYS)} (torch.compile arguments)')
        return dict(compile)
    raise ValueError(f'{key} must be a bool or a dict of torch.compile '
                     f'arguments, got {compile!r}')


def canonical(x: Tensor) -> Tensor:
    """A tensor with row-major strides, also on size-1 dims (dynamo guards
    on strides, and the key frame of a clip is a strided view).

    Args:
        x (Tensor): Any tensor.

    Returns:
        Tensor: ``x`` itself when its strides are row-major, else a copy.
    """
    stride, strides = 1, []
    for size in reversed(x.shape):
        strides.append(stride)
        stride *= size
    if x.stride() == tuple(reversed(strides)):
        return x
    return torch.empty(x.shape, dtype=x.dtype, device=x.device).copy_(x)


class CompiledMethods:
    """Compiled versions of a module's methods, made on first use.

    Args:
        options (dict, optional): ``torch.compile`` arguments; None: every
            method stays eager.

    Guarantees: a method is compiled once per owner class (the module is
    an argument, so a deep copy of the module gets working methods); the
    eager method is returned in training mode, without options, and when
    the instance overrides the method (tests patch passes).
    """

    def __init__(self, options: Optional[Dict[str, Any]]) -> None:
        self.options = options
        self._compiled: Dict[str, Callable] = {}

    def get(self, module: nn.Module, name: str) -> Callable:
        """A method of ``module``, compiled when asked for.

        Args:
            module (nn.Module): The owner.
            name (str): The method.

        Returns:
            Callable: ``module.<name>`` compiled (once per owner class) in
            eval mode with options; the eager method otherwise.
        """
        if self.options is None or module.training or \
                name in module.__dict__:
            return getattr(module, name)
        fn = self._compiled.get(name)
        if fn is None:
            fn = torch.compile(getattr(type(module), name), **self.options)
            self._compiled[name] = fn
        return partial(_call, fn, module)


def _call(fn: Callable, module: nn.Module, *args: Tensor) -> Any:
    return fn(module, *(canonical(a) for a in args))
