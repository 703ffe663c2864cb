"""OSTrack-style candidate elimination (CE) in STPNOneStreamViT's joint pass
against a naive reference written here (blocks one by one, full softmax
attention, rank by the template-center rows, gather, scatter back with
zeros)."""
import importlib.util
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmstpn.models.layers.candidate_elimination import (num_kept,
                                                        template_center_index)
from mmstpn.structures import ClipBatch, ClipMeta
from tests.conftest import TINY_VIT
from .sot_utils import TINY_TRACKER_VIT, tiny_tracker, train_samples

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
# 4 blocks, patch 8: template 32 -> 4x4 tokens, search 64 -> 8x8 tokens
CE_VIT = dict(TINY_TRACKER_VIT, depth=4, patch_size=8, num_prompts=3)


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dict(CE_VIT, **kwargs))
    model.init_weights()
    return model.eval()


def inputs(n=3, template=32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, template, template, generator=g),
            torch.randn(n, 3, 64, 64, generator=g),
            torch.randn(n, 3, 32, generator=g))


def naive_ce(model, template, search, prompts, ce):
    """Naive CE joint pass; ``ce`` = {block: keep ratio}. Returns the
    (B, Ls, C) final search map (zeros at the dropped positions) and, per
    item, the set of kept grid positions."""
    w = model.patch_embed.projection
    patch = w.weight.shape[-1]

    def embed(x, table, grid):
        t = F.conv2d(x, w.weight, w.bias, stride=patch)
        hw = t.shape[-2:]
        if tuple(hw) != (grid, grid):
            table = F.interpolate(
                table.reshape(1, grid, grid, -1).permute(0, 3, 1, 2),
                size=hw, mode='bicubic', align_corners=False)
            table = table.flatten(2).transpose(1, 2)
        return t.flatten(2).transpose(1, 2) + table, tuple(hw)

    zt, (ht, wt) = embed(template, model.pos_embed_template,
                         model.template_grid)
    xs, _ = embed(search, model.pos_embed, model.pos_grid)
    p, lt, ls = prompts.shape[1], zt.shape[1], xs.shape[1]
    # template center: middle token(s) of each side, written out by hand
    mid_r = [ht // 2] if ht % 2 else [ht // 2 - 1, ht // 2]
    mid_c = [wt // 2] if wt % 2 else [wt // 2 - 1, wt // 2]
    center = [p + r * wt + c for r in mid_r for c in mid_c]
    out = []
    for b in range(template.shape[0]):  # item by item
        x = torch.cat([prompts[b:b + 1], zt[b:b + 1], xs[b:b + 1]], 1)
        pos = list(range(ls))  # grid position of each search token
        for i, blk in enumerate(model.blocks):
            n, c = x.shape[1], x.shape[2]
            heads = blk.num_heads
            y = F.layer_norm(x, (c, ), blk.norm1.weight, blk.norm1.bias,
                             1e-6)
            q, k, v = blk.qkv(y).view(1, n, 3, heads, c // heads).permute(
                2, 0, 3, 1, 4)
            att = (q @ k.transpose(-1, -2) * (c // heads)**-0.5).softmax(-1)
            x = x + blk.proj((att @ v).transpose(1, 2).reshape(1, n, c))
            y = F.layer_norm(x, (c, ), blk.norm2.weight, blk.norm2.bias,
                             1e-6)
            fc1, fc2 = blk.ffn.layers[0][0], blk.ffn.layers[1]
            x = x + fc2(F.gelu(fc1(y)))
            if i in ce:  # rank AFTER the (token-wise) FFN: same tokens
                cur = len(pos)
                keep = math.ceil(round(ce[i] * cur, 6))
                score = att[0][:, center, p + lt:].mean(0).mean(0)
                order = sorted(range(cur), key=lambda j: -score[j].item())
                kept = sorted(order[:keep])
                x = torch.cat([x[:, :p + lt], x[:, [p + lt + j
                                                    for j in kept]]], 1)
                pos = [pos[j] for j in kept]
        x = F.layer_norm(x, (x.shape[-1], ), model.norm.weight,
                         model.norm.bias, 1e-6)
        full = torch.zeros(ls, x.shape[-1])
        for j, g in enumerate(pos):
            full[g] = x[0, p + lt + j]
        out.append((full, set(pos)))
    return torch.stack([o[0] for o in out]), [o[1] for o in out]


def test_ce_off_is_the_current_code_path_bit_for_bit():
    """Default (off) and keep_ratio 1.0 at CE blocks give exactly the
    tokens of the plain ``_run_blocks`` path."""
    off = build()
    assert off.ce_ratios == {}
    template, search, prompts = inputs()
    with torch.no_grad():
        t_tokens, _ = off._embed(template, template=True)
        s_tokens, hw = off._embed(search)
        seq = off.prepend_prompts(prompts,
                                  torch.cat([t_tokens, s_tokens], 1), search)
        ref = off._run_blocks(seq, hw, 3)
        tokens, tmpl, _ = off.forward_joint(template, search, prompts,
                                            return_template=True)
        assert torch.equal(tokens, ref[:, 16:])
        assert torch.equal(tmpl, ref[:, :16])
        one = build(ce_loc=(1, 2), ce_keep_ratio=1.0)
        assert torch.equal(one.forward_joint(template, search, prompts)[0],
                           tokens)
        # a ratio keeping every token (ceil(0.99 * 64) = 64) is also off
        near = build(ce_loc=(0, ), ce_keep_ratio=0.99)
        assert torch.equal(near.forward_joint(template, search, prompts)[0],
                           tokens)


@pytest.mark.parametrize('ce,template_side,num_prompts', [
    ({1: 0.7, 2: 0.7}, 32, 3),  # the toy setting: 64 -> 45 -> 32 tokens
    ({0: 0.5, 3: 0.6}, 32, 0),  # without prompts
    ({0: 0.8, 1: 0.5, 2: 0.9}, 24, 3),  # odd 3x3 template (resized table)
])
def test_ce_matches_the_naive_reference(ce, template_side, num_prompts):
    model = build(ce_loc=tuple(ce), ce_keep_ratio=tuple(ce.values()))
    template, search, prompts = inputs(template=template_side)
    prompts = prompts[:, :num_prompts]
    with torch.no_grad():
        tokens, tmpl, hw = model.forward_joint(
            template, search, prompts, return_template=True)
        ref, kept = naive_ce(model, template, search, prompts, ce)
    n = 64
    for i in sorted(ce):
        n = math.ceil(round(ce[i] * n, 6))
    assert hw == (8, 8) and tokens.shape == (3, 64, 32)
    assert tmpl.shape[1] == (template_side // 8)**2
    for b in range(3):
        assert len(kept[b]) == n
        nonzero = set((tokens[b].abs().sum(-1) > 0).nonzero()[:, 0].tolist())
        assert nonzero == kept[b]  # zeros exactly at the dropped positions
    assert kept[0] != kept[1] or kept[1] != kept[2]  # items rank their own
    torch.testing.assert_close(tokens, ref, atol=1e-5, rtol=1e-4)


def test_ce_batch_equals_items_one_by_one():
    model = build(ce_loc=(1, 2), ce_keep_ratio=0.7)
    template, search, prompts = inputs()
    with torch.no_grad():
        batch, _ = model.forward_joint(template, search, prompts)
        single = torch.cat([
            model.forward_joint(template[i:i + 1], search[i:i + 1],
                                prompts[i:i + 1])[0] for i in range(3)
        ])
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)
    assert (batch.abs().sum(-1) == 0).sum().item() == 3 * (64 - 32)


def test_prompts_and_template_are_never_eliminated():
    """Sequence lengths entering each block: P + Lt always, search tokens
    64, 64, 45, 32 (CE after blocks 1 and 2's attention)."""
    model = build(ce_loc=(1, 2), ce_keep_ratio=0.7)
    lengths = []
    for blk in model.blocks:
        blk.register_forward_pre_hook(
            lambda m, args: lengths.append(args[0].shape[1]))
    seen = []
    real = type(model.blocks[0]).forward_ce

    def spy(self, x, rows, start, keep):
        seen.append((x.shape[1], rows.tolist(), start, keep))
        return real(self, x, rows, start, keep)

    for blk in model.blocks:
        blk.forward_ce = spy.__get__(blk)
    template, search, prompts = inputs()
    with torch.no_grad():
        _, tmpl, _ = model.forward_joint(template, search, prompts,
                                         return_template=True)
    # blocks 0 and 3 run plainly (hooks), 1 and 2 through forward_ce
    assert lengths == [3 + 16 + 64, 3 + 16 + 32]
    center = [3 + 5, 3 + 6, 3 + 9, 3 + 10]  # 4x4 template: rows/cols 1..2
    assert seen == [(3 + 16 + 64, center, 19, 45),
                    (3 + 16 + 45, center, 19, 32)]
    assert (tmpl.abs().sum(-1) > 0).all()


def test_ce_in_training_with_checkpointing_and_backward():
    """CE applies in training too; with_cp gives the same tokens, and the
    loss reaches the predictor and the blocks through the kept tokens."""
    template, search, _ = inputs(n=2)
    clips = ClipBatch(torch.cat([search[:, None], search[:, None] + 0.1], 1),
                      [ClipMeta('a', 3, 1), ClipMeta('b', 0, 0)])
    outs = []
    for with_cp in (False, True):
        model = build(ce_loc=(1, 2), ce_keep_ratio=0.7,
                      with_cp=with_cp).train()
        tokens, hw, prompts = model.forward_tracking(template, clips)
        assert prompts.requires_grad and tokens.requires_grad
        assert (tokens.abs().sum(-1) == 0).sum().item() == 2 * 32
        (tokens**2).sum().backward()
        outs.append((tokens.detach(), model.blocks[3].qkv.weight.grad,
                     model.predictor.queries.grad))
    torch.testing.assert_close(outs[0][0], outs[1][0])
    for a, b in zip(outs[0][1:], outs[1][1:]):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # and the whole tracker trains with it
    tracker = tiny_tracker(ce_loc=(0, ), ce_keep_ratio=0.5).train()
    losses = tracker.loss(
        dict(template=template, search=clips),
        train_samples([[10, 12, 30, 40], [30, 20, 50, 34]]))
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()


def test_center_tokens_and_kept_counts():
    assert template_center_index((8, 8)).tolist() == [27, 28, 35, 36]
    assert template_center_index((3, 3)).tolist() == [4]
    assert template_center_index((2, 2)).tolist() == [0, 1, 2, 3]
    assert template_center_index((1, 1)).tolist() == [0]
    assert template_center_index((2, 3)).tolist() == [1, 4]
    # ViT-B: 256 -> 180 -> 126 -> 89 at 0.7; float noise does not add one
    assert [num_kept(n, .7) for n in (256, 180, 126, 10)] == \
        [180, 126, 89, 7]
    assert num_kept(3, 0.01) == 1


@pytest.mark.parametrize('kwargs,match', [
    (dict(ce_loc=(4, )), 'ce_loc must be distinct block indices in 0..3'),
    (dict(ce_loc=(1, 1)), 'ce_loc must be distinct'),
    (dict(ce_loc=(1, ), ce_keep_ratio=0.), 'ce_keep_ratio'),
    (dict(ce_loc=(1, ), ce_keep_ratio=1.5), 'ce_keep_ratio'),
    (dict(ce_loc=(1, 2), ce_keep_ratio=(0.7, )), 'one per ce_loc'),
])
def test_bad_ce_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(CE_VIT, **kwargs))


def test_ce_on_a_detection_backbone_is_an_error():
    with pytest.raises(ValueError, match='needs a tracker backbone'):
        MODELS.build(dict(TINY_VIT, ce_loc=(0, ), ce_keep_ratio=0.7))
    MODELS.build(dict(TINY_VIT, ce_loc=()))  # off: fine


def test_benchmark_sot_runs_with_ce(tmp_path):
    """tools/analysis_tools/benchmark_sot.py through the online predict
    path of both trackers with CE on (no time is asserted)."""
    spec = importlib.util.spec_from_file_location(
        'benchmark_sot',
        osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_sot.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cfg = tmp_path / 'tiny.py'
    cfg.write_text("""
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)
model = dict(
    type='OneStreamTracker',
    data_preprocessor=dict(type='SOTDataPreprocessor'),
    backbone=dict(type='STPNOneStreamViT', img_size=64, template_size=32,
                  patch_size=8, embed_dims=32, depth=4, num_heads=2,
                  num_prompts=2,
                  test_support=dict(mode='online', num_support=2, stride=2)),
    head=dict(type='TrackCenterHead', feat_channels=16, num_convs=2),
    template_size=32, search_size=64)
""")
    built = []
    real_build = mod.build

    def spy(cfg, num_prompts=None):
        built.append(real_build(cfg, num_prompts))
        return built[-1]

    mod.build = spy
    res = mod.main([
        str(cfg), '--frames', '4', '--img-size', '80', '96',
        '--cfg-options', 'model.backbone.ce_loc=(1,2)',
        'model.backbone.ce_keep_ratio=0.7'
    ])
    assert res['ratio'] > 0
    assert [m.backbone.ce_ratios for m in built] == [{1: 0.7, 2: 0.7}] * 2
