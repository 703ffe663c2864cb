"""Convert an MMTracking ImageNet VID checkpoint (SELSA, Temporal RoI
Align) to mmstpn's ``SELSA`` detector.

MMTracking wraps the image detector as ``detector``; mmstpn's ``SELSA`` is
the detector itself, so ``detector.`` is dropped from every key and nothing
else changes (``detector.roi_head.bbox_head.aggregator.0.fc_embed.weight``
-> ``roi_head.bbox_head.aggregator.0.fc_embed.weight``). The class names
(``meta.CLASSES`` in 0.x, ``meta.dataset_meta`` in 1.x) are kept as
``meta.dataset_meta``.

Example::

    python tools/model_converters/mmtrack_vid_to_mmstpn.py \\
        checkpoints/selsa_faster_rcnn_r50_dc5_1x_imagenetvid.pth \\
        checkpoints/selsa_r50-dc5_imagenet-vid_mmstpn.pth

Then ``--cfg-options load_from=...`` or ``tools/test.py CONFIG CKPT`` with
``configs/selsa/selsa_faster-rcnn_r50-dc5_chmapper_8xb1-7e_imagenet-vid.py``.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

from mmstpn.models.vid import convert_mmtrack_vid_state_dict


def convert(src: str, dst: str, unsafe: bool = False) -> int:
    """Read ``src``, write the converted checkpoint to ``dst``.

    Args:
        src (str): MMTracking checkpoint.
        dst (str): Output path.
        unsafe (bool): Load with ``weights_only=False`` (trusted files only;
            for checkpoints holding objects ``weights_only`` refuses).

    Returns:
        int: Number of converted tensors.
    """
    try:
        ckpt = torch.load(src, map_location='cpu', weights_only=not unsafe)
    except Exception as err:  # noqa: BLE001 (re-raised with the file name)
        raise RuntimeError(
            f'{src}: cannot be loaded with weights_only=True ({err}); if the '
            'file is trusted, rerun with --unsafe') from err
    if not isinstance(ckpt, dict):
        raise ValueError(f'{src}: not a checkpoint dict')
    state_dict = ckpt.get('state_dict', ckpt)
    try:
        converted = convert_mmtrack_vid_state_dict(state_dict)
    except ValueError as err:
        raise ValueError(f'{src}: {err}') from err
    meta = dict(converted_from=osp.basename(src))
    old_meta = ckpt.get('meta') or {}
    if 'dataset_meta' in old_meta:
        meta['dataset_meta'] = old_meta['dataset_meta']
    elif 'CLASSES' in old_meta:
        meta['dataset_meta'] = dict(classes=tuple(old_meta['CLASSES']))
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    torch.save(dict(state_dict=converted, meta=meta), dst)
    return len(converted)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='MMTracking SELSA / TRoI checkpoint')
    parser.add_argument('dst', help='output checkpoint for mmstpn')
    parser.add_argument(
        '--unsafe',
        action='store_true',
        help='torch.load with weights_only=False (trusted files only)')
    args = parser.parse_args(argv)
    count = convert(args.src, args.dst, args.unsafe)
    print(f'{args.dst}: {count} tensors')


if __name__ == '__main__':
    sys.exit(main())
