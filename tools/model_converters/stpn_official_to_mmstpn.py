"""Convert the released STPN checkpoint (vfe.pytorch, mmdet 2.19) to mmstpn.

    python tools/model_converters/stpn_official_to_mmstpn.py SRC DST \
        [--config CONFIG] [--allow-numpy | --trust-checkpoint] [--verbose]

The released file holds 230 tensors: 219 ``detector.*`` keys that are already
MMDetection 3.3 Faster R-CNN keys (only the prefix goes) and the 11 tensors of
the attention predictor, which move under the prompt generator,
``prompt_predictor.<x>`` -> ``backbone.prompt_generator.predictor.<y>``:

==============================  ==============  =========
official ``<x>``                mmstpn ``<y>``  role
==============================  ==============  =========
``reduction``                   ``input_proj``  768->96
``query``                       ``queries``     (5, 96)
``fc_embed``                    ``q_proj``      query
``ref_fc_embed``                ``k_proj``      key
``ref_fc``                      ``v_proj``      value
``fc``                          ``out_proj``    output
==============================  ==============  =========

The result is checked against the model of ``--config`` (default: the released
recipe) before anything is written: same keys (strict), shapes and dtypes, and
``relative_position_index`` equal to the model's buffers. Class rows follow
ImageNet VID order (re-ordered if the source's ``CLASSES`` are the same 30 in
another order). Output: ``{'meta': {...primitives...}, 'state_dict': ...}``,
loadable with ``weights_only=True``, ``tools/test.py CONFIG DST`` and
``load_from``; the optimizer, config text and environment are dropped.
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor


from mmstpn.datasets.imagenet_vid import IMAGENET_VID_CLASSES
from mmstpn.utils.checkpoint_io import (
    CheckpointConversionError, ConversionReport, add_common_args,
    build_model_state, check_against_model, converter_meta, load_source,
    save_atomic)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(
    REPO, 'configs/stpn/stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_'
    'imagenet-vid.py')

#: official predictor module -> mmstpn AttentionDVPPredictor module
PREDICTOR_MODULES = OrderedDict([
    ('reduction', 'input_proj'),
    ('fc_embed', 'q_proj'),
    ('ref_fc_embed', 'k_proj'),
    ('ref_fc', 'v_proj'),
    ('fc', 'out_proj'),
])
DETECTOR_PARTS = ('backbone.', 'neck.', 'rpn_head.', 'roi_head.')
SRC_PREDICTOR = 'prompt_predictor.'
DST_PREDICTOR = 'backbone.prompt_generator.predictor.'


def _predictor_map() -> Dict[str, str]:
    out = {SRC_PREDICTOR + 'query': DST_PREDICTOR + 'queries'}
    for src, dst in PREDICTOR_MODULES.items():
        for p in ('weight', 'bias'):
            out[f'{SRC_PREDICTOR}{src}.{p}'] = f'{DST_PREDICTOR}{dst}.{p}'
    return out


PREDICTOR_MAP = _predictor_map()


def check_layout(state_dict: Dict[str, Tensor], src: str) -> None:
    """Raise unless ``state_dict`` has the released STPN layout: only
    ``detector.{backbone,neck,rpn_head,roi_head}.*`` and the 11 attention
    predictor tensors."""
    keys = list(state_dict)
    det = [k for k in keys if k.startswith('detector.')]
    pred = [k for k in keys if k.startswith(SRC_PREDICTOR)]
    if not det or not pred:
        raise CheckpointConversionError(
            f'{src}: not a released STPN checkpoint: expected keys '
            f"'detector.*' and '{SRC_PREDICTOR}*', found {len(det)} and "
            f'{len(pred)} (first keys: {keys[:4]})')
    other = [k for k in keys if k not in det and k not in pred]
    parts = [k for k in det if not k[len('detector.'):].startswith(
        DETECTOR_PARTS)]
    missing = [k for k in PREDICTOR_MAP if k not in state_dict]
    extra = [k for k in pred if k not in PREDICTOR_MAP]
    problems = []
    if other:
        problems.append(f'{len(other)} keys outside detector./'
                        f'{SRC_PREDICTOR}: {other[:5]}')
    if parts:
        problems.append(f'{len(parts)} detector keys outside backbone/neck/'
                        f'rpn_head/roi_head: {parts[:5]}')
    if missing:
        problems.append('attention-predictor tensors missing (this '
                        f'converter handles the attention predictor): '
                        f'{missing}')
    if extra:
        problems.append(f'unknown predictor tensors: {extra}')
    if problems:
        raise CheckpointConversionError(
            f'{src}: not the released STPN layout: ' + '; '.join(problems))


def class_order(src_classes: Optional[Sequence[str]], src: str,
                report: ConversionReport) -> Optional[List[int]]:
    """Source row of each ImageNet VID class (None: already in order)."""
    target = list(IMAGENET_VID_CLASSES)
    if src_classes is None:
        report.note('the source names no CLASSES; its class rows are taken '
                    'to be in ImageNet VID order')
        return None
    src_classes = list(src_classes)
    if src_classes == target:
        return None
    if sorted(src_classes) != sorted(target):
        raise CheckpointConversionError(
            f'{src}: meta CLASSES are not the 30 ImageNet VID classes: '
            f'extra {sorted(set(src_classes) - set(target))}, missing '
            f'{sorted(set(target) - set(src_classes))}')
    report.note('source CLASSES are in another order: fc_cls rows 0..29 '
                'and fc_reg 4-row blocks re-ordered to ImageNet VID order '
                '(background row 30 kept last)')
    return [src_classes.index(c) for c in target]


def _reorder(key: str, value: Tensor, order: List[int]) -> Tensor:
    n = len(order)
    if key.endswith('fc_cls.weight') or key.endswith('fc_cls.bias'):
        if value.shape[0] != n + 1:
            raise CheckpointConversionError(
                f'{key} has {value.shape[0]} rows, expected {n + 1}')
        return torch.cat([value[order], value[n:]])
    if value.shape[0] != 4 * n:
        raise CheckpointConversionError(
            f'{key} has {value.shape[0]} rows, expected {4 * n} '
            '(class-specific boxes)')
    blocks = value.reshape(n, 4, *value.shape[1:])[order]
    return blocks.reshape(value.shape)


def convert_state_dict(state_dict: Dict[str, Tensor],
                       src: str,
                       src_classes: Optional[Sequence[str]] = None
                       ) -> Tuple['OrderedDict[str, Tensor]',
                                  ConversionReport]:
    """Map the released layout to mmstpn's (no model needed)."""
    check_layout(state_dict, src)
    report = ConversionReport(src)
    order = class_order(src_classes, src, report)
    out = OrderedDict()
    for key, value in state_dict.items():
        if key in PREDICTOR_MAP:
            new_key = PREDICTOR_MAP[key]
            out[new_key] = value
            report.map(key, new_key)
            continue
        new_key = key[len('detector.'):]
        how = 'copy'
        if order is not None and '.bbox_head.fc_' in new_key:
            value = _reorder(new_key, value, order)
            how = 'rows re-ordered to ImageNet VID classes'
        out[new_key] = value
        report.map(key, new_key, how)
    return out, report


def check_buffers(state_dict: Dict[str, Tensor], target: Dict[str, Tensor],
                  src: str) -> None:
    """``relative_position_index`` must equal the model's (else the window
    size differs)."""
    bad = [
        k for k in state_dict if k.endswith('relative_position_index')
        and not torch.equal(state_dict[k], target[k])
    ]
    if bad:
        raise CheckpointConversionError(
            f'{src}: relative_position_index differs from the model\'s '
            f'(another window size?): {bad[:4]}')


def convert(src: str,
            dst: str,
            config: str = DEFAULT_CONFIG,
            allow_numpy: bool = False,
            trust: bool = False,
            verbose: bool = False,
            target: Optional[Dict[str, Tensor]] = None) -> ConversionReport:
    """Read ``src``, convert, check against ``config``'s model (or the given
    ``target`` state dict), write ``dst``; returns the report."""
    ckpt, state_dict, desc = load_source(src, allow_numpy, trust)
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    meta = meta if isinstance(meta, dict) else {}
    classes = meta.get('CLASSES')
    new_sd, report = convert_state_dict(state_dict, src, classes)
    report.note(f'source: {desc}; top-level keys '
                f'{sorted(ckpt) if isinstance(ckpt, dict) else "-"}; '
                'kept: state_dict and meta.epoch/iter/mmdet_version')
    what = osp.relpath(config) if osp.exists(config) else config
    if target is None:
        target = build_model_state(config)
    else:
        what = 'the given target model'
    check_against_model(new_sd, target, src, what)
    check_buffers(new_sd, target, src)
    out_meta = converter_meta(
        src,
        'stpn_official_to_mmstpn',
        dataset_meta=dict(classes=list(IMAGENET_VID_CLASSES)))
    for key in ('epoch', 'iter', 'mmdet_version', 'mmcv_version'):
        if isinstance(meta.get(key), (int, str)):
            out_meta[f'source_{key}'] = meta[key]
    save_atomic(dict(meta=out_meta, state_dict=new_sd), dst)
    report.note(f'written {dst} ({len(new_sd)} tensors, strict match with '
                f'{what})')
    report.print(verbose)
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser)
    parser.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='mmstpn config whose model must take the result strictly '
        '(default: the released recipe)')
    args = parser.parse_args(argv)
    try:
        convert(args.src, args.dst, args.config, args.allow_numpy,
                args.trust_checkpoint, args.verbose)
    except CheckpointConversionError as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
