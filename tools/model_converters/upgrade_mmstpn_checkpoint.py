"""Upgrade an mmstpn checkpoint to the current module layout.

    python tools/model_converters/upgrade_mmstpn_checkpoint.py SRC DST

Detection ViT checkpoints (``backbone.pyramid.*``, ``neck.*``) get the keys
of ``neck=[SimpleFeaturePyramid, <former neck>]`` (``neck.0.levels.*``,
``neck.1.*``; see :func:`mmstpn.utils.upgrade_state_dict`). The output holds
``meta`` and ``state_dict`` only: use it as ``load_from`` (the optimizer
state of the source follows the former parameter order and cannot resume).
A checkpoint already in the current layout (Swin, tracker, ...) is copied
unchanged.
"""
import argparse
import shutil

import torch

from mmstpn.utils import upgrade_state_dict
from mmstpn.utils.checkpoint_io import save_atomic


def upgrade_checkpoint(src: str, dst: str) -> bool:
    """Read ``src`` (``weights_only=True`` with mmstpn's allow-list for
    mmengine checkpoints) and write ``dst``: ``meta`` and the upgraded state
    dict (atomically), or a copy of ``src`` when nothing needs mapping.

    Returns:
        bool: Whether any key was mapped.

    Raises:
        ValueError: ``src`` holds no state dict.
    """
    ckpt = torch.load(src, map_location='cpu', weights_only=True)
    wrapped = isinstance(ckpt, dict) and isinstance(
        ckpt.get('state_dict'), dict)
    state_dict = ckpt['state_dict'] if wrapped else ckpt
    if not isinstance(state_dict, dict) or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f'{src}: no state dict (a mapping of names to '
                         'tensors, bare or under state_dict)')
    upgraded = upgrade_state_dict(state_dict)
    if upgraded is state_dict:
        shutil.copyfile(src, dst)
        return False
    meta = dict(ckpt.get('meta') or {}) if wrapped else {}
    meta['upgraded_by'] = 'upgrade_mmstpn_checkpoint'
    save_atomic(dict(meta=meta, state_dict=upgraded), dst)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='mmstpn checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (written atomically)')
    args = parser.parse_args(argv)
    if upgrade_checkpoint(args.src, args.dst):
        print(f'{args.dst}: detection ViT layout upgraded (backbone.pyramid '
              '-> neck.0.levels, neck -> neck.1); meta and state_dict kept, '
              'use it as load_from')
    else:
        print(f'{args.dst}: already in the current layout, copied unchanged')


if __name__ == '__main__':
    main()
