"""Convert a Swin Transformer checkpoint into an mmdet-layout backbone file.

    python tools/model_converters/swin_to_mmstpn.py SRC DST [--config CONFIG]

Accepts the ORIGINAL Swin layout (microsoft/Swin-Transformer ImageNet files,
``layers.N.blocks.M.attn.qkv`` ..., usually under ``model``; or
Swin-Transformer-Object-Detection files such as
``mask_rcnn_swin_tiny_patch4_window7.pth``, the same names with a
``backbone.`` prefix under ``state_dict``) and the mmdet layout
(``stages.N.blocks.M.attn.w_msa.qkv`` ..., with or without ``backbone.``).
Original-layout tensors go through mmdet's own ``swin_converter`` after the
prefix is stripped (mmdet 3.3's converter does not strip it, which is why
``convert_weights=True`` raises a KeyError on detection checkpoints).

The output holds only ``backbone.*`` tensors in mmdet layout:
use it with ``convert_weights=False`` and
``init_cfg=dict(type='Pretrained', checkpoint=DST)`` on ``SwinTransformer`` /
``STPNSwin``, or as ``load_from``. Neck and head tensors, the
classification head, ``attn_mask`` buffers and the classification-only final
``norm`` are dropped (and listed). The Swin architecture is read from the
tensors and the result checked against mmdet's ``SwinTransformer`` of that
architecture, or against ``model.backbone`` of ``--config``.
"""
import argparse
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

from mmdet.models.backbones.swin import swin_converter
from torch import Tensor


from mmstpn.utils.checkpoint_io import (
    CheckpointConversionError, ConversionReport, add_common_args,
    build_model_state, check_against_model, converter_meta, load_source,
    save_atomic)

_BLOCK = re.compile(r'^stages\.(\d+)\.blocks\.(\d+)\.')
#: what an mmdet-layout backbone may miss and still be a correct init
OPTIONAL = ('norm0.', 'norm1.', 'norm2.', 'norm3.', 'prompt_generator.')


def split_backbone(state_dict: Dict[str, Tensor],
                   report: ConversionReport) -> Dict[str, Tensor]:
    """Backbone tensors without a ``backbone.`` prefix; the others of a
    detector checkpoint are dropped (and reported)."""
    if not any(k.startswith('backbone.') for k in state_dict):
        return OrderedDict(state_dict)
    out = OrderedDict()
    for k, v in state_dict.items():
        if k.startswith('backbone.'):
            out[k[len('backbone.'):]] = v
        else:
            report.drop(k, 'not a backbone tensor')
    return out


def detect_layout(state_dict: Dict[str, Tensor], src: str) -> str:
    """'original' (layers.N...) or 'mmdet' (stages.N...)."""
    original = any(k.startswith('layers.') for k in state_dict)
    mmdet = any(k.startswith('stages.') for k in state_dict)
    if original == mmdet:
        found = 'both' if original else 'neither'
        raise CheckpointConversionError(
            f'{src}: not a Swin checkpoint: {found} of layers.N.* (original '
            'Swin) and stages.N.* (mmdet) found (first keys: '
            f'{list(state_dict)[:4]})')
    return 'original' if original else 'mmdet'


def from_original(state_dict: Dict[str, Tensor],
                  report: ConversionReport,
                  prefix: str) -> 'OrderedDict[str, Tensor]':
    """Original Swin names -> mmdet names via mmdet's ``swin_converter``."""
    keep = OrderedDict()
    for k, v in state_dict.items():
        if k.startswith('head.'):
            report.drop(prefix + k, 'classification head')
        elif k.endswith('.attn_mask'):
            report.drop(prefix + k, 'shift mask buffer, recomputed')
        elif k.startswith('norm.'):
            report.drop(prefix + k, 'classification final norm; mmdet '
                        'Swin has norm0..3 per output')
        else:
            keep[k] = v
    converted = swin_converter(keep)  # adds 'backbone.', same order
    out = OrderedDict()
    for (k, _), (new_k, new_v) in zip(keep.items(), converted.items()):
        how = ('reordered to nn.Unfold order'
               if '.downsample.' in k else 'copy')
        out[new_k] = new_v
        report.map(prefix + k, new_k, how)
    return out


def from_mmdet(state_dict: Dict[str, Tensor], report: ConversionReport,
               prefix: str) -> 'OrderedDict[str, Tensor]':
    out = OrderedDict()
    for k, v in state_dict.items():
        out['backbone.' + k] = v
        report.map(prefix + k, 'backbone.' + k)
    return out


def infer_arch(state_dict: Dict[str, Tensor], src: str) -> dict:
    """mmdet ``SwinTransformer`` arguments read from mmdet-layout tensors
    (without ``backbone.``)."""
    try:
        embed = state_dict['patch_embed.projection.weight']
    except KeyError:
        raise CheckpointConversionError(
            f'{src}: no patch embedding (patch_embed.proj.weight) found')
    blocks: Dict[int, int] = {}
    heads: Dict[int, int] = {}
    window = None
    for k, v in state_dict.items():
        m = _BLOCK.match(k)
        if not m:
            continue
        s, b = int(m.group(1)), int(m.group(2))
        blocks[s] = max(blocks.get(s, 0), b + 1)
        if k.endswith('relative_position_bias_table'):
            heads[s] = v.shape[1]
            window = (int(round(v.shape[0]**0.5)) + 1) // 2
    stages = sorted(blocks)
    if stages != list(range(len(stages))) or sorted(heads) != stages:
        raise CheckpointConversionError(
            f'{src}: incomplete Swin stages: blocks in {stages}, bias '
            f'tables in {sorted(heads)}')
    return dict(
        embed_dims=embed.shape[0],
        patch_size=embed.shape[-1],
        in_channels=embed.shape[1],
        depths=tuple(blocks[s] for s in stages),
        num_heads=tuple(heads[s] for s in stages),
        window_size=window,
        strides=(embed.shape[-1], 2, 2, 2)[:len(stages)],
        out_indices=tuple(stages),
        init_cfg=None)


def convert_state_dict(state_dict: Dict[str, Tensor], src: str
                       ) -> Tuple['OrderedDict[str, Tensor]', str,
                                  ConversionReport]:
    """Any supported Swin layout -> ``backbone.*`` in mmdet layout."""
    report = ConversionReport(src)
    had_prefix = any(k.startswith('backbone.') for k in state_dict)
    backbone = split_backbone(state_dict, report)
    layout = detect_layout(backbone, src)
    prefix = 'backbone.' if had_prefix else ''
    convert = from_original if layout == 'original' else from_mmdet
    return convert(backbone, report, prefix), layout, report


def convert(src: str,
            dst: str,
            config: Optional[str] = None,
            allow_numpy: bool = False,
            trust: bool = False,
            verbose: bool = False) -> ConversionReport:
    """Read ``src``, convert, check, write ``dst``; returns the report."""
    from mmdet.models.backbones import SwinTransformer

    _, state_dict, desc = load_source(src, allow_numpy, trust)
    new_sd, layout, report = convert_state_dict(state_dict, src)
    bare = OrderedDict((k[len('backbone.'):], v) for k, v in new_sd.items())
    arch = infer_arch(bare, src)
    if config is None:
        target = SwinTransformer(**arch).state_dict()
        what = f'mmdet SwinTransformer{_arch_text(arch)}'
    else:
        target = build_model_state(config, 'backbone')
        what = f'model.backbone of {config}'
    missing = check_against_model(bare, target, src, what, OPTIONAL)
    save_atomic(
        dict(
            meta=converter_meta(
                src, 'swin_to_mmstpn', source_layout=layout,
                arch={k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in arch.items() if k != 'init_cfg'}),
            state_dict=new_sd), dst)
    report.note(f'source: {desc}, {layout} Swin layout{_arch_text(arch)}')
    if missing:
        report.note(f'left to initialisation: {_short(missing)}')
    report.note(f'written {dst}: use convert_weights=False with init_cfg='
                "dict(type='Pretrained', checkpoint=...) or load_from")
    report.print(verbose)
    return report


def _arch_text(arch: dict) -> str:
    return (f' (embed_dims={arch["embed_dims"]}, depths={arch["depths"]}, '
            f'num_heads={arch["num_heads"]}, '
            f'window_size={arch["window_size"]})')


def _short(keys: List[str]) -> str:
    heads = OrderedDict()
    for k in keys:
        heads.setdefault(k.split('.')[0], 0)
        heads[k.split('.')[0]] += 1
    return ', '.join(f'{h}.* ({n})' for h, n in heads.items())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser)
    parser.add_argument(
        '--config',
        help='check the result against model.backbone of this config '
        '(default: mmdet SwinTransformer of the architecture in the file)')
    args = parser.parse_args(argv)
    try:
        convert(args.src, args.dst, args.config, args.allow_numpy,
                args.trust_checkpoint, args.verbose)
    except CheckpointConversionError as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
