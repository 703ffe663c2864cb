"""PromptSupervisedFasterRCNN: FasterRCNN + an auxiliary class loss on the
STPN prompts (training aid), identical to FasterRCNN at test time."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from tests.test_models.test_stock_composition import (clips_and_samples,
                                                      stock_detector_cfg)


def build_pair():
    """A stock FasterRCNN and a PromptSupervisedFasterRCNN with the same
    weights (all but the new head)."""
    torch.manual_seed(0)
    cfg = stock_detector_cfg('faster', 'swin')
    plain = MODELS.build(cfg)
    plain.init_weights()
    sup_cfg = copy.deepcopy(cfg)
    sup_cfg.type = 'PromptSupervisedFasterRCNN'
    sup = MODELS.build(sup_cfg)
    keys = sup.load_state_dict(plain.state_dict(), strict=False)
    assert keys.unexpected_keys == []
    assert sorted(keys.missing_keys) == [
        'prompt_cls_head.bias', 'prompt_cls_head.weight'
    ]
    return plain, sup


def test_loss_adds_prompt_class_loss():
    plain, sup = build_pair()
    clips, samples = clips_and_samples(with_mask=False)
    plain.train()
    sup.train()
    torch.manual_seed(1)
    ref = plain.loss(clips, copy.deepcopy(samples))
    torch.manual_seed(1)
    passes = []
    orig = sup.backbone.forward_prompted
    sup.backbone.forward_prompted = lambda *a: passes.append(1) or orig(*a)
    losses = sup.loss(clips, copy.deepcopy(samples))
    del sup.backbone.forward_prompted
    assert passes == [1]  # one prompted backbone pass for both losses
    assert set(losses) == set(ref) | {'loss_prompt_cls'}
    # the detection losses are FasterRCNN's own (same sampling seed)
    for key in ref:
        for a, b in zip(torch.as_tensor(ref[key]).flatten(),
                        torch.as_tensor(losses[key]).flatten()):
            torch.testing.assert_close(a, b)
    # the loss is the multi-label BCE of the head on the mean prompt
    with torch.no_grad():
        prompts = sup.backbone.compute_prompts(clips)
        logits = sup.prompt_cls_head(prompts.mean(1))
    targets = torch.zeros_like(logits)
    for i, s in enumerate(samples):
        targets[i, s.gt_instances.labels] = 1
    torch.testing.assert_close(
        losses['loss_prompt_cls'],
        F.binary_cross_entropy_with_logits(logits, targets))
    # its gradient reaches the predictor, and nothing is kept afterwards
    sup.zero_grad()
    losses['loss_prompt_cls'].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in sup.backbone.predictor.parameters())
    assert held_tensors(sup.backbone) == []
    # a plain detector's backbone keeps nothing after a forward
    assert held_tensors(plain.backbone) == []


def held_tensors(backbone):
    """Tensors a backbone holds outside its parameters and buffers."""
    found = [k for k, v in vars(backbone).items() if torch.is_tensor(v)]
    return found + backbone.video_context.videos()


def test_predict_is_faster_rcnn():
    plain, sup = build_pair()
    clips, samples = clips_and_samples(with_mask=False)
    plain.eval()
    sup.eval()
    with torch.no_grad():
        a = plain.predict(clips, copy.deepcopy(samples))
        b = sup.predict(clips, copy.deepcopy(samples))
    for x, y in zip(a, b):
        torch.testing.assert_close(x.pred_instances.bboxes,
                                   y.pred_instances.bboxes)
        torch.testing.assert_close(x.pred_instances.scores,
                                   y.pred_instances.scores)
    assert held_tensors(sup.backbone) == []


def test_needs_prompts():
    cfg = stock_detector_cfg('faster', 'swin')
    cfg.type = 'PromptSupervisedFasterRCNN'
    cfg.backbone.num_prompts = 0
    with pytest.raises(ValueError, match='num_prompts > 0'):
        MODELS.build(cfg)


def test_weight_from_train_cfg():
    cfg = stock_detector_cfg('faster', 'swin')
    cfg.type = 'PromptSupervisedFasterRCNN'
    assert MODELS.build(copy.deepcopy(cfg)).prompt_loss_weight == 1.0
    cfg.train_cfg.prompt_loss_weight = 20.
    assert MODELS.build(copy.deepcopy(cfg)).prompt_loss_weight == 20.
    # a plain FasterRCNN ignores the key (the toy baseline inherits it)
    cfg.type = 'FasterRCNN'
    assert type(MODELS.build(cfg)).__name__ == 'FasterRCNN'
