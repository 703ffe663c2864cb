"""Key mapping from MMTracking VID checkpoints (SELSA, Temporal RoI Align)
to mmstpn's video detectors."""
from collections import OrderedDict
from typing import Mapping

from torch import Tensor

#: MMTracking wraps the image detector as ``self.detector``; mmstpn's video
#: detectors are ``TwoStageDetector`` subclasses, so ``detector.`` is dropped
#: and every other part of a key is unchanged.
MMTRACK_VID_PREFIX = 'detector.'


def convert_mmtrack_vid_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Map an MMTracking SELSA / TRoI ``state_dict`` to mmstpn keys.

    ``detector.roi_head.bbox_head.aggregator.0.fc_embed.weight`` becomes
    ``roi_head.bbox_head.aggregator.0.fc_embed.weight``.

    Args:
        state_dict (Mapping[str, Tensor]): The checkpoint's ``state_dict``.

    Returns:
        OrderedDict[str, Tensor]: The same tensors under mmstpn's keys.

    Raises:
        ValueError: a key without the ``detector.`` prefix (not an
            MMTracking VID detector checkpoint), named in the message.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if not key.startswith(MMTRACK_VID_PREFIX):
            raise ValueError(
                f'convert_mmtrack_vid_state_dict: key {key!r} does not start '
                f'with {MMTRACK_VID_PREFIX!r}; not an MMTracking VID '
                'detector checkpoint')
        out[key[len(MMTRACK_VID_PREFIX):]] = value
    return out
