"""Convert a ViT checkpoint (timm DeiT / AugReg, MAE, mmpretrain) to STPNViT
(or STPNOneStreamViT).

    python tools/model_converters/vit_to_mmstpn.py SRC DST \
        [--config CONFIG | --img-size 224] [--verbose]

Layouts read:

* timm / DeiT / AugReg / MAE (``blocks.N.{norm1,attn.qkv,attn.proj,norm2,
  mlp.fc1,mlp.fc2}``, ``patch_embed.proj``, ``norm`` or ``fc_norm``); MAE's
  ``{'model': ...}`` wrapper and decoder tensors;
* mmpretrain / mmcls (``layers.N.{ln1,attn.qkv,attn.proj,ln2,ffn.layers.0.0,
  ffn.layers.1}``, ``patch_embed.projection``, ``ln1``), usually under
  ``state_dict`` with a ``backbone.`` prefix.

STPNViT has no class token: ``cls_token`` / ``dist_token`` / ``reg_token``
and their position entries are dropped; the remaining position table is
resized bicubically (``align_corners=False``, no antialias: the resize
STPNViT itself applies at run time) to ``img_size // 16``. The qkv Linear is
copied as it is (all three layouts stack q, k, v, each head-major, as STPNViT
splits it); separate ``q``/``k``/``v`` Linears or ``q_bias``/``v_bias`` are
stacked into it. Tensors STPNViT has no place for (layer scale, q/k norms,
a pre-norm, relative position tables, ...) stop the conversion with their
names. The output holds ``backbone.*`` tensors; the predictor is left to
its initialisation (and so is a detector's SimpleFeaturePyramid neck). Use
it as ``load_from`` or as
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.

Tracker backbones (``--config`` whose ``model.backbone`` is
``STPNOneStreamViT``, e.g. ``configs/stpn_sot/*``): ``pos_embed`` becomes the
search table (``img_size // 16``) and the same pretrained table, resized the
same way to ``template_size // 16``, fills ``pos_embed_template`` (as
OSTrack initialises both tables from the one pretrained table).
``--template-size`` makes the target an STPNOneStreamViT with that template
size.
"""
import argparse
import inspect
import math
import re
import sys
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


from mmstpn.utils.checkpoint_io import (
    CheckpointConversionError, ConversionReport, add_common_args,
    check_against_model, converter_meta, load_source,
    save_atomic)

#: the backbone types a converted ViT checkpoint initialises
VIT_TYPES = ('STPNViT', 'STPNOneStreamViT')

#: (source pattern, STPNViT name) for each layout; \1 is the block index
RULES = {
    'timm': [
        (r'patch_embed\.proj\.(weight|bias)', r'patch_embed.projection.\1'),
        (r'blocks\.(\d+)\.norm1\.(.+)', r'blocks.\1.norm1.\2'),
        (r'blocks\.(\d+)\.attn\.qkv\.(.+)', r'blocks.\1.qkv.\2'),
        (r'blocks\.(\d+)\.attn\.proj\.(.+)', r'blocks.\1.proj.\2'),
        (r'blocks\.(\d+)\.norm2\.(.+)', r'blocks.\1.norm2.\2'),
        (r'blocks\.(\d+)\.mlp\.fc1\.(.+)', r'blocks.\1.ffn.layers.0.0.\2'),
        (r'blocks\.(\d+)\.mlp\.fc2\.(.+)', r'blocks.\1.ffn.layers.1.\2'),
        (r'norm\.(weight|bias)', r'norm.\1'),
    ],
    'mmpretrain': [
        (r'patch_embed\.projection\.(weight|bias)',
         r'patch_embed.projection.\1'),
        (r'layers\.(\d+)\.ln1\.(.+)', r'blocks.\1.norm1.\2'),
        (r'layers\.(\d+)\.attn\.qkv\.(.+)', r'blocks.\1.qkv.\2'),
        (r'layers\.(\d+)\.attn\.proj\.(.+)', r'blocks.\1.proj.\2'),
        (r'layers\.(\d+)\.ln2\.(.+)', r'blocks.\1.norm2.\2'),
        (r'layers\.(\d+)\.ffn\.layers\.0\.0\.(.+)',
         r'blocks.\1.ffn.layers.0.0.\2'),
        (r'layers\.(\d+)\.ffn\.layers\.1\.(.+)', r'blocks.\1.ffn.layers.1.\2'),
        (r'ln1\.(weight|bias)', r'norm.\1'),
    ],
}
#: a norm of the pooled token, used as the final norm when there is no other
POOLED_NORM = {'timm': 'fc_norm.', 'mmpretrain': 'ln2.'}
FINAL_NORM = {'timm': 'norm.', 'mmpretrain': 'ln1.'}
PREFIX_TOKENS = ('cls_token', 'dist_token', 'reg_token')
#: dropped: (pattern, reason)
DROP = [
    (r'(head|head_dist)\..*', 'classification head'),
    (r'(decoder_.*|mask_token)', 'MAE decoder'),
    (r'(neck|data_preprocessor)\..*', 'not the encoder'),
]
SPLIT_ATTN = re.compile(r'^(blocks|layers)\.(\d+)\.attn\.(q|k|v)(\.|_bias)')


def detect_layout(state_dict: Dict[str, Tensor], src: str) -> str:
    """'timm' (blocks.N.norm1 ...) or 'mmpretrain' (layers.N.ln1 ...)."""
    timm = any(re.match(r'blocks\.\d+\.norm1\.', k) for k in state_dict)
    mmpre = any(re.match(r'layers\.\d+\.ln1\.', k) for k in state_dict)
    if timm == mmpre:
        swin = any(re.match(r'(layers|stages)\.\d+\.blocks\.', k)
                   for k in state_dict)
        raise CheckpointConversionError(
            f'{src}: not a ViT checkpoint: expected blocks.N.norm1.* '
            '(timm/MAE) or layers.N.ln1.* (mmpretrain) keys, found '
            f'{"both" if timm else "neither"} (first keys: '
            f'{list(state_dict)[:4]})'
            + ('; it looks like a Swin checkpoint: use swin_to_mmstpn.py'
               if swin else ''))
    return 'timm' if timm else 'mmpretrain'


def merge_split_qkv(state_dict: Dict[str, Tensor], src: str
                    ) -> Tuple[Dict[str, Tensor], Dict[str, tuple]]:
    """Stack separate q/k/v Linears, or q_bias/v_bias (no k bias), into one
    ``attn.qkv`` Linear, q then k then v.

    Returns:
        tuple: The new dict and, for each stacked key, (source keys, how).
    """
    out = OrderedDict()
    groups: Dict[str, Dict[str, Tensor]] = OrderedDict()
    for k, v in state_dict.items():
        m = SPLIT_ATTN.match(k)
        if m:
            base = f'{m.group(1)}.{m.group(2)}.attn.'
            groups.setdefault(base, OrderedDict())[k[len(base):]] = v
        else:
            out[k] = v
    made = {}
    for base, parts in groups.items():
        sources = [base + name for name in parts]
        weights = {f'{c}.weight' for c in 'qkv'}
        biases = {f'{c}.bias' for c in 'qkv'}
        if set(parts) in (weights, weights | biases):
            out[base + 'qkv.weight'] = torch.cat(
                [parts[f'{c}.weight'] for c in 'qkv'])
            made[base + 'qkv.weight'] = (
                [base + f'{c}.weight' for c in 'qkv'], 'q, k, v stacked')
            if all(f'{c}.bias' in parts for c in 'qkv'):
                out[base + 'qkv.bias'] = torch.cat(
                    [parts[f'{c}.bias'] for c in 'qkv'])
                made[base + 'qkv.bias'] = (
                    [base + f'{c}.bias' for c in 'qkv'], 'q, k, v stacked')
        elif set(parts) == {'q_bias', 'v_bias'} and \
                base + 'qkv.weight' in state_dict:
            q, v = parts['q_bias'], parts['v_bias']
            out[base + 'qkv.bias'] = torch.cat([q, torch.zeros_like(q), v])
            made[base + 'qkv.bias'] = (sources, 'q_bias, zeros, v_bias '
                                       'stacked')
        else:
            raise CheckpointConversionError(
                f'{src}: cannot assemble {base}qkv from {list(parts)}')
    return out, made


def resize_pos_embed(pos: Tensor, num_prefix: int, grid: int, src: str,
                     report: ConversionReport,
                     target: str = 'pos_embed') -> Tensor:
    """(1, [P +] g0*g0, D) -> (1, grid*grid, D): drop prefix entries,
    bicubic resize; recorded as ``pos_embed -> target``."""
    length = pos.shape[1]
    if math.isqrt(length - num_prefix)**2 == length - num_prefix:
        drop = num_prefix
    elif math.isqrt(length)**2 == length:  # timm no_embed_class
        drop = 0
    else:
        raise CheckpointConversionError(
            f'{src}: pos_embed {tuple(pos.shape)} is not {num_prefix} '
            'prefix entries + a square grid')
    g0 = math.isqrt(length - drop)
    table = pos[:, drop:]
    how = f'{drop} prefix entries dropped' if drop else 'copy'
    if g0 != grid:
        table = table.reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
        table = F.interpolate(
            table.float(), size=(grid, grid), mode='bicubic',
            align_corners=False).to(pos.dtype)
        table = table.flatten(2).transpose(1, 2)
        how += f'; resized bicubically {g0}x{g0} -> {grid}x{grid}'
    report.map('pos_embed', target, how)
    return table.contiguous()


def convert_state_dict(state_dict: Dict[str, Tensor], src: str, grid: int,
                       template_grid: Optional[int] = None
                       ) -> Tuple['OrderedDict[str, Tensor]', str,
                                  ConversionReport]:
    """Any supported ViT layout -> STPNViT names (no ``backbone.``).

    ``template_grid`` (a tracker backbone): also ``pos_embed_template``,
    the pretrained table resized to ``template_grid``."""
    report = ConversionReport(src)
    if any(k.startswith('backbone.') for k in state_dict):
        kept = OrderedDict()
        for k, v in state_dict.items():
            if k.startswith('backbone.'):
                kept[k[len('backbone.'):]] = v
            else:
                report.drop(k, 'not a backbone tensor')
        state_dict = kept
    layout = detect_layout(state_dict, src)
    state_dict, made = merge_split_qkv(state_dict, src)
    rules = [(re.compile(p + '$'), r) for p, r in RULES[layout]]
    pooled = POOLED_NORM[layout]
    has_norm = any(k.startswith(FINAL_NORM[layout]) for k in state_dict)
    out, unknown = OrderedDict(), []
    num_prefix = 0
    for k, v in state_dict.items():
        if k in PREFIX_TOKENS:
            num_prefix += v.shape[1] if k == 'reg_token' else 1
            report.drop(k, 'STPNViT has no prefix tokens')
            continue
        if k == 'pos_embed':
            continue
        if any(re.fullmatch(p, k) for p, _ in DROP):
            report.drop(k, next(why for p, why in DROP
                                if re.fullmatch(p, k)))
            continue
        if k.startswith(pooled):
            if has_norm:
                report.drop(k, 'norm of the pooled token (the token norm '
                            'is used)')
            else:
                new_k = 'norm.' + k[len(pooled):]
                out[new_k] = v
                report.map(k, new_k, 'pooled-token norm used as the final '
                           'token norm')
            continue
        for pattern, repl in rules:
            if pattern.match(k):
                new_k = pattern.sub(repl, k)
                out[new_k] = v
                sources, how = made.get(k, ([k], 'copy'))
                for source in sources:
                    report.map(source, new_k, how)
                break
        else:
            unknown.append(k)
    if unknown:
        raise CheckpointConversionError(
            f'{src}: {len(unknown)} tensors have no place in STPNViT '
            f'({layout} layout): {unknown[:8]}')
    if 'pos_embed' not in state_dict:
        raise CheckpointConversionError(f'{src}: no pos_embed')
    out['pos_embed'] = resize_pos_embed(state_dict['pos_embed'], num_prefix,
                                        grid, src, report)
    if template_grid is not None:
        out['pos_embed_template'] = resize_pos_embed(
            state_dict['pos_embed'], num_prefix, template_grid, src, report,
            target='pos_embed_template')
    return out, layout, report


def patch_weight(state_dict: Dict[str, Tensor], src: str) -> Tensor:
    for k, v in state_dict.items():
        if k.endswith(('patch_embed.proj.weight',
                       'patch_embed.projection.weight')):
            return v
    raise CheckpointConversionError(f'{src}: no patch embedding weight '
                                    '(patch_embed.proj[ection].weight)')


def target_config(config: Optional[str], img_size: Optional[int],
                  weight: Tensor, src: str,
                  template_size: Optional[int] = None) -> Tuple[dict, str]:
    """STPNViT / STPNOneStreamViT arguments to check against
    (``model.backbone`` of ``config``, else STPNViT's defaults at the file's
    width) and how to name their source in messages; the patch size and
    width are checked here."""
    if config is not None:
        from mmengine.config import Config
        cfg = dict(Config.fromfile(config).model.backbone)
        if cfg.get('type') not in VIT_TYPES:
            raise CheckpointConversionError(
                f'{config}: model.backbone.type is {cfg.get("type")!r}, not '
                f'one of {VIT_TYPES}')
        where = f'model.backbone.{{}} of {config}'
    else:
        cfg = dict(type='STPNViT', embed_dims=weight.shape[0], num_prompts=0,
                   depth=None)
        where = 'STPNViT {} (no --config)'
    if img_size is not None:
        cfg['img_size'] = img_size
    if template_size is not None:
        cfg.update(type='STPNOneStreamViT', template_size=template_size)
    if cfg['type'] == 'STPNOneStreamViT':
        # global blocks only (STPNOneStreamViT checks it)
        cfg.setdefault('window_block_indices', ())
    from mmstpn.models.backbones import STPNViT
    for name, arg in inspect.signature(STPNViT).parameters.items():
        if name in ('img_size', 'patch_size', 'embed_dims', 'depth'):
            cfg.setdefault(name, arg.default)
    patch = tuple(weight.shape[-2:])
    if patch != (cfg['patch_size'], ) * 2:
        raise CheckpointConversionError(
            f'{src}: patch size {patch[0]}x{patch[1]} (patch embedding '
            f'weight {tuple(weight.shape)}) does not match '
            f'{where.format("patch_size")}={cfg["patch_size"]}')
    if cfg['embed_dims'] != weight.shape[0]:
        raise CheckpointConversionError(
            f'{src}: width {weight.shape[0]} does not match '
            f'{where.format("embed_dims")}={cfg["embed_dims"]}')
    cfg['init_cfg'] = None
    return cfg, where


def check_depth(new_sd: Dict[str, Tensor], cfg: dict, where: str,
                src: str) -> int:
    """Number of blocks in the file; must equal the config's depth."""
    depth = 1 + max((int(k.split('.')[1]) for k in new_sd
                     if k.startswith('blocks.')), default=-1)
    if cfg['depth'] != depth:
        raise CheckpointConversionError(
            f'{src}: {depth} blocks do not match '
            f'{where.format("depth")}={cfg["depth"]}')
    return depth


def convert(src: str,
            dst: str,
            config: Optional[str] = None,
            img_size: Optional[int] = None,
            allow_numpy: bool = False,
            trust: bool = False,
            verbose: bool = False,
            template_size: Optional[int] = None) -> ConversionReport:
    """Read ``src``, convert, check against STPNViT, write ``dst``
    (``template_size`` / the config's: also ``pos_embed_template``)."""
    import mmstpn  # noqa: F401  (registers the backbones)
    from mmdet.registry import MODELS

    _, state_dict, desc = load_source(src, allow_numpy, trust)
    detect_layout({k[len('backbone.'):] if k.startswith('backbone.') else k:
                   v for k, v in state_dict.items()}, src)
    cfg, where = target_config(config, img_size,
                               patch_weight(state_dict, src), src,
                               template_size)
    grid = cfg['img_size'] // cfg['patch_size']
    tracker = cfg['type'] == 'STPNOneStreamViT'
    template_grid = cfg['template_size'] // cfg['patch_size'] \
        if tracker else None
    new_sd, layout, report = convert_state_dict(state_dict, src, grid,
                                                template_grid)
    if config is None:
        cfg['depth'] = 1 + max((int(k.split('.')[1]) for k in new_sd
                                if k.startswith('blocks.')), default=-1)
    depth = check_depth(new_sd, cfg, where, src)
    if config is None:
        hidden = new_sd['blocks.0.ffn.layers.0.0.weight'].shape[0] \
            if depth else 4 * cfg['embed_dims']
        cfg.update(depth=depth, num_heads=1,
                   mlp_ratio=hidden / cfg['embed_dims'])
    target = MODELS.build(cfg).state_dict()
    what = where.format('(built)')
    missing = check_against_model(new_sd, target, src, what,
                                  ('prompt_generator.', ))
    save_atomic(
        dict(
            meta=converter_meta(src, 'vit_to_mmstpn', source_layout=layout,
                                img_size=cfg['img_size'],
                                **(dict(template_size=cfg['template_size'])
                                   if tracker else {})),
            state_dict=OrderedDict(
                ('backbone.' + k, v) for k, v in new_sd.items())), dst)
    report.note(f'source: {desc}, {layout} layout; checked against {what}, '
                f'img_size {cfg["img_size"]} (grid {grid}x{grid})' +
                (f', template_size {cfg["template_size"]} (grid '
                 f'{template_grid}x{template_grid})' if tracker else ''))
    report.note('num_heads is not stored in a ViT checkpoint: the config '
                'must give the source model\'s')
    heads = sorted({k.split('.')[0] for k in missing})
    report.note(f'left to initialisation: {heads}')
    report.print(verbose)
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser)
    parser.add_argument(
        '--config', help='config whose model.backbone (STPNViT or '
        'STPNOneStreamViT) must take the '
        'result (its img_size sets the position grid)')
    parser.add_argument(
        '--img-size', type=int, help='position grid = img_size // 16 '
        '(overrides the config; default 224 without a config)')
    parser.add_argument(
        '--template-size', type=int, help='tracker backbone '
        '(STPNOneStreamViT): also fill pos_embed_template, grid '
        "template_size // 16 (overrides the config's "
        'model.backbone.template_size)')
    args = parser.parse_args(argv)
    try:
        convert(args.src, args.dst, args.config, args.img_size,
                args.allow_numpy, args.trust_checkpoint, args.verbose,
                args.template_size)
    except CheckpointConversionError as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
