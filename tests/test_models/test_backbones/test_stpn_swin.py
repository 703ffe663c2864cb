import copy

import pytest
import torch
from mmdet.models.backbones import SwinTransformer
from mmdet.registry import MODELS

from tests.conftest import TINY_SWIN


def swin_kwargs():
    cfg = copy.deepcopy(TINY_SWIN)
    cfg.pop('type')
    cfg.pop('test_support')
    return cfg


def build_pair():
    stpn = MODELS.build(copy.deepcopy(TINY_SWIN))
    stpn.init_weights()
    stock = SwinTransformer(**swin_kwargs())
    stpn.eval()
    stock.eval()
    return stpn, stock


def backbone_part(state_dict):
    return {k: v for k, v in state_dict.items()
            if not k.startswith('prompt_generator.')}


def test_no_parameters_added_to_swin():
    stpn, stock = build_pair()
    n_stpn = sum(p.numel() for p in stpn.parameters())
    n_pred = sum(p.numel() for p in stpn.predictor.parameters())
    n_stock = sum(p.numel() for p in stock.parameters())
    assert n_stpn - n_pred == n_stock
    assert set(backbone_part(stpn.state_dict())) == set(stock.state_dict())


def test_swin_state_dict_loads_with_no_backbone_key_missing():
    stpn, stock = build_pair()
    result = stpn.load_state_dict(stock.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys
    assert all(k.startswith('prompt_generator.predictor.')
               for k in result.missing_keys)
    # and the other way round, strictly
    stock.load_state_dict(backbone_part(stpn.state_dict()), strict=True)


def test_pretrained_detector_checkpoint_loads_via_init_cfg(tmp_path):
    """A COCO Mask R-CNN style checkpoint ('backbone.' prefix) loads as mmdet
    loads it into SwinTransformer, and the predictor is still initialised."""
    stock = SwinTransformer(**swin_kwargs())
    for p in stock.parameters():
        torch.nn.init.normal_(p)
    ckpt = {'state_dict': {f'backbone.{k}': v
                           for k, v in stock.state_dict().items()}}
    ckpt['state_dict']['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    path = tmp_path / 'mask_rcnn_swin.pth'
    torch.save(ckpt, path)
    cfg = dict(
        TINY_SWIN,
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    stpn = MODELS.build(cfg)
    stpn.init_weights()
    for k, v in stock.state_dict().items():
        assert torch.equal(stpn.state_dict()[k], v), k
    assert stpn.predictor.queries.abs().sum() > 0


def test_full_stpn_checkpoint_via_init_cfg_keeps_its_predictor(tmp_path):
    """A checkpoint that holds backbone.predictor.* (e.g. a converted
    released STPN model) is not overwritten by the predictor's own init."""
    trained = MODELS.build(copy.deepcopy(TINY_SWIN))
    for p in trained.parameters():
        torch.nn.init.normal_(p)
    path = tmp_path / 'stpn.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in trained.state_dict().items()}},
               path)
    stpn = MODELS.build(
        dict(TINY_SWIN, init_cfg=dict(type='Pretrained',
                                      checkpoint=str(path))))
    stpn.init_weights()
    for k, v in trained.state_dict().items():
        assert torch.equal(stpn.state_dict()[k], v), k


def test_unprompted_pass_is_stock_swin_and_zero_prompts_change_nothing():
    stpn, stock = build_pair()
    stock.load_state_dict(backbone_part(stpn.state_dict()))
    x = torch.randn(2, 3, 75, 61)
    with torch.no_grad():
        ref = stock(x)
        no_prompts = stpn.forward_tokens(x, x.new_zeros(2, 0, 16))
        tokens, hw = stpn.support_embeddings(x)
    for a, b in zip(ref, no_prompts):
        assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(
        tokens.transpose(1, 2).reshape(ref[-1].shape), ref[-1], atol=1e-5)
    assert tuple(hw) == tuple(ref[-1].shape[-2:])


def test_prompt_widths_follow_the_stages():
    stpn, _ = build_pair()
    widths = []
    orig = stpn._merge

    def spy(merge, tokens, hw, num_prompts):
        out = orig(merge, tokens, hw, num_prompts)
        widths.append(out[0][:, :num_prompts].shape[-1])
        return out

    stpn._merge = spy
    with torch.no_grad():
        stpn(torch.randn(1, 2, 3, 56, 56))
    assert widths == [32, 64, 128]


def test_prompt_merge_modes_differ_and_are_validated():
    outs = {}
    for mode in ('repeat', 'interleave'):
        torch.manual_seed(0)
        model = MODELS.build(dict(TINY_SWIN, prompt_merge=mode))
        model.init_weights()
        model.eval()
        with torch.no_grad():
            outs[mode] = model(torch.ones(1, 2, 3, 56, 56))
    assert (outs['repeat'][-1] - outs['interleave'][-1]).abs().max() > 1e-6
    with pytest.raises(ValueError, match='prompt_merge'):
        MODELS.build(dict(TINY_SWIN, prompt_merge='concat'))


def test_frozen_stages_still_freeze():
    model = MODELS.build(dict(TINY_SWIN, frozen_stages=1))
    model.train()
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.predictor.parameters())


@pytest.mark.parametrize('predictor', ['AttentionDVPPredictor',
                                       'AverageDVPPredictor'])
def test_predictor_keeps_its_default_init_after_scratch_swin_init(predictor):
    """mmdet's from-scratch Swin init re-initialises every Linear with
    trunc-normal(0.02); the predictor's Linears must end at PyTorch's default
    (kaiming-uniform, |w| <= 1/sqrt(fan_in), std = bound / sqrt(3)), as after
    a Pretrained init, while the backbone's Linears keep mmdet's init."""
    torch.manual_seed(0)
    model = MODELS.build(dict(copy.deepcopy(TINY_SWIN),
                              predictor=dict(type=predictor)))
    model.init_weights()
    linears = [m for m in model.predictor.modules()
               if isinstance(m, torch.nn.Linear)]
    assert linears
    for lin in linears:
        bound = lin.in_features ** -0.5
        assert lin.weight.abs().max() <= bound + 1e-6
        assert lin.weight.std().item() == pytest.approx(bound / 3 ** 0.5,
                                                       rel=0.15)
        assert lin.bias.abs().max() > 0  # default bias is uniform, not 0
    swin_linear = model.stages[0].blocks[0].attn.w_msa.qkv
    assert swin_linear.bias.abs().max() == 0  # mmdet's init: zero bias
    assert swin_linear.weight.std().item() == pytest.approx(0.02, rel=0.2)
