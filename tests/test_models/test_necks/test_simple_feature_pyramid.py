"""SimpleFeaturePyramid against the four levels written out here."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS


def build(**kwargs):
    torch.manual_seed(0)
    neck = MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=32,
                             **kwargs))
    neck.init_weights()
    return neck.eval()


def naive_levels(neck, x):
    """Stride 4 / 8 / 16 / 32 maps from the stride-16 map, by hand."""
    up, norm, _, up2 = neck.levels[0]
    y = F.conv_transpose2d(x, up.weight, up.bias, stride=2)
    y = y.permute(0, 2, 3, 1)
    y = (y - y.mean(-1, keepdim=True)) / torch.sqrt(
        y.var(-1, unbiased=False, keepdim=True) + norm.eps)
    y = (y * norm.weight + norm.bias).permute(0, 3, 1, 2)
    y = F.gelu(y)
    level0 = F.conv_transpose2d(y, up2.weight, up2.bias, stride=2)
    conv = neck.levels[1]
    level1 = F.conv_transpose2d(x, conv.weight, conv.bias, stride=2)
    return [level0, level1, x, F.max_pool2d(x, 2)]


def test_levels_equal_the_written_out_pyramid():
    neck = build()
    x = torch.randn(2, 32, 5, 7)
    with torch.no_grad():
        outs = neck((x, ))
        ref = naive_levels(neck, x)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 20, 28), (2, 16, 10, 14),
                                              (2, 32, 5, 7), (2, 32, 2, 3)]
    assert neck.out_channels == (8, 16, 32, 32)
    for got, exp in zip(outs, ref):
        torch.testing.assert_close(got, exp, atol=1e-5, rtol=1e-5)


def test_out_indices_select_levels_and_outputs_are_contiguous():
    neck = build(out_indices=(3, 1))
    # a channels-last input (what a token map transposed to NCHW is)
    x = torch.randn(1, 6, 4, 32).permute(0, 3, 1, 2)
    with torch.no_grad():
        outs = neck((x, ))
        ref = naive_levels(neck, x.contiguous())
    assert neck.out_channels == (32, 16)
    assert all(o.is_contiguous() for o in outs)
    torch.testing.assert_close(outs[0], ref[3])
    torch.testing.assert_close(outs[1], ref[1], atol=1e-5, rtol=1e-5)
    # every level is built whatever is returned (one checkpoint layout)
    assert sum(p.numel() for p in neck.parameters()) == sum(
        p.numel() for p in build().parameters())


def test_bad_config_and_inputs():
    with pytest.raises(ValueError, match='divisible by 4, got 30'):
        MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=30))
    with pytest.raises(ValueError, match=r'out_indices .*\[4\]'):
        build(out_indices=(0, 4))
    neck = build()
    with pytest.raises(ValueError, match='one stride-16 map.*got 2'):
        neck((torch.randn(1, 32, 4, 4), ) * 2)
    with pytest.raises(ValueError, match=r'in_channels=32.*\(1, 16, 4, 4\)'):
        neck((torch.randn(1, 16, 4, 4), ))
