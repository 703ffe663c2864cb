"""MMTracking's ImageNet VID zoo checkpoints (SELSA / Temporal RoI Align,
R-50/101-DC5 + ChannelMapper 512, 30 classes) load strictly into mmstpn's
modules after ``convert_mmtrack_vid_state_dict`` drops ``detector.``.

The expected keys and shapes are written here from MMTracking's module
structure (``detector.roi_head.bbox_head``: ``shared_fcs.i`` (Linear
512*7*7 -> 1024, then 1024 -> 1024), ``fc_cls`` (1024 -> 31), ``fc_reg``
(1024 -> 4*30, class-specific), ``aggregator.i.{fc_embed, ref_fc_embed,
fc, ref_fc}`` (Linear 1024 -> 1024) per shared FC; TRoI adds
``detector.roi_head.bbox_roi_extractor.embed_network.conv`` (3x3 conv
512 -> 512 with bias) and a third shared FC), not from mmstpn's code. No
download: each tensor is filled with its key's index (a broadcast view, no
memory), models are built on the meta device and loaded with
``assign=True`` (shapes are still checked), so the full-size models cost
no memory and little time."""
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config, ConfigDict

from mmstpn.models.vid import (MMTRACK_VID_PREFIX,
                               convert_mmtrack_vid_state_dict)

ROI = 'detector.roi_head.'
REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def zoo_roi_head_keys(troi):
    """MMTracking key -> shape of a SELSA (2 shared FCs) or TRoI (3 shared
    FCs + embed network) RoI head."""
    num_fcs = 3 if troi else 2
    bbox = ROI + 'bbox_head.'
    keys = {
        bbox + 'fc_cls.weight': (31, 1024),
        bbox + 'fc_cls.bias': (31, ),
        bbox + 'fc_reg.weight': (120, 1024),
        bbox + 'fc_reg.bias': (120, ),
    }
    for i in range(num_fcs):
        keys[f'{bbox}shared_fcs.{i}.weight'] = (1024,
                                                512 * 7 * 7 if i == 0 else
                                                1024)
        keys[f'{bbox}shared_fcs.{i}.bias'] = (1024, )
        for name in ('fc_embed', 'ref_fc_embed', 'fc', 'ref_fc'):
            keys[f'{bbox}aggregator.{i}.{name}.weight'] = (1024, 1024)
            keys[f'{bbox}aggregator.{i}.{name}.bias'] = (1024, )
    if troi:
        emb = ROI + 'bbox_roi_extractor.embed_network.conv.'
        keys[emb + 'weight'] = (512, 512, 3, 3)
        keys[emb + 'bias'] = (512, )
    return keys


def zoo_roi_head_cfg(troi):
    """The zoo configs' roi_head (model.detector.roi_head in MMTracking)."""
    extractor = dict(
        type='SingleRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
        out_channels=512,
        featmap_strides=[16])
    if troi:
        extractor.update(
            type='TemporalRoIAlign',
            num_most_similar_points=2,
            num_temporal_attention_blocks=4)
    return ConfigDict(
        type='SelsaRoIHead',
        bbox_roi_extractor=extractor,
        bbox_head=dict(
            type='SelsaBBoxHead',
            num_shared_fcs=3 if troi else 2,
            in_channels=512,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=30,
            reg_class_agnostic=False,
            aggregator=dict(
                type='SelsaAggregator',
                in_channels=1024,
                num_attention_blocks=16)))


def fake_checkpoint(keys):
    return {
        k: torch.tensor(float(i)).expand(shape)
        for i, (k, shape) in enumerate(keys.items())
    }


def build_meta(cfg):
    with torch.device('meta'):
        return MODELS.build(cfg)


def load_strict(module, state_dict):
    result = module.load_state_dict(state_dict, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.parametrize('troi', [False, True])
def test_zoo_roi_head_loads_strictly(troi):
    head = build_meta(zoo_roi_head_cfg(troi))
    keys = zoo_roi_head_keys(troi)
    converted = convert_mmtrack_vid_state_dict(fake_checkpoint(keys))
    assert all(k.startswith('roi_head.') for k in converted)
    load_strict(head,
                {k[len('roi_head.'):]: v for k, v in converted.items()})
    loaded = head.state_dict()
    for i, key in enumerate(keys):
        own = key[len(ROI):]
        assert loaded[own].shape == keys[key]
        assert torch.all(loaded[own] == i), key


def test_selsa_checkpoint_does_not_load_into_troi_head():
    """Strict loading is a real check: the SELSA (2-FC) keys miss TRoI's
    third FC, its aggregator and the embed network."""
    head = build_meta(zoo_roi_head_cfg(troi=True))
    converted = convert_mmtrack_vid_state_dict(
        fake_checkpoint(zoo_roi_head_keys(troi=False)))
    with pytest.raises(RuntimeError, match='embed_network'):
        load_strict(head,
                    {k[len('roi_head.'):]: v for k, v in converted.items()})


def test_converter_rejects_foreign_keys():
    assert MMTRACK_VID_PREFIX == 'detector.'
    with pytest.raises(ValueError, match="'roi_head.bbox_head.fc_cls.weight'"):
        convert_mmtrack_vid_state_dict(
            {'roi_head.bbox_head.fc_cls.weight': torch.zeros(1)})


CONFIGS = {
    'selsa/selsa_faster-rcnn_r50-dc5_chmapper_8xb1-7e_imagenet-vid.py':
    (50, False),
    'selsa/selsa_faster-rcnn_r101-dc5_chmapper_8xb1-7e_imagenet-vid.py':
    (101, False),
    'temporal_roi_align/'
    'troi_faster-rcnn_r50-dc5_chmapper_8xb1-7e_imagenet-vid.py': (50, True),
    'temporal_roi_align/'
    'troi_faster-rcnn_r101-dc5_chmapper_8xb1-7e_imagenet-vid.py': (101, True),
}


def zoo_detector_keys(depth, troi):
    """All keys of an MMTracking SELSA / TRoI R-{depth}-DC5 checkpoint.

    The backbone is mmdet's stock ResNet (MMTracking used mmdet's, whose
    key names mmdet 3 kept), so its keys are taken from a stock
    ``ResNet(depth)``; neck, RPN and RoI head keys are written out."""
    resnet = build_meta(dict(type='ResNet', depth=depth))
    keys = {
        'detector.backbone.' + k: tuple(v.shape)
        for k, v in resnet.state_dict().items()
    }
    keys.update({
        'detector.neck.convs.0.conv.weight': (512, 2048, 3, 3),
        'detector.neck.convs.0.conv.bias': (512, ),
        'detector.rpn_head.rpn_conv.weight': (512, 512, 3, 3),
        'detector.rpn_head.rpn_conv.bias': (512, ),
        'detector.rpn_head.rpn_cls.weight': (12, 512, 1, 1),  # 4 x 3 anchors
        'detector.rpn_head.rpn_cls.bias': (12, ),
        'detector.rpn_head.rpn_reg.weight': (48, 512, 1, 1),
        'detector.rpn_head.rpn_reg.bias': (48, ),
    })
    keys.update(zoo_roi_head_keys(troi))
    return keys


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_zoo_checkpoint_loads_strictly_into_shipped_config(name):
    depth, troi = CONFIGS[name]
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    assert cfg.custom_imports.imports == ['mmstpn']
    cfg.model.backbone.init_cfg = None  # no download
    model = build_meta(cfg.model)
    assert type(model).__name__ == 'SELSA'
    assert model.backbone.depth == depth
    keys = zoo_detector_keys(depth, troi)
    load_strict(model, convert_mmtrack_vid_state_dict(fake_checkpoint(keys)))
    loaded = model.state_dict()
    for i, key in enumerate(keys):
        own = key[len(MMTRACK_VID_PREFIX):]
        assert tuple(loaded[own].shape) == keys[key], key
        assert torch.all(loaded[own] == i), key
