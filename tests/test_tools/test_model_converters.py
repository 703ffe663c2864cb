"""tools/model_converters/: released STPN checkpoint, Swin and ViT inits.

The sources are synthetic files with the exact layouts of the real ones
(built here from stock mmdet modules and hand-written key lists, random
values); each conversion is checked by strict loading, tensor values and an
independent forward written in this file.
"""
import importlib.util
import math
import os
import os.path as osp
import re
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.config import Config, ConfigDict

from mmstpn.datasets.imagenet_vid import IMAGENET_VID_CLASSES
from mmstpn.utils.checkpoint_io import CheckpointConversionError

from .tool_helpers import REPO, tool_env

CONVERTERS = osp.join(REPO, 'tools', 'model_converters')
RELEASED_CFG = osp.join(
    REPO, 'configs/stpn/stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_'
    'imagenet-vid.py')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(CONVERTERS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stpn_tool = _tool('stpn_official_to_mmstpn')


# --------------------------------------------------------------------------
# the released STPN checkpoint
# --------------------------------------------------------------------------
def _stock_faster_rcnn_swin_t():
    """mmdet 3.3's own FasterRCNN + SwinTransformer-T + FPN, 30 classes:
    the detector of the release, built without mmstpn's modules."""
    cfg = Config.fromfile(
        osp.join(osp.dirname(__import__('mmdet').__file__), '.mim', 'configs',
                 '_base_', 'models', 'faster-rcnn_r50_fpn.py')).model
    cfg.backbone = dict(
        type='SwinTransformer',
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        out_indices=(0, 1, 2, 3),
        init_cfg=None)
    cfg.neck.in_channels = [96, 192, 384, 768]
    cfg.roi_head.bbox_head.num_classes = 30
    return MODELS.build(cfg)


OFFICIAL_PREDICTOR = OrderedDict([
    ('prompt_predictor.query', (5, 96)),
    ('prompt_predictor.reduction.weight', (96, 768)),
    ('prompt_predictor.reduction.bias', (96, )),
    ('prompt_predictor.fc_embed.weight', (96, 96)),
    ('prompt_predictor.fc_embed.bias', (96, )),
    ('prompt_predictor.ref_fc_embed.weight', (96, 96)),
    ('prompt_predictor.ref_fc_embed.bias', (96, )),
    ('prompt_predictor.fc.weight', (96, 96)),
    ('prompt_predictor.fc.bias', (96, )),
    ('prompt_predictor.ref_fc.weight', (96, 96)),
    ('prompt_predictor.ref_fc.bias', (96, )),
])


@pytest.fixture(scope='module')
def official_state():
    """230 tensors in the released order: ``detector.`` + the stock
    detector's 219 keys, then the 11 predictor tensors; random values except
    the true ``relative_position_index`` buffers."""
    gen = torch.Generator().manual_seed(1)
    sd = OrderedDict()
    for k, v in _stock_faster_rcnn_swin_t().state_dict().items():
        sd['detector.' + k] = v.clone() if v.dtype == torch.int64 else \
            torch.randn(v.shape, generator=gen)
    for k, shape in OFFICIAL_PREDICTOR.items():
        # weights at the scale of a trained layer (1/sqrt(fan_in)), so the
        # attention logits stay in float32's comfortable range
        scale = 1. if len(shape) == 1 or k.endswith('query') else \
            shape[1]**-0.5
        sd[k] = torch.randn(shape, generator=gen) * scale
    sd._metadata = OrderedDict()  # what mmcv 1.x's get_state_dict keeps
    assert len(sd) == 230
    return sd


def _optimizer_state(sd):
    """AdamW state as mmcv 1.x saves it with paramwise_cfg: one group per
    parameter (218), int steps; moments share one storage element each (the
    layout, not the bytes, is what matters)."""
    params = [k for k, v in sd.items() if v.is_floating_point()]
    zero = torch.zeros(())
    return dict(
        state={
            i: dict(step=9, exp_avg=zero.expand(sd[k].shape),
                    exp_avg_sq=zero.expand(sd[k].shape))
            for i, k in enumerate(params)
        },
        param_groups=[
            dict(params=[i], lr=2.5e-6, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0 if 'norm' in k else 0.05, amsgrad=False,
                 initial_lr=2.5e-5) for i, k in enumerate(params)
        ])


def _official_meta(classes=IMAGENET_VID_CLASSES):
    return dict(
        mmdet_version='2.19.1+a44d847',
        CLASSES=tuple(classes),
        env_info='sys.platform: linux',
        config='model = dict(type="STPN")',
        seed=42,
        exp_name='stpn_swint_adam_9x.py',
        epoch=9,
        iter=123,
        mmcv_version='1.3.17',
        time='Thu Mar  2 10:00:00 2023')


def _save_official(path, sd, zipfile=True, optimizer=True, meta=None):
    ckpt = dict(meta=meta or _official_meta(), state_dict=sd)
    if optimizer:
        ckpt['optimizer'] = _optimizer_state(sd)
    torch.save(ckpt, path, _use_new_zipfile_serialization=zipfile)
    return path


@pytest.fixture(scope='module')
def released_model():
    """The released-recipe config's model (STPNSwin-T, mmstpn)."""
    cfg = Config.fromfile(RELEASED_CFG)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('zipfile,optimizer', [(True, True), (False, False),
                                               (False, True)])
def test_stpn_official_converts_and_loads_strictly(tmp_path, official_state,
                                                   released_model, zipfile,
                                                   optimizer, capsys):
    src = _save_official(tmp_path / 'epoch_9.pth', official_state, zipfile,
                         optimizer)
    dst = tmp_path / 'out' / 'stpn_mmstpn.pth'
    stpn_tool.convert(
        str(src), str(dst), target=released_model.state_dict())
    printed = capsys.readouterr().out
    assert '230 tensors mapped, 0 dropped' in printed
    assert ('prompt_predictor.ref_fc.weight -> '
            'backbone.prompt_generator.predictor.v_proj.weight') in printed

    # tensors and primitives only: the default torch.load works
    ckpt = torch.load(dst, weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}
    assert ckpt['meta']['dataset_meta']['classes'] == list(
        IMAGENET_VID_CLASSES)
    assert ckpt['meta']['source_epoch'] == 9
    sd = ckpt['state_dict']
    result = released_model.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys

    # every tensor is the source's, under the mapped name (values)
    expected = {}
    for k, v in official_state.items():
        if k.startswith('detector.'):
            expected[k[len('detector.'):]] = v
    pred = {
        'queries': 'query', 'input_proj.weight': 'reduction.weight',
        'input_proj.bias': 'reduction.bias', 'q_proj.weight':
        'fc_embed.weight', 'q_proj.bias': 'fc_embed.bias',
        'k_proj.weight': 'ref_fc_embed.weight', 'k_proj.bias':
        'ref_fc_embed.bias', 'v_proj.weight': 'ref_fc.weight',
        'v_proj.bias': 'ref_fc.bias', 'out_proj.weight': 'fc.weight',
        'out_proj.bias': 'fc.bias'
    }
    for dst_name, src_name in pred.items():
        expected['backbone.prompt_generator.predictor.' +
                 dst_name] = official_state['prompt_predictor.' + src_name]
    assert set(sd) == set(expected)
    model_sd = released_model.state_dict()
    for k, v in expected.items():
        assert torch.equal(sd[k], v), k
        assert torch.equal(model_sd[k], v), k

    # Runner's load_from path (mmengine's loader, default torch.load)
    from mmengine.runner import load_checkpoint
    released_model.backbone.predictor.queries.data.zero_()
    load_checkpoint(released_model, str(dst), strict=True)
    assert torch.equal(released_model.backbone.predictor.queries,
                       official_state['prompt_predictor.query'])


def test_stpn_predictor_prompts_match_independent_computation(
        tmp_path, official_state, released_model):
    """The converted AttentionDVPPredictor gives the prompts computed by
    hand from the ORIGINAL tensors: Q = fc_embed(query), K = ref_fc_embed(r),
    V = ref_fc(r) with r = reduction(support), 16 heads of 6 contiguous
    channels, softmax over all tokens of all frames, then fc."""
    src = _save_official(tmp_path / 'a.pth', official_state, optimizer=False)
    dst = tmp_path / 'b.pth'
    stpn_tool.convert(str(src), str(dst),
                      target=released_model.state_dict())
    sd = torch.load(dst, weights_only=True)['state_dict']
    predictor = MODELS.build(
        dict(type='AttentionDVPPredictor', in_channels=768, prompt_dims=96,
             num_prompts=5, num_heads=16)).eval()
    prefix = 'backbone.prompt_generator.predictor.'
    predictor.load_state_dict(
        {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)},
        strict=True)
    n, k, hw = 2, 3, (3, 4)
    support = torch.randn(n, k, hw[0] * hw[1], 768)
    with torch.no_grad():
        got = predictor(support, hw)

    o = {kk[len('prompt_predictor.'):]: v.double()
         for kk, v in official_state.items() if kk.startswith('prompt_')}

    def lin(x, name):
        return x @ o[name + '.weight'].T + o[name + '.bias']

    want = torch.zeros(n, 5, 96, dtype=torch.float64)
    for i in range(n):
        r = lin(support[i].double().reshape(-1, 768), 'reduction')
        q, key, val = lin(o['query'], 'fc_embed'), lin(
            r, 'ref_fc_embed'), lin(r, 'ref_fc')
        heads = []
        for h in range(16):
            c = slice(6 * h, 6 * h + 6)
            logits = q[:, c] @ key[:, c].T / math.sqrt(6)  # (5, K*L)
            heads.append(torch.softmax(logits, dim=1) @ val[:, c])
        want[i] = lin(torch.cat(heads, dim=1), 'fc')
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=1e-5)


def test_stpn_class_order_is_restored(tmp_path, official_state,
                                      released_model):
    """A source whose CLASSES are the 30 names in another order gets its
    fc_cls rows and fc_reg blocks permuted into ImageNet VID order;
    background (row 30) stays last."""
    perm = list(reversed(IMAGENET_VID_CLASSES))
    src = _save_official(tmp_path / 'a.pth', official_state, optimizer=False,
                         meta=_official_meta(perm))
    dst = tmp_path / 'b.pth'
    stpn_tool.convert(str(src), str(dst),
                      target=released_model.state_dict())
    sd = torch.load(dst, weights_only=True)['state_dict']
    cls_w = official_state['detector.roi_head.bbox_head.fc_cls.weight']
    reg_b = official_state['detector.roi_head.bbox_head.fc_reg.bias']
    got_w = sd['roi_head.bbox_head.fc_cls.weight']
    got_b = sd['roi_head.bbox_head.fc_reg.bias']
    for i, name in enumerate(IMAGENET_VID_CLASSES):
        j = perm.index(name)
        assert torch.equal(got_w[i], cls_w[j])
        assert torch.equal(got_b[4 * i:4 * i + 4], reg_b[4 * j:4 * j + 4])
    assert torch.equal(got_w[30], cls_w[30])


def test_stpn_refuses_unsupported_globals(tmp_path, official_state,
                                          released_model):
    """A numpy scalar in meta: the global is named, nothing is written,
    and --allow-numpy converts it."""
    meta = _official_meta()
    meta['seed'] = np.int64(42)
    src = _save_official(tmp_path / 'np.pth', official_state,
                         optimizer=False, meta=meta)
    dst = tmp_path / 'out.pth'
    before = list(torch.serialization.get_safe_globals())
    with pytest.raises(CheckpointConversionError) as err:
        stpn_tool.convert(str(src), str(dst),
                          target=released_model.state_dict())
    # mmstpn's own allow-list (set aside during the read) is back
    after = torch.serialization.get_safe_globals()
    assert all(g in after for g in before)
    msg = str(err.value)
    assert 'np.pth' in msg and 'numpy._core.multiarray.scalar' in msg
    assert '--allow-numpy' in msg
    assert not dst.exists() and os.listdir(tmp_path) == ['np.pth']
    stpn_tool.convert(str(src), str(dst), allow_numpy=True,
                      target=released_model.state_dict())
    assert torch.load(dst, weights_only=True)['meta']['source_epoch'] == 9


def test_stpn_cli(tmp_path, official_state):
    """The command line, with the default (released) config: prints the
    grouped mapping, writes the file."""
    src = _save_official(tmp_path / 'epoch_9.pth', official_state,
                         optimizer=False)
    dst = tmp_path / 'stpn.pth'
    proc = subprocess.run(
        [sys.executable, osp.join(CONVERTERS,
                                  'stpn_official_to_mmstpn.py'),
         str(src), str(dst)],
        env=tool_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ('detector.backbone.stages.{N}.blocks.{N}.attn.w_msa.qkv.weight '
            '-> backbone.stages.{N}.blocks.{N}.attn.w_msa.qkv.weight  x12'
            ) in proc.stdout
    assert 'strict match with' in proc.stdout
    assert len(torch.load(dst, weights_only=True)['state_dict']) == 230


def test_stpn_bad_inputs(tmp_path, official_state, released_model):
    target = released_model.state_dict()
    out = tmp_path / 'out.pth'

    def fails(src, *patterns):
        with pytest.raises(CheckpointConversionError) as err:
            stpn_tool.convert(str(src), str(out), target=target)
        for p in patterns:
            assert re.search(p, str(err.value)), (p, str(err.value))
        assert not out.exists()
        assert not [f for f in os.listdir(tmp_path) if f.startswith('.')]

    # another model: a plain Faster R-CNN R-50 (mmdet layout, no detector.)
    r50 = MODELS.build(
        Config.fromfile(
            osp.join(osp.dirname(__import__('mmdet').__file__), '.mim',
                     'configs', '_base_', 'models',
                     'faster-rcnn_r50_fpn.py')).model)
    r50_file = tmp_path / 'faster_rcnn_r50.pth'
    torch.save(dict(meta={}, state_dict=r50.state_dict()), r50_file)
    fails(r50_file, 'faster_rcnn_r50.pth', 'not a released STPN checkpoint',
          'backbone.conv1.weight')

    # truncated files, both formats
    for zipfile in (True, False):
        full = _save_official(tmp_path / 'full.pth', official_state,
                              zipfile, optimizer=False)
        data = full.read_bytes()
        bad = tmp_path / f'truncated_{zipfile}.pth'
        bad.write_bytes(data[:len(data) // 3])
        full.unlink()
        fails(bad, f'truncated_{zipfile}.pth', 'truncated or corrupted')

    # an STPN with the average predictor (only reduction.*)
    avg = OrderedDict((k, v) for k, v in official_state.items()
                      if not k.startswith('prompt_predictor.')
                      or '.reduction.' in k)
    avg_file = tmp_path / 'avg.pth'
    torch.save(dict(state_dict=avg), avg_file)
    fails(avg_file, 'avg.pth', 'attention-predictor tensors missing',
          'prompt_predictor.query')

    # a stray key and a wrong shape: named, nothing written
    stray = OrderedDict(official_state)
    stray['detector.backbone.extra.weight'] = torch.zeros(1)
    stray_file = tmp_path / 'stray.pth'
    torch.save(dict(state_dict=stray), stray_file)
    fails(stray_file, 'stray.pth', 'not in the model',
          'backbone.extra.weight')
    wide = OrderedDict(official_state)
    wide['prompt_predictor.query'] = torch.zeros(8, 96)
    wide_file = tmp_path / 'wide.pth'
    torch.save(dict(state_dict=wide), wide_file)
    fails(wide_file, 'wide.pth',
          r'backbone.prompt_generator.predictor.queries: \(8, 96\)')

    # missing file
    fails(tmp_path / 'nope.pth', 'nope.pth: no such file')


# --------------------------------------------------------------------------
# Swin initialisations
# --------------------------------------------------------------------------
swin_tool = _tool('swin_to_mmstpn')
SWIN_ARCH = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                 window_size=7)


def _original_relative_position_index(w=7):
    """The original Swin formula (microsoft/Swin-Transformer)."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w),
                                        indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + w - 1
    return rel[..., 0] * (2 * w - 1) + rel[..., 1]


def _original_swin_state(arch=SWIN_ARCH, imagenet=True, seed=0):
    """Original Swin key names and shapes, random values. ImageNet files
    have ``norm`` + ``head`` + ``attn_mask`` buffers; detection files
    (Swin-Transformer-Object-Detection) have ``norm0..3`` instead."""
    gen = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(shape, generator=gen)  # noqa: E731
    c, w = arch['embed_dims'], arch['window_size']
    sd = OrderedDict()
    sd['patch_embed.proj.weight'] = r(c, 3, 4, 4)
    sd['patch_embed.proj.bias'] = r(c)
    sd['patch_embed.norm.weight'], sd['patch_embed.norm.bias'] = r(c), r(c)
    for s, (depth, heads) in enumerate(zip(arch['depths'],
                                           arch['num_heads'])):
        ch = c * 2**s
        for b in range(depth):
            p = f'layers.{s}.blocks.{b}.'
            sd[p + 'norm1.weight'], sd[p + 'norm1.bias'] = r(ch), r(ch)
            sd[p + 'attn.relative_position_bias_table'] = r(
                (2 * w - 1)**2, heads)
            sd[p + 'attn.relative_position_index'] = \
                _original_relative_position_index(w)
            sd[p + 'attn.qkv.weight'], sd[p + 'attn.qkv.bias'] = r(
                3 * ch, ch), r(3 * ch)
            sd[p + 'attn.proj.weight'], sd[p + 'attn.proj.bias'] = r(
                ch, ch), r(ch)
            sd[p + 'norm2.weight'], sd[p + 'norm2.bias'] = r(ch), r(ch)
            sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'] = r(
                4 * ch, ch), r(4 * ch)
            sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'] = r(
                ch, 4 * ch), r(ch)
            if imagenet and b % 2:
                sd[p + 'attn_mask'] = torch.zeros(4, w * w, w * w)
        if s < len(arch['depths']) - 1:
            p = f'layers.{s}.downsample.'
            sd[p + 'reduction.weight'] = r(2 * ch, 4 * ch)
            sd[p + 'norm.weight'], sd[p + 'norm.bias'] = r(4 * ch), r(4 * ch)
    last = c * 2**(len(arch['depths']) - 1)
    if imagenet:
        sd['norm.weight'], sd['norm.bias'] = r(last), r(last)
        sd['head.weight'], sd['head.bias'] = r(1000, last), r(1000)
    else:
        for i in range(len(arch['depths'])):
            sd[f'norm{i}.weight'], sd[f'norm{i}.bias'] = r(c * 2**i), r(
                c * 2**i)
    return sd


def _original_name_to_mmdet(k):
    """Hand-written rename (original -> mmdet), for the value checks."""
    k = k.replace('patch_embed.proj.', 'patch_embed.projection.')
    k = k.replace('layers.', 'stages.', 1).replace('.attn.', '.attn.w_msa.')
    return k.replace('mlp.fc1.', 'ffn.layers.0.0.').replace(
        'mlp.fc2.', 'ffn.layers.1.')


def _original_patch_merging(x, hw, norm_w, norm_b, reduction):
    """The original Swin PatchMerging: (B, H*W, C) -> (B, H/2*W/2, 2C)
    with x0 = (even row, even col), x1 = (odd, even), x2 = (even, odd),
    x3 = (odd, odd) concatenated, LayerNorm(4C), Linear."""
    b, _, c = x.shape
    x = x.view(b, hw[0], hw[1], c)
    parts = [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
             x[:, 1::2, 1::2]]
    x = torch.cat(parts, -1).view(b, -1, 4 * c)
    return F.layer_norm(x, (4 * c, ), norm_w, norm_b) @ reduction.T


def _stpn_swin(**kw):
    return MODELS.build(dict(type='STPNSwin', drop_path_rate=0., **SWIN_ARCH,
                             **kw))


def test_swin_imagenet_original_layout(tmp_path, capsys):
    src_sd = _original_swin_state()
    src = tmp_path / 'swin_tiny_patch4_window7_224.pth'
    torch.save(dict(model=src_sd), src)
    dst = tmp_path / 'swin_mmdet.pth'
    swin_tool.convert(str(src), str(dst))
    printed = capsys.readouterr().out
    assert 'dropped head.weight (classification head)' in printed
    assert 'attn_mask (shift mask buffer, recomputed)  x4' in printed
    assert 'left to initialisation: norm0.* (2), norm1.* (2)' in printed
    assert ('layers.{N}.downsample.reduction.weight -> backbone.stages.{N}.'
            'downsample.reduction.weight  [reordered to nn.Unfold order]  x3'
            ) in printed

    out = torch.load(dst, weights_only=True)['state_dict']
    assert all(k.startswith('backbone.') for k in out)
    # the documented init path: Pretrained + convert_weights=False
    model = _stpn_swin(init_cfg=dict(type='Pretrained',
                                     checkpoint=str(dst)))
    model.init_weights()
    msd = model.state_dict()
    n = 0
    for k, v in src_sd.items():
        if k.startswith(('head.', 'norm.')) or k.endswith('attn_mask') or \
                '.downsample.' in k:
            continue
        assert torch.equal(msd[_original_name_to_mmdet(k)], v), k
        n += 1
    assert n == 4 + 8 * 14  # patch embedding + 14 tensors per block
    # patch merging: mmdet's Unfold layout gives the original's output
    for s in range(3):
        p = f'layers.{s}.downsample.'
        merge = model.stages[s].downsample
        ch = 16 * 2**s
        x = torch.randn(2, 8 * 8, ch)
        got, _ = merge(x, (8, 8))
        want = _original_patch_merging(x, (8, 8), src_sd[p + 'norm.weight'],
                                       src_sd[p + 'norm.bias'],
                                       src_sd[p + 'reduction.weight'])
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_swin_detection_original_layout_with_prefix(tmp_path, capsys):
    """The COCO Mask R-CNN Swin checkpoint STPN started from: original
    names WITH ``backbone.`` (mmdet 3.3's convert_weights=True fails on it),
    neck/head tensors beside."""
    from mmdet.models.backbones import SwinTransformer
    src_sd = OrderedDict(('backbone.' + k, v) for k, v in
                         _original_swin_state(imagenet=False).items())
    src_sd['neck.lateral_convs.0.conv.weight'] = torch.zeros(8, 16, 1, 1)
    src_sd['roi_head.mask_head.conv_logits.weight'] = torch.zeros(80, 8, 1,
                                                                  1)
    src = tmp_path / 'mask_rcnn_swin_tiny_patch4_window7.pth'
    torch.save(dict(meta=dict(epoch=36), state_dict=src_sd,
                    optimizer=dict(state={}, param_groups=[])), src)
    with pytest.raises(KeyError):  # the hazard this converter removes
        SwinTransformer(**SWIN_ARCH, convert_weights=True,
                        init_cfg=ConfigDict(type='Pretrained',
                                            checkpoint=str(src))
                        ).init_weights()

    dst = tmp_path / 'out.pth'
    swin_tool.convert(str(src), str(dst))
    printed = capsys.readouterr().out
    assert 'dropped neck.lateral_convs.{N}.conv.weight (not a backbone' \
        in printed
    out = torch.load(dst, weights_only=True)['state_dict']
    model = SwinTransformer(**SWIN_ARCH, init_cfg=None)
    result = model.load_state_dict(
        {k[len('backbone.'):]: v for k, v in out.items()}, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for k, v in src_sd.items():
        if k.startswith('backbone.') and '.downsample.' not in k:
            name = _original_name_to_mmdet(k[len('backbone.'):])
            assert torch.equal(model.state_dict()[name], v), k


@pytest.mark.parametrize('prefix', ['backbone.', ''])
def test_swin_mmdet_layout_copies(tmp_path, prefix):
    """mmdet-layout input (e.g. an mmdet model-zoo backbone): copied, and
    checked against the released config's STPNSwin-T (predictor left to
    its initialisation)."""
    from mmdet.models.backbones import SwinTransformer
    src_sd = SwinTransformer(embed_dims=96, depths=(2, 2, 6, 2),
                             num_heads=(3, 6, 12, 24)).state_dict()
    src = tmp_path / 'swin_t_mmdet.pth'
    torch.save(dict(state_dict=OrderedDict(
        (prefix + k, v) for k, v in src_sd.items())), src)
    dst = tmp_path / 'out.pth'
    report = swin_tool.convert(str(src), str(dst), config=RELEASED_CFG)
    assert any('prompt_generator.*' in n for n in report.notes)
    out = torch.load(dst, weights_only=True)['state_dict']
    assert list(out) == ['backbone.' + k for k in src_sd]
    assert all(torch.equal(out['backbone.' + k], v)
               for k, v in src_sd.items())


def test_swin_bad_inputs(tmp_path):
    out = tmp_path / 'out.pth'
    r50 = tmp_path / 'resnet50.pth'
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7),
                'layer1.0.conv1.weight': torch.zeros(64, 64, 1, 1)}, r50)
    with pytest.raises(CheckpointConversionError,
                       match='resnet50.pth: not a Swin checkpoint'):
        swin_tool.convert(str(r50), str(out))
    # a window-12 Swin checked against the released (window 7) config
    src = tmp_path / 'swin_w12.pth'
    arch = dict(SWIN_ARCH, embed_dims=96, depths=(2, 2, 6, 2),
                num_heads=(3, 6, 12, 24), window_size=12)
    torch.save(dict(model=_original_swin_state(arch)), src)
    with pytest.raises(CheckpointConversionError,
                       match=r'swin_w12.pth.*relative_position_bias_table: '
                       r'\(529, 3\)'):
        swin_tool.convert(str(src), str(out), config=RELEASED_CFG)
    assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith('.')]


# --------------------------------------------------------------------------
# ViT -> STPNViT
# --------------------------------------------------------------------------
vit_tool = _tool('vit_to_mmstpn')
VIT = dict(embed_dims=32, depth=2, num_heads=2, img_size=64)  # grid 4x4


def _timm_vit_state(prefix_tokens=('cls_token', ), patch=16, grid=4,
                    seed=0, dims=32, depth=2):
    """timm ``VisionTransformer`` key names and shapes (DeiT / AugReg
    layout), random values at trained-layer scales."""
    gen = torch.Generator().manual_seed(seed)
    r = lambda *s, scale=1.: torch.randn(s, generator=gen) * scale  # noqa
    d = dims
    sd = OrderedDict()
    for name in prefix_tokens:
        sd[name] = r(1, 1, d, scale=0.02)
    sd['pos_embed'] = r(1, len(prefix_tokens) + grid * grid, d, scale=0.5)
    sd['patch_embed.proj.weight'] = r(d, 3, patch, patch,
                                      scale=(3 * patch * patch)**-0.5)
    sd['patch_embed.proj.bias'] = r(d, scale=0.1)
    for i in range(depth):
        p = f'blocks.{i}.'
        for n in ('norm1', 'norm2'):
            sd[p + n + '.weight'] = 1 + r(d, scale=0.1)
            sd[p + n + '.bias'] = r(d, scale=0.1)
        for n, (o, i_) in (('attn.qkv', (3 * d, d)), ('attn.proj', (d, d)),
                           ('mlp.fc1', (4 * d, d)), ('mlp.fc2', (d, 4 * d))):
            sd[p + n + '.weight'] = r(o, i_, scale=i_**-0.5)
            sd[p + n + '.bias'] = r(o, scale=0.1)
    sd['norm.weight'], sd['norm.bias'] = 1 + r(d, scale=0.1), r(d, scale=.1)
    sd['head.weight'], sd['head.bias'] = r(10, d), r(10)
    if 'dist_token' in prefix_tokens:
        sd['head_dist.weight'], sd['head_dist.bias'] = r(10, d), r(10)
    return sd


def _naive_vit(sd, img, num_heads, num_prefix):
    """timm's ViT forward written out, WITHOUT prefix tokens (what STPNViT
    is): patchify, + position table, pre-norm blocks (per-head softmax
    attention, exact-erf GELU MLP), final LayerNorm (eps 1e-6)."""
    sd = {k: v.double() for k, v in sd.items()}

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu)**2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-6) * sd[name + '.weight'] + \
            sd[name + '.bias']

    def lin(x, name):
        return x @ sd[name + '.weight'].T + sd[name + '.bias']

    b, c, h, w = img.shape
    weight = sd['patch_embed.proj.weight']
    p = weight.shape[-1]
    patches = img.double().reshape(b, c, h // p, p, w // p, p).permute(
        0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), c * p * p)
    x = patches @ weight.reshape(weight.shape[0], -1).T + \
        sd['patch_embed.proj.bias']
    x = x + sd['pos_embed'][:, num_prefix:]
    d = x.shape[-1]
    hd = d // num_heads
    depth = 1 + max(int(k.split('.')[1]) for k in sd if k.startswith('bl'))
    for i in range(depth):
        blk = f'blocks.{i}.'
        qkv = lin(ln(x, blk + 'norm1'), blk + 'attn.qkv')
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        heads = []
        for hh in range(num_heads):
            sl = slice(hh * hd, (hh + 1) * hd)
            att = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) /
                                math.sqrt(hd), dim=-1)
            heads.append(att @ v[..., sl])
        x = x + lin(torch.cat(heads, -1), blk + 'attn.proj')
        y = lin(ln(x, blk + 'norm2'), blk + 'mlp.fc1')
        y = 0.5 * y * (1 + torch.erf(y / math.sqrt(2)))
        x = x + lin(y, blk + 'mlp.fc2')
    return ln(x, 'norm')


def _to_mmpretrain(sd):
    """timm names -> mmpretrain VisionTransformer names (hand-written)."""
    out = OrderedDict()
    for k, v in sd.items():
        k = k.replace('patch_embed.proj.', 'patch_embed.projection.')
        k = re.sub(r'^blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.', k)
        k = re.sub(r'^blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.', k)
        k = re.sub(r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.',
                   k)
        k = re.sub(r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.',
                   k)
        k = re.sub(r'^blocks\.', 'layers.', k)
        k = re.sub(r'^norm\.', 'ln1.', k)
        if k.startswith('head.'):
            k = 'head.layers.' + k
        out[k if k.startswith('head.') else 'backbone.' + k] = v
    return out


def _stpn_vit(**kw):
    cfg = dict(type='STPNViT', num_prompts=0, drop_path_rate=0., **VIT)
    cfg.update(kw)
    return MODELS.build(cfg).eval()


def _load_converted(model, dst):
    sd = torch.load(dst, weights_only=True)['state_dict']
    result = model.load_state_dict(
        {k[len('backbone.'):]: v for k, v in sd.items()}, strict=False)
    assert not result.unexpected_keys
    assert not result.missing_keys  # num_prompts=0: no predictor
    return model


@pytest.mark.parametrize('layout', ['timm_no_cls', 'deit', 'deit_distilled',
                                    'mae', 'mmpretrain'])
def test_vit_equals_naive_timm_forward(tmp_path, layout):
    """STPNViT (num_prompts=0) loaded from each layout computes the
    final-norm patch tokens of a timm ViT without class token on the same
    block tensors (reference written out above; timm itself cannot import
    here without torchvision)."""
    prefix = dict(timm_no_cls=(), deit=('cls_token', ),
                  deit_distilled=('cls_token', 'dist_token'),
                  mae=('cls_token', ), mmpretrain=('cls_token', ))[layout]
    timm_sd = _timm_vit_state(prefix)
    if layout == 'mae':
        src_obj = dict(model=OrderedDict(
            timm_sd, mask_token=torch.zeros(1, 1, 16),
            **{'decoder_embed.weight': torch.zeros(16, 32),
               'decoder_pos_embed': torch.zeros(1, 17, 16),
               'decoder_blocks.0.norm1.weight': torch.zeros(16)}))
    elif layout == 'mmpretrain':
        src_obj = dict(meta=dict(epoch=300), state_dict=_to_mmpretrain(
            timm_sd))
    else:
        src_obj = timm_sd
    src = tmp_path / f'{layout}.pth'
    torch.save(src_obj, src)
    dst = tmp_path / 'vit_mmstpn.pth'
    vit_tool.convert(str(src), str(dst), img_size=64)
    model = _load_converted(_stpn_vit(), dst)

    img = torch.randn(2, 3, 64, 48)  # 4x3 grid: the table is resized
    # at run time by STPNViT; the reference gets the same resized table
    ref_sd = OrderedDict(timm_sd)
    table = timm_sd['pos_embed'][:, len(prefix):].reshape(1, 4, 4, 32)
    ref_sd['pos_embed'] = F.interpolate(
        table.permute(0, 3, 1, 2), size=(4, 3), mode='bicubic',
        align_corners=False).flatten(2).transpose(1, 2)
    with torch.no_grad():
        got, hw = model.support_embeddings(img)
    assert tuple(hw) == (4, 3)
    want = _naive_vit(ref_sd, img, num_heads=2, num_prefix=0)
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=1e-5)

    # and at the table's own grid, no resize anywhere
    img = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        got, _ = model.support_embeddings(img)
    torch.testing.assert_close(
        got.double(), _naive_vit(timm_sd, img, 2, len(prefix)),
        atol=1e-5, rtol=1e-5)


def test_vit_position_table_resized_to_config(tmp_path, capsys):
    """A 4x4 table converted for img_size 96 (6x6) equals what STPNViT does
    at run time with the 4x4 table: same bicubic resize, same outputs."""
    timm_sd = _timm_vit_state()
    src = tmp_path / 'deit.pth'
    torch.save(timm_sd, src)
    cfg_file = tmp_path / 'vit_cfg.py'
    cfg_file.write_text(
        'model = dict(backbone=dict(type="STPNViT", img_size=96, '
        'embed_dims=32, depth=2, num_heads=2, num_prompts=5, predictor='
        'dict(type="AttentionDVPPredictor", num_heads=4)))\n')
    dst96, dst64 = tmp_path / 'vit96.pth', tmp_path / 'vit64.pth'
    vit_tool.convert(str(src), str(dst96), config=str(cfg_file))
    printed = capsys.readouterr().out
    assert 'resized bicubically 4x4 -> 6x6' in printed
    assert "left to initialisation: ['prompt_generator']" in printed
    vit_tool.convert(str(src), str(dst64), img_size=64)
    pos = torch.load(dst96, weights_only=True)['state_dict'][
        'backbone.pos_embed']
    assert pos.shape == (1, 36, 32)
    m96 = _load_converted(_stpn_vit(img_size=96), dst96)
    m64 = _load_converted(_stpn_vit(img_size=64), dst64)
    img = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        a, _ = m96.support_embeddings(img)
        b, _ = m64.support_embeddings(img)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('split', ['qkv_linears', 'q_v_bias'])
def test_vit_split_qkv_layouts(tmp_path, split):
    """Separate q/k/v Linears, or q_bias/v_bias with a bias-free qkv, are
    stacked into STPNViT's qkv (q, k, v order)."""
    timm_sd = _timm_vit_state(())
    src_sd = OrderedDict()
    for k, v in timm_sd.items():
        if '.attn.qkv.' not in k:
            src_sd[k] = v
            continue
        base, kind = k.rsplit('.qkv.', 1)
        if split == 'qkv_linears':
            for c, part in zip('qkv', v.chunk(3)):
                src_sd[f'{base}.{c}.{kind}'] = part
        elif kind == 'weight':
            src_sd[k] = v
        else:
            q, _, vv = v.chunk(3)
            src_sd[f'{base}.q_bias'], src_sd[f'{base}.v_bias'] = q, vv
    if split == 'q_v_bias':  # the reference's k bias is then zero
        for i in range(2):
            b = timm_sd[f'blocks.{i}.attn.qkv.bias'].clone()
            b[32:64] = 0
            timm_sd[f'blocks.{i}.attn.qkv.bias'] = b
    src = tmp_path / f'{split}.pth'
    torch.save(src_sd, src)
    dst = tmp_path / 'out.pth'
    vit_tool.convert(str(src), str(dst), img_size=64)
    model = _load_converted(_stpn_vit(), dst)
    img = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        got, _ = model.support_embeddings(img)
    torch.testing.assert_close(got.double(), _naive_vit(timm_sd, img, 2, 0),
                               atol=1e-5, rtol=1e-5)


SOT_CONFIG = osp.join(REPO, 'tests', 'data', 'configs',
                      'tiny_stpn_sot_got10k.py')


def _resized_table(pos, num_prefix, grid):
    """The source table without prefix entries, bicubically resized to
    grid x grid (written out for the reference)."""
    g0 = math.isqrt(pos.shape[1] - num_prefix)
    table = pos[:, num_prefix:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
    table = F.interpolate(table, size=(grid, grid), mode='bicubic',
                          align_corners=False)
    return table.flatten(2).transpose(1, 2)


def test_vit_fills_tracker_template_table(tmp_path, capsys):
    """A tracker config (template_size 32, search img_size 64): pos_embed is
    the 4x4 search table, pos_embed_template the same pretrained table
    resized to 2x2; the tracker loads the file through init_cfg=Pretrained
    with only the predictor left to initialisation."""
    timm_sd = _timm_vit_state(grid=8)  # a 128-px table: both are resized
    src = tmp_path / 'deit.pth'
    torch.save(timm_sd, src)
    dst = tmp_path / 'tracker_vit.pth'
    vit_tool.convert(str(src), str(dst), config=SOT_CONFIG)
    printed = capsys.readouterr().out
    assert 'pos_embed -> pos_embed_template' in printed
    assert 'resized bicubically 8x8 -> 2x2' in printed
    assert 'template_size 32 (grid 2x2)' in printed
    assert "left to initialisation: ['prompt_generator']" in printed
    saved = torch.load(dst, weights_only=True)
    sd = saved['state_dict']
    assert saved['meta']['template_size'] == 32
    torch.testing.assert_close(sd['backbone.pos_embed'],
                               _resized_table(timm_sd['pos_embed'], 1, 4))
    torch.testing.assert_close(sd['backbone.pos_embed_template'],
                               _resized_table(timm_sd['pos_embed'], 1, 2))
    assert not any(k.startswith('backbone.pyramid.') for k in sd)

    cfg = Config.fromfile(SOT_CONFIG).model
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(dst),
                                 prefix='backbone.')
    tracker = MODELS.build(cfg)
    tracker.init_weights()
    loaded = tracker.backbone.state_dict()
    for key, value in sd.items():
        torch.testing.assert_close(loaded[key[len('backbone.'):]], value,
                                   msg=key)
    assert set(loaded) - {k[len('backbone.'):] for k in sd} == {
        k for k in loaded if k.startswith('prompt_generator.predictor.')}

    # without a config: --template-size on the command line; a detection
    # conversion (no template size) has no template table
    out = tmp_path / 'cli.pth'
    vit_tool.main([str(src), str(out), '--img-size', '64',
                   '--template-size', '32'])
    torch.testing.assert_close(
        torch.load(out, weights_only=True)['state_dict'][
            'backbone.pos_embed_template'], sd['backbone.pos_embed_template'])
    det = tmp_path / 'det.pth'
    vit_tool.convert(str(src), str(det), img_size=64)
    det_sd = torch.load(det, weights_only=True)
    assert 'backbone.pos_embed_template' not in det_sd['state_dict']
    assert 'template_size' not in det_sd['meta']


def test_vit_bad_inputs(tmp_path):
    out = tmp_path / 'out.pth'
    cfg_file = tmp_path / 'vit_cfg.py'
    cfg_file.write_text(
        'model = dict(backbone=dict(type="STPNViT", img_size=64, '
        'embed_dims=32, depth=2, num_heads=2))\n')

    def fails(sd, pattern, name='bad.pth', **kw):
        src = tmp_path / name
        torch.save(sd, src)
        with pytest.raises(CheckpointConversionError) as err:
            vit_tool.convert(str(src), str(out), **kw)
        assert name in str(err.value)
        assert re.search(pattern, str(err.value)), str(err.value)
        assert not out.exists()
        assert not [f for f in os.listdir(tmp_path) if f.startswith('.')]

    fails(_timm_vit_state(patch=8, grid=8), r'patch size 8x8 .*'
          r'model.backbone.patch_size of .*vit_cfg.py=16', 'vit_p8.pth',
          config=str(cfg_file))
    fails(_timm_vit_state(dims=48), r'width 48 .*embed_dims.*=32',
          'vit_w48.pth', config=str(cfg_file))
    fails(_timm_vit_state(depth=3), r'3 blocks .*depth.*=2', 'vit_d3.pth',
          config=str(cfg_file))
    layer_scale = _timm_vit_state()
    layer_scale['blocks.0.ls1.gamma'] = torch.ones(32)
    fails(layer_scale, r'no place in STPNViT.*blocks.0.ls1.gamma',
          'deit3.pth')
    swin = _original_swin_state()
    fails(swin, 'not a ViT checkpoint', 'swin.pth')
    full = tmp_path / 'full.pth'
    torch.save(_timm_vit_state(), full)
    (tmp_path / 'cut.pth').write_bytes(full.read_bytes()[:2000])
    full.unlink()
    with pytest.raises(CheckpointConversionError,
                       match='cut.pth: cannot read it .*truncated'):
        vit_tool.convert(str(tmp_path / 'cut.pth'), str(out))


# --------------------------------------------------------------------------
# shared helpers and command lines
# --------------------------------------------------------------------------
def test_save_atomic_keeps_old_file_on_failure(tmp_path, monkeypatch):
    from mmstpn.utils import checkpoint_io
    dst = tmp_path / 'model.pth'
    dst.write_bytes(b'old')

    def broken_save(obj, f):
        f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(checkpoint_io.torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        checkpoint_io.save_atomic(dict(state_dict={}), str(dst))
    assert dst.read_bytes() == b'old' and os.listdir(tmp_path) == [
        'model.pth']
    monkeypatch.undo()
    with pytest.raises(TypeError, match=r"\['meta'\]\['seed'\] is a int64"):
        checkpoint_io.save_atomic(dict(meta=dict(seed=np.int64(1))),
                                  str(dst))
    assert dst.read_bytes() == b'old'


def test_converter_command_lines_exit_with_the_error(tmp_path, capsys):
    bad = tmp_path / 'r50.pth'
    torch.save({'conv1.weight': torch.zeros(1)}, bad)
    for tool, pattern in ((swin_tool, 'not a Swin checkpoint'),
                          (vit_tool, 'not a ViT checkpoint'),
                          (stpn_tool, 'not a released STPN checkpoint')):
        with pytest.raises(SystemExit) as err:
            tool.main([str(bad), str(tmp_path / 'out.pth')])
        assert str(err.value).startswith('error: ') and pattern in str(
            err.value) and 'r50.pth' in str(err.value)
    src = tmp_path / 'vit.pth'
    torch.save(_timm_vit_state(), src)
    vit_tool.main([str(src), str(tmp_path / 'v.pth'), '--img-size', '64',
                   '--verbose'])
    assert 'blocks.1.mlp.fc2.bias -> blocks.1.ffn.layers.1.bias' in \
        capsys.readouterr().out
    assert (tmp_path / 'v.pth').exists() and not (tmp_path /
                                                  'out.pth').exists()
