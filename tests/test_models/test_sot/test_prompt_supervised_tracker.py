"""PromptSupervisedOneStreamTracker: the auxiliary prompt loss against a
recomputation written here, its gradient path, and its errors."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from mmstpn.structures import ClipBatch, ClipMeta
from .sot_utils import tiny_tracker, train_samples


def test_prompt_loss_is_the_l1_of_the_support_centers():
    model = tiny_tracker(tracker='PromptSupervisedOneStreamTracker').train()
    samples = train_samples([[10, 12, 30, 40], [30, 20, 50, 34]])
    # item 0: its support box differs from its search box; item 1 has no
    # support frame (its search crop is its support)
    samples[0].video_data_samples[2].gt_instances.bboxes = torch.tensor(
        [[0., 8., 16., 24.]])
    samples[1].video_data_samples = samples[1].video_data_samples[:2]
    template = torch.randn(2, 3, 32, 32)
    clips = ClipBatch(torch.randn(2, 2, 3, 64, 64),
                      [ClipMeta(0, 7, 1), ClipMeta(1, 3, 0)])
    inputs = dict(template=template, search=clips)
    torch.manual_seed(1)
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_l1', 'loss_prompt'}
    with torch.no_grad():
        prompts = model.backbone.forward_tracking(template, clips)[2]
        pred = torch.sigmoid(prompts.flatten(1) @ model.prompt_head.weight.T
                             + model.prompt_head.bias)
        target = torch.tensor([[8., 16.], [40., 27.]]) / 64
        exp = 5.0 * F.l1_loss(pred, target)
    torch.testing.assert_close(losses['loss_prompt'].detach(), exp,
                               atol=1e-5, rtol=1e-4)
    # the head losses are the parent's
    plain = tiny_tracker().train()
    plain.load_state_dict(model.state_dict(), strict=False)
    ref = plain.loss(inputs, samples)
    for k in ref:
        torch.testing.assert_close(losses[k], ref[k])
    model.zero_grad()
    losses['loss_prompt'].backward()
    grads = dict(model.named_parameters())
    for name in ('prompt_head.weight',
                 'backbone.prompt_generator.predictor.queries'):
        assert grads[name].grad.abs().sum() > 0
    # the support pass runs without gradient: the blocks get none from it
    assert grads['backbone.blocks.0.qkv.weight'].grad is None or \
        grads['backbone.blocks.0.qkv.weight'].grad.abs().sum() == 0


def test_prompt_supervised_tracker_errors():
    with pytest.raises(ValueError, match='num_prompts'):
        tiny_tracker(0, tracker='PromptSupervisedOneStreamTracker')
    model = tiny_tracker(tracker='PromptSupervisedOneStreamTracker').train()
    samples = train_samples([[10, 12, 30, 40]])
    samples[0].video_data_samples[2].gt_instances = InstanceData(
        bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
    clips = ClipBatch(torch.randn(1, 2, 3, 64, 64), [ClipMeta(0, 7, 1)])
    with pytest.raises(ValueError, match='support frame'):
        model.loss(dict(template=torch.randn(1, 3, 32, 32), search=clips),
                   samples)
