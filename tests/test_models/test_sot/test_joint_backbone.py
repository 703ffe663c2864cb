"""STPNOneStreamViT (template_size, forward_joint,
forward_tracking) against a naive joint ViT written here."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmstpn.structures import ClipBatch, ClipMeta
from tests.conftest import TINY_VIT
from .sot_utils import TINY_TRACKER_VIT


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dict(TINY_TRACKER_VIT, **kwargs))
    model.init_weights()
    return model.eval()


def naive_joint(model, template, search, prompts=None):
    """Plain joint ViT: [prompts, template + pos_t, search + pos_s], naive
    softmax attention, LN / FFN by hand; returns the search tokens."""
    w = model.patch_embed.projection
    patch = w.weight.shape[-1]

    def embed(x, table):
        t = F.conv2d(x, w.weight, w.bias, stride=patch).flatten(2).transpose(
            1, 2)
        return t + table

    x = torch.cat(
        [embed(template, model.pos_embed_template),
         embed(search, model.pos_embed)], dim=1)
    p = 0 if prompts is None else prompts.shape[1]
    if p:
        x = torch.cat([prompts, x], dim=1)
    for blk in model.blocks:
        b, n, c = x.shape
        heads = blk.num_heads
        y = F.layer_norm(x, (c, ), blk.norm1.weight, blk.norm1.bias, 1e-6)
        q, k, v = (blk.qkv(y).view(b, n, 3, heads, c // heads).permute(
            2, 0, 3, 1, 4))
        att = (q @ k.transpose(-1, -2) * (c // heads)**-0.5).softmax(-1)
        x = x + blk.proj((att @ v).transpose(1, 2).reshape(b, n, c))
        y = F.layer_norm(x, (c, ), blk.norm2.weight, blk.norm2.bias, 1e-6)
        fc1, fc2 = blk.ffn.layers[0][0], blk.ffn.layers[1]
        x = x + fc2(F.gelu(fc1(y)))
    x = F.layer_norm(x, (x.shape[-1], ), model.norm.weight, model.norm.bias,
                     1e-6)
    return x[:, p + template.flatten(2).shape[-1] // patch**2:]


def test_num_prompts_0_is_a_plain_joint_vit(monkeypatch):
    model = build(num_prompts=0)
    assert model.predictor is None

    def no_support(*args, **kwargs):
        raise AssertionError('the baseline must not run a support pass')

    monkeypatch.setattr(model, 'support_embeddings', no_support)
    template, search = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 64, 64)
    clips = ClipBatch(torch.randn(2, 3, 3, 64, 64))  # supports are ignored
    clips.frames[:, 0] = search
    with torch.no_grad():
        tokens, hw, prompts = model.forward_tracking(template, clips)
        ref = naive_joint(model, template, search)
    assert prompts is None and hw == (4, 4) and tokens.shape == (2, 16, 32)
    torch.testing.assert_close(tokens, ref, atol=1e-5, rtol=1e-4)


def test_prompts_are_prepended_without_position_and_dropped():
    model = build()
    template, search = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 64, 64)
    prompts = torch.randn(1, 2, 32)
    with torch.no_grad():
        tokens, tmpl, hw = model.forward_joint(
            template, search, prompts, return_template=True)
        ref = naive_joint(model, template, search, prompts)
        plain, _ = model.forward_joint(template, search)
    assert tokens.shape == (1, 16, 32) and tmpl.shape == (1, 4, 32)
    torch.testing.assert_close(tokens, ref, atol=1e-5, rtol=1e-4)
    assert (plain - tokens).abs().max() > 1e-3  # the prompts matter


def test_joint_forward_batch_equals_single():
    model = build()
    template, search = torch.randn(3, 3, 32, 32), torch.randn(3, 3, 64, 64)
    prompts = torch.randn(3, 2, 32)
    with torch.no_grad():
        batch, _ = model.forward_joint(template, search, prompts)
        single = torch.cat([
            model.forward_joint(template[i:i + 1], search[i:i + 1],
                                prompts[i:i + 1])[0] for i in range(3)
        ])
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('support_pass', ['joint', 'search'])
def test_training_prompts_come_from_the_carried_support_crops(support_pass):
    """Support embeddings = the naive unprompted pass of each carried
    support crop, with the item's own template ('joint') or alone
    ('search'); an item without supports uses its search crop."""
    model = build(support_pass=support_pass).train()
    template = torch.randn(2, 3, 32, 32)
    frames = torch.randn(2, 3, 3, 64, 64)
    clips = ClipBatch(frames, [ClipMeta('a', 5, 2), ClipMeta('b', 0, 0)])
    tokens, _, prompts = model.forward_tracking(template, clips)
    with torch.no_grad():
        hw = model.support_embeddings(frames[0, 1:2])[1]
        if support_pass == 'joint':
            sup0 = naive_joint(model, template[:1].expand(2, -1, -1, -1),
                               frames[0, 1:3])
            own1 = naive_joint(model, template[1:], frames[1, :1])
        else:
            sup0, hw = model.support_embeddings(frames[0, 1:3])
            own1, _ = model.support_embeddings(frames[1, :1])
        exp = torch.cat([
            model.predictor(sup0[None], hw),
            model.predictor(own1[None], hw)
        ])
    torch.testing.assert_close(prompts, exp, atol=1e-5, rtol=1e-4)
    assert prompts.requires_grad and tokens.requires_grad
    # one support frame per chunk (each with its own template row): the same
    chunked = build(support_pass=support_pass, train_support_chunk=1).train()
    torch.testing.assert_close(
        chunked.forward_tracking(template, clips)[2], prompts, atol=1e-5,
        rtol=1e-4)
    # the joint support pass does depend on the template, 'search' does not
    with torch.no_grad():
        other = model.forward_tracking(template.flip(0), clips)[2]
    assert (support_pass == 'joint') == (
        not torch.allclose(other, prompts, atol=1e-4))


def test_support_pos_embed_adds_the_normalised_search_table():
    """support_pos_embed: the joint support tokens + LayerNorm (no affine)
    of the search position table, per token; the prompted pass itself is
    unchanged."""
    model = build(support_pos_embed=True)
    plain = build()
    template = torch.randn(2, 3, 32, 32)
    frames = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        got, hw = model.support_embeddings(frames, template)
        pos = model.pos_embed.reshape(-1, model.pos_embed.shape[-1])
        ref = naive_joint(model, template, frames) + (
            pos - pos.mean(-1, keepdim=True)) / torch.sqrt(
                pos.var(-1, unbiased=False, keepdim=True) + 1e-5)
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(
            model.forward_joint(template, frames)[0],
            plain.forward_joint(template, frames)[0])
        # the crop-alone pass ('search') gets the same table
        alone, _ = model.support_embeddings(frames)
        torch.testing.assert_close(
            alone - plain.support_embeddings(frames)[0], ref - naive_joint(
                model, template, frames), atol=1e-5, rtol=1e-4)


def test_template_table_is_resized_and_detection_vit_unchanged():
    model = build()
    with torch.no_grad():
        tokens, tmpl, hw = model.forward_joint(
            torch.randn(1, 3, 48, 48), torch.randn(1, 3, 80, 80),
            return_template=True)
    assert tmpl.shape[1] == 9 and hw == (5, 5)
    det = MODELS.build(TINY_VIT)
    assert not hasattr(det, 'pos_embed_template')
    assert not any('template' in k for k in det.state_dict())
    with pytest.raises(ValueError, match='template_size'):
        det.forward_joint(torch.randn(1, 3, 32, 32),
                          torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='tracker backbone'):
        model(torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize('kwargs,match', [
    (dict(window_block_indices=(0, )), 'window_block_indices'),
    (dict(template_size=8), 'template_size'),
])
def test_bad_tracker_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(TINY_TRACKER_VIT, **kwargs))


def test_tracker_backbone_with_patch_8():
    """A tracker backbone (no pyramid) may use patch 8: template 32 -> 4x4,
    search 64 -> 8x8 tokens, equal to the naive joint ViT at stride 8; a
    detection STPNViT still needs patch 16."""
    model = build(patch_size=8, num_prompts=0)
    assert model.template_grid == 4 and model.pos_grid == 8
    template, search = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        tokens, hw = model.forward_joint(template, search)
        exp = naive_joint(model, template, search)
    assert hw == (8, 8) and tokens.shape[1] == 64
    torch.testing.assert_close(tokens, exp, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match='patch_size must be 16'):
        MODELS.build(dict(TINY_VIT, patch_size=8))
