"""Record what a module returns while a block runs."""
from contextlib import contextmanager
from typing import Any, Iterator, List

import torch.nn as nn


@contextmanager
def recorded_outputs(module: nn.Module) -> Iterator[List[Any]]:
    """Collect every output of ``module`` while inside, in call order.

    Args:
        module (nn.Module): The module to watch (a forward hook, removed on
            exit, also when the block raises).

    Yields:
        list: The outputs, appended as the module runs (tensors keep their
        autograd graph).
    """
    outputs: List[Any] = []
    handle = module.register_forward_hook(
        lambda mod, args, out: outputs.append(out))
    try:
        yield outputs
    finally:
        handle.remove()
