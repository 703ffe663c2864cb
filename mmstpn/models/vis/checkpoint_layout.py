"""A clear error for a checkpoint of another VIS model family."""
from typing import Mapping


def refuse_layout(state_dict: Mapping, prefix: str, model: str,
                  other_prefix: str, other: str) -> None:
    """Raise a ValueError when ``state_dict`` holds keys under
    ``prefix + other_prefix``, the layout of another model.

    ``load_state_dict(strict=False)`` (what ``load_checkpoint`` and
    ``tools/test.py`` use) would only warn about the missing and unexpected
    keys and leave the model with its initial weights.

    Args:
        state_dict (Mapping): The state dict being loaded.
        prefix (str): The model's prefix in it.
        model (str): The model's name, for the message.
        other_prefix (str): The other model's top-level key prefix.
        other (str): The other model, for the message.
    """
    keys = [k for k in state_dict if k.startswith(prefix + other_prefix)]
    if keys:
        raise ValueError(
            f'{model}: this checkpoint is a {other} checkpoint '
            f'({len(keys)} keys under "{prefix}{other_prefix}", e.g. '
            f'{keys[0]!r}), not a {model} one. Test it with its own config; '
            'to start a training from its weights, load them with '
            "init_cfg=dict(type='Pretrained', checkpoint=..., "
            f"prefix='{other_prefix}...') on the matching submodule")
