"""STPN + SELSA: STPN's prompted backbone under the SELSA head. Each item's
prompts are computed once (from its support frames = SELSA's reference
frames) and prompt its key frame AND its reference frames; training reaches
the predictor; the offline memory equals recomputing from scratch; the two
policies must agree."""
import copy

import pytest
import torch
from mmdet.registry import MODELS

from mmstpn.structures import get_video_context
from mmstpn.structures import ClipBatch, ClipMeta, SupportPolicy
from tests.conftest import TINY_SWIN, TINY_VIT
from tests.test_models.test_vid.test_selsa import IMG, clip, samples, \
    tiny_selsa_cfg

# stride-16 level of each tiny backbone and its channels (STPNViT gives
# only that map)
BACKBONES = {
    'swin': (TINY_SWIN, dict(out_indices=(2, )), 64),
    'vit': (TINY_VIT, dict(), 32),
}


def build(name, policy=None, troi=False, selsa_policy=None, pyramid=False):
    base, extra, channels = BACKBONES[name]
    backbone = dict(copy.deepcopy(base), **extra)
    backbone['test_support'] = policy or dict(mode='offline', num_support=2)
    cfg = tiny_selsa_cfg(troi)
    cfg.pop('test_support')
    if selsa_policy is not None:
        cfg.test_support = selsa_policy
    cfg.backbone = backbone
    cfg.neck.in_channels = [channels]
    if pyramid:  # the stride-16 level of the pyramid neck, then the mapper
        cfg.neck = [
            dict(type='SimpleFeaturePyramid', in_channels=channels,
                 out_indices=(2, )), cfg.neck
        ]
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def predict(model, frames, metas=None):
    inputs = frames[None] if metas is None else ClipBatch(frames[None], metas)
    with torch.no_grad():
        return model.predict(inputs, samples(1))[0].pred_instances


@pytest.mark.parametrize('name', ['swin', 'vit'])
def test_loss_backward_reaches_the_predictor(name):
    model = build(name).train()
    assert model.prompted and model.video_context is \
        model.backbone.video_context
    frames = torch.stack([clip(3, 0), clip(3, 1)])
    inputs = ClipBatch(frames, [ClipMeta('a', 4, 2), ClipMeta('b', 0, 0)])
    losses = model.loss(inputs, samples(2))
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.backbone.predictor.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert model.roi_head.bbox_head.aggregator[0].ref_fc.weight.grad.abs(
    ).sum() > 0


@pytest.mark.parametrize('name,troi', [('swin', False), ('vit', True)])
def test_offline_memory_holds_prompted_references(name, troi):
    """Frame 0 carries the references R: the prompts come from R (one
    predictor call for the whole video), the memory holds R's features
    prompted with THOSE prompts (not R as still images), and frames 1, 2
    give the detections of recomputing everything from scratch ('frames'
    mode with the same R)."""
    model = build(name, troi=troi).eval()
    backbone = model.backbone
    calls = []
    backbone.predictor.register_forward_hook(lambda *a: calls.append(1))
    video, refs = clip(3, 10), clip(2, 20)
    predict(model, torch.cat([video[:1], refs]), [ClipMeta('v', 0, 2)])
    cached = [
        predict(model, video[t:t + 1], [ClipMeta('v', t, 0)]) for t in (1, 2)
    ]
    assert len(calls) == 1  # the prompts of the video, once

    with torch.no_grad():
        prompts = backbone.compute_prompts(
            ClipBatch(torch.cat([video[:1], refs])[None]))
        prompted = model.neck(
            backbone.forward_prompted(refs, prompts.expand(2, -1, -1)))
        as_stills = model.neck(backbone(refs))
    stored = model.video_context.slot('selsa')['v'].feats[0]
    torch.testing.assert_close(stored, prompted[0], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(stored, as_stills[0], atol=1e-3)
    torch.testing.assert_close(model.video_context.prompts['v'], prompts[0])

    policy = SupportPolicy('frames', 2)
    model.test_support = backbone.test_support = policy
    for t, got in zip((1, 2), cached):
        explicit = predict(model, torch.cat([video[t:t + 1], refs]),
                           [ClipMeta('v', t, 2)])
        torch.testing.assert_close(got.bboxes, explicit.bboxes, atol=1e-4,
                                   rtol=1e-4)
        torch.testing.assert_close(got.scores, explicit.scores, atol=1e-5,
                                   rtol=1e-4)


def test_online_runs_causally():
    model = build('vit', dict(mode='online', num_support=2, stride=1)).eval()
    video = clip(4, 30)
    for t in range(4):
        predict(model, video[t:t + 1], [ClipMeta('v', t, 0)])
    cache = model.video_context
    assert cache.slot('selsa')['v'].frame_ids == [2, 3]
    assert [fid for fid, _ in cache.embeddings['v']][-2:] == [2, 3]


def test_one_policy_declared_once():
    model = build('swin')  # model.test_support follows the backbone
    assert model.test_support == model.backbone.test_support
    assert get_video_context(model) is model.backbone.video_context
    assert get_video_context(model).policy == SupportPolicy('offline', 2)
    with pytest.raises(ValueError, match="model.test_support is set.*"
                       'declare the policy once, at '
                       'model.backbone.test_support'):
        build('swin', selsa_policy=dict(mode='online', num_support=2))
    # one switch reaches every consumer: SELSA follows the backbone's
    model.backbone.test_support = SupportPolicy('online', 2)
    assert model.test_support == SupportPolicy('online', 2)
    model.test_support = dict(mode='frames')
    assert model.backbone.test_support == SupportPolicy('frames', 2)
    assert IMG % 16 == 0


def test_pyramid_neck_list_through_selsa():
    """neck=[SimpleFeaturePyramid(out_indices=(2, )), ChannelMapper] (an
    nn.Sequential that SELSA's neck call runs) gives the detections of the
    mapper alone on STPNViT's map with the same weights: level 2 is the map
    itself."""
    plain = build('vit').eval()
    stacked = build('vit', pyramid=True).eval()
    assert type(stacked.neck).__name__ == 'Sequential'
    result = stacked.load_state_dict({
        k.replace('neck.', 'neck.1.', 1) if k.startswith('neck.') else k: v
        for k, v in plain.state_dict().items()
    }, strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all(
        k.startswith('neck.0.levels.') for k in result.missing_keys)
    video, refs = clip(2, 40), clip(2, 50)
    first = torch.cat([video[:1], refs])
    got = [predict(m, first, [ClipMeta('v', 0, 2)]) for m in (plain, stacked)]
    later = [
        predict(m, video[1:2], [ClipMeta('v', 1, 0)])
        for m in (plain, stacked)
    ]
    for a, b in (got, later):
        assert len(a.bboxes) > 0
        assert torch.equal(a.bboxes, b.bboxes)
        assert torch.equal(a.scores, b.scores)
