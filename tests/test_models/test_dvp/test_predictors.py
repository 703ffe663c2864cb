import pytest
import torch
from mmdet.registry import MODELS

from tests.conftest import PREDICTORS


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('cfg,expected', [
    (dict(type='AttentionDVPPredictor', in_channels=768, prompt_dims=96),
     111_552),
    (dict(type='AttentionDVPPredictor', in_channels=1024, prompt_dims=128),
     197_888),
    (dict(type='AverageDVPPredictor', in_channels=768, prompt_dims=96),
     73_824),
    # mmstpn's own sizes (documented in the README and the docstring)
    (dict(type='MixerDVPPredictor', in_channels=768, prompt_dims=96),
     112_709),
])
def test_parameter_counts(cfg, expected):
    assert _count(MODELS.build(cfg)) == expected


def test_attention_predictor_is_16_head_cross_attention():
    pred = MODELS.build(
        dict(type='AttentionDVPPredictor', in_channels=768, prompt_dims=96))
    assert pred.num_heads == 16 and pred.num_prompts == 5
    assert pred.queries.shape == (5, 96)


@pytest.mark.parametrize('name', PREDICTORS)
def test_output_shape_and_num_prompts(name):
    pred = MODELS.build(
        dict(type=name, in_channels=24, prompt_dims=16, num_prompts=3))
    out = pred(torch.randn(2, 4, 5 * 6, 24), (5, 6))
    assert out.shape == (2, 3, 16)


@pytest.mark.parametrize('name', PREDICTORS)
def test_invariant_to_support_order(name):
    pred = MODELS.build(dict(type=name, in_channels=24, prompt_dims=16))
    support = torch.randn(2, 4, 30, 24)
    perm = torch.tensor([2, 0, 3, 1])
    out = pred(support, (5, 6))
    assert torch.allclose(out, pred(support[:, perm], (5, 6)), atol=1e-5)


@pytest.mark.parametrize('name', PREDICTORS)
def test_duplicated_frames_equal_single_frame(name):
    """Why one-frame videos need no copies: K copies == the frame alone."""
    pred = MODELS.build(dict(type=name, in_channels=24, prompt_dims=16))
    frame = torch.randn(1, 1, 30, 24)
    assert torch.allclose(
        pred(frame, (5, 6)), pred(frame.expand(1, 3, 30, 24), (5, 6)),
        atol=1e-5)


@pytest.mark.parametrize('name', PREDICTORS)
def test_mask_equals_dropping_padded_frames(name):
    pred = MODELS.build(dict(type=name, in_channels=24, prompt_dims=16))
    support = torch.randn(2, 3, 30, 24)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    masked = pred(support, (5, 6), mask)
    alone0 = pred(support[:1, :2], (5, 6))
    alone1 = pred(support[1:], (5, 6))
    assert torch.allclose(masked[0], alone0[0], atol=1e-5)
    assert torch.allclose(masked[1], alone1[0], atol=1e-5)
    # the padded frame's content must not matter
    support[0, 2] = 1e3
    assert torch.allclose(pred(support, (5, 6), mask)[0], alone0[0],
                          atol=1e-5)


@pytest.mark.parametrize('name', PREDICTORS)
def test_bad_inputs(name):
    pred = MODELS.build(dict(type=name, in_channels=24, prompt_dims=16))
    with pytest.raises(ValueError, match='in_channels|24'):
        pred(torch.randn(1, 2, 30, 23), (5, 6))
    with pytest.raises(ValueError, match='hw_shape'):
        pred(torch.randn(1, 2, 30, 24), (5, 5))
    with pytest.raises(ValueError, match='support_mask'):
        pred(torch.randn(1, 2, 30, 24), (5, 6), torch.zeros(1, 2).bool())


def test_predictor_rejects_bad_config():
    with pytest.raises(ValueError, match='num_heads'):
        MODELS.build(
            dict(type='AttentionDVPPredictor', in_channels=8, prompt_dims=10))
    with pytest.raises(ValueError, match='num_prompts'):
        MODELS.build(
            dict(
                type='AverageDVPPredictor',
                in_channels=8,
                prompt_dims=8,
                num_prompts=0))
