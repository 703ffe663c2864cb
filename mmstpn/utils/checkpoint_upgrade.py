"""Map detection ViT checkpoints whose simple feature pyramid sits in the
backbone to the layout where it is the first neck module.

Source layout: the pyramid at ``backbone.pyramid.{i}.*``, the neck that
takes its stride-4..32 maps (e.g. mmdet's FPN) at ``neck.*``. Target
layout: ``neck=[dict(type='SimpleFeaturePyramid', in_channels=C,
out_indices=<the source backbone's out_indices>), <the source neck>]``,
keys ``neck.0.levels.{i}.*`` and ``neck.1.*``. See docs/models.md.
"""
import re
from collections import OrderedDict
from typing import Mapping, Sequence

from torch import Tensor

#: ``<prefix>backbone.pyramid.`` with ``<prefix>`` empty or ending in a dot
#: (e.g. ``detector.`` of a tracker that holds a detector)
_PYRAMID = re.compile(r'^((?:[^.]+\.)*?)backbone\.pyramid\.')


def upgrade_state_dict(
        state_dict: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
    """The state dict of a detection ViT model in the neck-pyramid layout.

    For every model prefix ``P`` (``''`` or e.g. ``'detector.'``) under
    which ``P + 'backbone.pyramid.'`` keys exist: ``P +
    'backbone.pyramid.{rest}'`` becomes ``P + 'neck.0.levels.{rest}'`` and
    ``P + 'neck.{rest}'`` becomes ``P + 'neck.1.{rest}'``; every other key
    and every tensor is kept as it is (same objects, same order).

    Args:
        state_dict (Mapping[str, Tensor]): A model state dict (no
            ``state_dict`` wrapper).

    Returns:
        Mapping[str, Tensor]: A new ``OrderedDict`` when something was
        mapped, else ``state_dict`` itself (Swin, tracker and neck-pyramid
        checkpoints come back unchanged).

    Raises:
        ValueError: Keys of both layouts under one prefix (``backbone.
            pyramid.*`` next to ``neck.0.*`` / ``neck.1.*``).
    """
    prefixes = sorted({
        m.group(1)
        for m in map(_PYRAMID.match, state_dict) if m is not None
    })
    if not prefixes:
        return state_dict
    for p in prefixes:
        mixed = [
            k for k in state_dict
            if k.startswith((p + 'neck.0.', p + 'neck.1.'))
        ]
        if mixed:
            raise ValueError(
                f'state dict has both {p}backbone.pyramid.* (old layout) and '
                f'{mixed[0]} (current layout): cannot tell which is meant')
    out = OrderedDict()
    for key, value in state_dict.items():
        out[_upgrade_key(key, prefixes)] = value
    return out


def _upgrade_key(key: str, prefixes: Sequence[str]) -> str:
    for p in prefixes:
        if key.startswith(p + 'backbone.pyramid.'):
            return p + 'neck.0.levels.' + key[len(p + 'backbone.pyramid.'):]
        if key.startswith(p + 'neck.'):
            return p + 'neck.1.' + key[len(p + 'neck.'):]
    return key
