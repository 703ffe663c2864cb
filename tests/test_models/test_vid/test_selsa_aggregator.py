"""SelsaAggregator: shape, reference-order invariance, and values against a
naive per-group softmax written here and a closed form derived by hand."""
import math

import pytest
import torch
from mmdet.registry import MODELS

import mmstpn  # noqa: F401


def build(in_channels=8, blocks=4, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(
        dict(
            type='SelsaAggregator',
            in_channels=in_channels,
            num_attention_blocks=blocks)).eval()


def naive(agg, x, ref_x):
    """Loop over key RoIs, groups and reference RoIs."""
    groups = agg.num_attention_blocks
    d = x.size(1) // groups
    q = agg.fc_embed(x)
    k = agg.ref_fc_embed(ref_x)
    v = agg.ref_fc(ref_x)
    out = torch.zeros_like(x)
    for n in range(x.size(0)):
        for g in range(groups):
            sl = slice(g * d, (g + 1) * d)
            logits = [
                float((q[n, sl] * k[m, sl]).sum()) / math.sqrt(d)
                for m in range(ref_x.size(0))
            ]
            top = max(logits)
            exps = [math.exp(s - top) for s in logits]
            for m, e in enumerate(exps):
                out[n, sl] += e / sum(exps) * v[m, sl]
    return agg.fc(out)


def test_output_shape():
    agg = build(in_channels=16, blocks=4)
    out = agg(torch.randn(5, 16), torch.randn(11, 16))
    assert out.shape == (5, 16)


def test_reference_order_does_not_matter():
    agg = build()
    x, ref = torch.randn(6, 8), torch.randn(9, 8)
    perm = torch.randperm(9)
    assert not torch.equal(perm, torch.arange(9))
    with torch.no_grad():
        torch.testing.assert_close(agg(x, ref[perm]), agg(x, ref))


def test_matches_naive_per_group_softmax():
    agg = build()
    x, ref = torch.randn(4, 8), torch.randn(7, 8)
    with torch.no_grad():
        torch.testing.assert_close(
            agg(x, ref), naive(agg, x, ref), atol=1e-5, rtol=1e-5)


def test_all_references_equal_to_key():
    """M copies of the key RoI: every softmax is uniform (1/M), so the
    output is fc(ref_fc(x)) whatever the embeddings."""
    agg = build()
    x = torch.randn(1, 8)
    ref = x.repeat(5, 1)
    with torch.no_grad():
        expected = agg.fc(agg.ref_fc(x))
        torch.testing.assert_close(agg(x, ref), expected)
        torch.testing.assert_close(naive(agg, x, ref), expected)


def test_hand_computed_value():
    """C=4, 2 groups of 2 channels, identity Linears, zero biases.
    x = [1, 1, 2, 0]; refs r0 = [1, 1, 0, 0], r1 = [0, 0, 1, 1].
    group 0: logits <[1,1],[1,1]>/sqrt(2) = sqrt(2) and 0 -> weights
    (s, 1-s), s = 1/(1+exp(-sqrt(2))); values [1,1], [0,0] -> [s, s].
    group 1: logits 0 and <[2,0],[1,1]>/sqrt(2) = sqrt(2) -> (1-s, s);
    values [0,0], [1,1] -> [s, s]. Output [s, s, s, s] = 0.8044..."""
    agg = build(in_channels=4, blocks=2)
    with torch.no_grad():
        for fc in (agg.fc_embed, agg.ref_fc_embed, agg.fc, agg.ref_fc):
            fc.weight.copy_(torch.eye(4))
            fc.bias.zero_()
        out = agg(
            torch.tensor([[1., 1., 2., 0.]]),
            torch.tensor([[1., 1., 0., 0.], [0., 0., 1., 1.]]))
    s = 1 / (1 + math.exp(-math.sqrt(2)))
    assert abs(s - 0.80443) < 1e-5
    torch.testing.assert_close(out, torch.full((1, 4), s))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match='divide in_channels=10'):
        build(in_channels=10, blocks=4)
    agg = build()
    with pytest.raises(ValueError, match='ref_x'):
        agg(torch.randn(2, 8), torch.randn(3, 6))
    with pytest.raises(ValueError, match='M=0'):
        agg(torch.randn(2, 8), torch.randn(0, 8))
