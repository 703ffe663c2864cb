"""PromptSupervisedMinVIS / PromptSupervisedMask2FormerVideo: the parent's
losses plus ``loss_prompt_cls``, computed here again from the prompts the
backbone makes for the same frames (a separate ``compute_prompts`` call) and
the frames' classes."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import DATASETS, MODELS
from mmengine.dataset import pseudo_collate

from mmstpn.models.vis import (MinVIS, PromptSupervisedMask2FormerVideo,
                               PromptSupervisedMinVIS, STPNMask2FormerVideo)
from mmstpn.models.vis.video_clip_view import video_view
from tests.test_models.test_trackers.test_stpn_trackers import load

CASES = [('tiny_stpn_minvis.py', 'PromptSupervisedMinVIS'),
         ('tiny_stpn_mask2former_vis.py', 'PromptSupervisedMask2FormerVideo')]


def build(name, vis, model_type=None, **model_kw):
    root, ann = vis
    cfg = load(name, root, ann)
    model_cfg = copy.deepcopy(cfg.model)
    if model_type is not None:
        model_cfg.type = model_type
    model_cfg.update(model_kw)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    train = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    return model, train


def backbone_of(model):
    return model.detector.backbone if hasattr(model, 'detector') else \
        model.backbone


@pytest.mark.parametrize('name,model_type', CASES)
def test_prompt_class_loss_against_a_recomputation(vis, name, model_type):
    model, train = build(name, vis, model_type, prompt_loss_weight=3.0)
    model.train()
    batch = pseudo_collate([train[(0, 2)], train[(1, 3)]])
    data = model.data_preprocessor(batch, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert 'loss_cls' in losses and 'loss_mask' in losses
    # the same frames' prompts again, in the order the backbone sees them
    backbone = backbone_of(model)
    view = video_view(data['inputs'], 'test')
    prompts = backbone.compute_prompts(view.flatten(0, 1))
    frames = [s[t] for s in data['data_samples'] for t in range(len(s))]
    assert prompts.shape[0] == len(frames)
    logits = model.prompt_cls_head(prompts.mean(1))
    targets = torch.zeros_like(logits)
    for i, frame in enumerate(frames):
        targets[i, frame.gt_instances.labels.long()] = 1.
    assert targets.sum() > 0
    want = 3.0 * F.binary_cross_entropy_with_logits(logits, targets)
    torch.testing.assert_close(losses['loss_prompt_cls'], want)
    # the loss reaches the predictor through the recorded prompts
    model.zero_grad()
    losses['loss_prompt_cls'].backward()
    grads = [p.grad for p in backbone.predictor.parameters()]
    assert any(g is not None and g.abs().max() > 0 for g in grads)


@pytest.mark.parametrize('name,model_type', CASES)
def test_needs_prompts(vis, name, model_type):
    root, ann = vis
    cfg = load(name, root, ann)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.type = model_type
    bb = model_cfg.detector.backbone if 'detector' in model_cfg else \
        model_cfg.backbone
    bb.num_prompts = 0
    with pytest.raises(ValueError, match='num_prompts > 0'):
        MODELS.build(model_cfg)


def test_test_time_is_the_parents():
    assert PromptSupervisedMinVIS.predict is MinVIS.predict
    assert PromptSupervisedMask2FormerVideo.predict is \
        STPNMask2FormerVideo.predict
