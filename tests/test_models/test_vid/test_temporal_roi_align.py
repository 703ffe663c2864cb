"""TemporalRoIAlign: shapes, reference-frame order invariance, per-sample
reference groups, and values against a naive loop written here."""
import math

import pytest
import torch
from mmcv.ops import RoIAlign
from mmdet.registry import MODELS

import mmstpn  # noqa: F401

C = 8


def build(points=2, blocks=4, seed=0):
    torch.manual_seed(seed)
    troi = MODELS.build(
        dict(
            type='TemporalRoIAlign',
            num_most_similar_points=points,
            num_temporal_attention_blocks=blocks,
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
            out_channels=C,
            featmap_strides=[16]))
    troi.init_weights()
    return troi.eval()


def rand_rois(n, img=0, size=160, seed=1):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * size * 0.6
    wh = 16 + torch.rand(n, 2, generator=g) * size * 0.4
    return torch.cat([torch.full((n, 1), float(img)), xy, xy + wh], dim=1)


def naive(troi, key_map, rois, ref_maps):
    """Per RoI, cell and frame: cosine similarity with every point of the
    frame's map, the top-k points, softmax of their similarities; then per
    channel group and cell, softmax over frames (key first) of the dot
    product of L2-normalised embeddings."""
    k = troi.num_most_similar_points
    groups = troi.num_temporal_attention_blocks
    d = C // groups
    roi_feats = RoIAlign(7, 1 / 16, 2)(key_map[None], rois)
    n = roi_feats.size(0)
    out = torch.zeros_like(roi_feats)
    for r in range(n):
        frames = [roi_feats[r]]
        for ref in ref_maps:
            ms = torch.zeros(C, 7, 7)
            pts = [ref[:, y, x] for y in range(ref.size(1))
                   for x in range(ref.size(2))]
            for i in range(7):
                for j in range(7):
                    cell = roi_feats[r, :, i, j]
                    sims = [float(cell @ p / (cell.norm() * p.norm()))
                            for p in pts]
                    top = sorted(range(len(sims)), key=lambda t: -sims[t])[:k]
                    exps = [math.exp(sims[t]) for t in top]
                    for t, e in zip(top, exps):
                        ms[:, i, j] += e / sum(exps) * pts[t]
            frames.append(ms)
        embeds = [troi.embed_network(f[None])[0] for f in frames]
        embeds = [e / e.norm(dim=0, keepdim=True) for e in embeds]
        for g in range(groups):
            sl = slice(g * d, (g + 1) * d)
            for i in range(7):
                for j in range(7):
                    logits = [float(e[sl, i, j] @ embeds[0][sl, i, j])
                              for e in embeds]
                    exps = [math.exp(s) for s in logits]
                    for f, e in zip(frames, exps):
                        out[r, sl, i, j] += e / sum(exps) * f[sl, i, j]
    return out


def test_shapes_and_plain_mode():
    troi = build()
    key = torch.randn(1, C, 10, 12)
    refs = torch.randn(3, C, 9, 11)
    rois = rand_rois(5)
    with torch.no_grad():
        out = troi((key, ), rois, ref_feats=(refs, ))
        plain = troi((key, ), rois)
    assert out.shape == plain.shape == (5, C, 7, 7)
    torch.testing.assert_close(plain, RoIAlign(7, 1 / 16, 2)(key, rois))
    assert not torch.allclose(out, plain)


def test_reference_frame_order_does_not_matter():
    troi = build()
    key = torch.randn(1, C, 10, 10)
    refs = torch.randn(4, C, 10, 10)
    rois = rand_rois(6)
    with torch.no_grad():
        a = troi((key, ), rois, ref_feats=(refs, ))
        b = troi((key, ), rois, ref_feats=(refs[[2, 0, 3, 1]], ))
    torch.testing.assert_close(a, b)


def test_single_reference_identical_to_key_matches_naive_loop():
    troi = build()
    key = torch.randn(C, 6, 7)
    rois = rand_rois(3, size=100)
    with torch.no_grad():
        out = troi((key[None], ), rois, ref_feats=(key[None], ))
        expected = naive(troi, key, rois, [key])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


def test_two_references_match_naive_loop():
    troi = build(points=3, blocks=2)
    key = torch.randn(C, 5, 6)
    refs = torch.randn(2, C, 5, 6)
    rois = rand_rois(2, size=90, seed=4)
    with torch.no_grad():
        out = troi((key[None], ), rois, ref_feats=(refs, ))
        expected = naive(troi, key, rois, list(refs))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


def test_no_attention_blocks_is_frame_mean():
    troi = build(blocks=0)
    assert not hasattr(troi, 'embed_network')
    key = torch.randn(1, C, 8, 8)
    refs = torch.randn(2, C, 8, 8)
    rois = rand_rois(4, size=120)
    with torch.no_grad():
        out = troi((key, ), rois, ref_feats=(refs, ))
        roi_feats = troi((key, ), rois)
        ms = [troi.most_similar_roi_align(roi_feats, r) for r in refs]
    torch.testing.assert_close(out, (roi_feats + ms[0] + ms[1]) / 3)


def test_batch_equals_samples_one_by_one():
    """Key image 0 has 2 reference frames, key image 1 has 3: each key
    image's RoIs only see its own frames."""
    troi = build()
    keys = torch.randn(2, C, 9, 9)
    refs = torch.randn(5, C, 9, 9)
    rois0, rois1 = rand_rois(3, img=0), rand_rois(4, img=1, seed=2)
    with torch.no_grad():
        batch = troi((keys, ), torch.cat([rois0, rois1]),
                     ref_feats=(refs, ), num_ref_frames=[2, 3])
        one = troi((keys[:1], ), rois0, ref_feats=(refs[:2], ))
        rois1_alone = rois1.clone()
        rois1_alone[:, 0] = 0
        two = troi((keys[1:], ), rois1_alone, ref_feats=(refs[2:], ))
    torch.testing.assert_close(batch, torch.cat([one, two]))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match='must divide out_channels=8'):
        build(blocks=3)
    troi = build()
    key = torch.randn(2, C, 8, 8)
    rois = torch.cat([rand_rois(2, img=0), rand_rois(2, img=1)])
    with pytest.raises(ValueError, match='sum to 3'):
        troi((key, ), rois, ref_feats=(torch.randn(2, C, 8, 8), ),
             num_ref_frames=[1, 2])
    with pytest.raises(ValueError, match='key image 1 has RoIs but no'):
        troi((key, ), rois, ref_feats=(torch.randn(2, C, 8, 8), ),
             num_ref_frames=[2, 0])
    with pytest.raises(ValueError, match='last reference map'):
        troi((key, ), rois, ref_feats=(torch.randn(2, 4, 8, 8), ))
