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
download: each tensor is filled with its key's index."""
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import ConfigDict

from mmstpn.models.vid import (MMTRACK_VID_PREFIX,
                               convert_mmtrack_vid_state_dict)

ROI = 'detector.roi_head.'


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
        k: torch.full(shape, float(i))
        for i, (k, shape) in enumerate(keys.items())
    }


@pytest.mark.parametrize('troi', [False, True])
def test_zoo_roi_head_loads_strictly(troi):
    head = MODELS.build(zoo_roi_head_cfg(troi))
    keys = zoo_roi_head_keys(troi)
    converted = convert_mmtrack_vid_state_dict(fake_checkpoint(keys))
    assert all(k.startswith('roi_head.') for k in converted)
    head_sd = {k[len('roi_head.'):]: v for k, v in converted.items()}
    result = head.load_state_dict(head_sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    loaded = head.state_dict()
    for i, key in enumerate(keys):
        own = key[len(ROI):]
        assert loaded[own].shape == keys[key]
        assert torch.all(loaded[own] == i), key


def test_selsa_checkpoint_does_not_load_into_troi_head():
    """Strict loading is a real check: the SELSA (2-FC) keys miss TRoI's
    third FC, its aggregator and the embed network."""
    head = MODELS.build(zoo_roi_head_cfg(troi=True))
    converted = convert_mmtrack_vid_state_dict(
        fake_checkpoint(zoo_roi_head_keys(troi=False)))
    with pytest.raises(RuntimeError, match='embed_network'):
        head.load_state_dict(
            {k[len('roi_head.'):]: v for k, v in converted.items()},
            strict=True)


def test_converter_rejects_foreign_keys():
    assert MMTRACK_VID_PREFIX == 'detector.'
    with pytest.raises(ValueError, match="'roi_head.bbox_head.fc_cls.weight'"):
        convert_mmtrack_vid_state_dict(
            {'roi_head.bbox_head.fc_cls.weight': torch.zeros(1)})
