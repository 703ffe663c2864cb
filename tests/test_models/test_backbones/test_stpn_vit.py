import pytest
import torch
from mmdet.registry import MODELS

from tests.conftest import TINY_VIT, TINY_VIT_PYRAMID


def vit_with_pyramid(neck=None, **kwargs):
    """TINY_VIT + its SimpleFeaturePyramid in sequence (a list of module
    configs builds an nn.Sequential, as a detector's ``neck`` list does)."""
    return MODELS.build(
        [dict(TINY_VIT, **kwargs),
         dict(TINY_VIT_PYRAMID, **(neck or {}))])


def test_output_is_the_stride_16_map_only():
    model = MODELS.build(TINY_VIT)
    model.init_weights()
    with torch.no_grad():
        outs = model.eval()(torch.randn(2, 3, 3, 70, 100))
    assert isinstance(outs, tuple) and len(outs) == 1
    assert outs[0].shape == (2, 32, 5, 7)  # corner-padded to 80 x 112
    assert outs[0].is_contiguous()
    assert model.out_channels == (32, )


def test_position_embedding_is_resized_to_the_input():
    model = vit_with_pyramid()
    model.init_weights()
    model.eval()
    with torch.no_grad():
        small = model(torch.randn(1, 3, 64, 64))  # the table's own size
        large = model(torch.randn(1, 3, 128, 96))
    assert small[2].shape[-2:] == (4, 4)
    assert large[2].shape[-2:] == (8, 6)


def test_windowed_and_global_blocks_differ():
    torch.manual_seed(0)
    windowed = vit_with_pyramid()
    torch.manual_seed(0)
    plain = vit_with_pyramid(window_block_indices=())
    plain.load_state_dict(windowed.state_dict())
    x = torch.randn(1, 2, 3, 96, 96)
    with torch.no_grad():
        assert (windowed.eval()(x)[2] - plain.eval()(x)[2]).abs().max() > 1e-5
    assert [b.window_size for b in windowed[0].blocks] == [3, 0, 3, 0]


def test_prompts_get_no_position_embedding():
    model = MODELS.build(TINY_VIT)
    model.init_weights()
    assert model.pos_embed.shape == (1, 16, 32)  # patches only


@pytest.mark.parametrize('kwargs,neck,match', [
    (dict(patch_size=8), None, 'patch_size'),
    (dict(embed_dims=32), dict(in_channels=30), 'divisible by 4'),
    (dict(), dict(out_indices=(0, 4)), 'out_indices'),
])
def test_bad_config(kwargs, neck, match):
    with pytest.raises(ValueError, match=match):
        vit_with_pyramid(neck, **kwargs)


def test_tracker_arguments_point_to_the_tracker_class():
    with pytest.raises(ValueError, match="template_size=128.*'STPNOneStre"):
        MODELS.build(dict(TINY_VIT, template_size=128))


def test_pyramid_maps_are_contiguous_for_roi_align():
    """mmcv's RoIAlign reads channels-last (non-contiguous) maps wrongly:
    the pyramid must hand the neck contiguous NCHW maps."""
    from mmcv.ops import roi_align
    model = vit_with_pyramid(num_prompts=0)
    model.init_weights()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    rois = torch.tensor([[0., 3., 5., 40., 50.]])
    for out in outs:
        assert out.is_contiguous()
        ref = roi_align(out.clone(memory_format=torch.contiguous_format),
                        rois, (7, 7), 0.25, 0, 'avg', True)
        assert torch.equal(roi_align(out, rois, (7, 7), 0.25, 0, 'avg', True),
                           ref)
