"""VideoContextHook: the model's test_support reaches the test pipeline
(through dataset wrappers and nested transforms), disagreements are errors
that name both settings, and the caches are emptied after val / test."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import HOOKS, MODELS, TRANSFORMS
from mmengine.dataset import Compose

from mmstpn.engine import support_samplers
from mmstpn.structures import get_video_context
from mmstpn.structures import ClipBatch, ClipMeta, SupportPolicy
from tests.conftest import TINY_VIT


class FakeDataset:

    def __init__(self, pipeline):
        self.pipeline = Compose(pipeline)


class FakeWrapper:  # like VideoConcatDataset / ConcatDataset

    def __init__(self, *datasets):
        self.datasets = list(datasets)


def sampler(**kwargs):
    return TRANSFORMS.build(dict(type='SupportFrameSample', **kwargs))


def runner_for(model, dataset):
    loop = SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset))
    return SimpleNamespace(model=model, val_loop=loop, test_loop=loop)


def model_with(policy):
    cfg = copy.deepcopy(TINY_VIT)
    cfg['test_support'] = policy
    return torch.nn.Sequential(MODELS.build(cfg))


def test_policy_reaches_every_sampler_through_wrappers():
    derived = sampler(method='from_model')
    nested = TRANSFORMS.build(
        dict(type='TransformBroadcaster', transforms=[dict(
            type='SupportFrameSample', method='from_model')]))
    dataset = FakeWrapper(FakeDataset([derived]), FakeDataset([nested]))
    found = list(support_samplers(dataset))
    assert len(found) == 2 and found[0] is derived
    model = model_with(dict(mode='online', num_support=3, stride=2))
    hook = HOOKS.build(dict(type='VideoContextHook'))
    hook.before_test(runner_for(model, dataset))
    assert derived.policy == SupportPolicy('online', 3, 2)
    assert found[1].policy == SupportPolicy('online', 3, 2)


def test_disagreeing_pipeline_names_both_settings():
    fixed = sampler(num_ref_imgs=14, method='test_with_adaptive_stride')
    model = model_with(dict(mode='online'))
    hook = HOOKS.build(dict(type='VideoContextHook'))
    with pytest.raises(ValueError, match="SupportFrameSample\\(method="
                       "'test_with_adaptive_stride'.*model.backbone."
                       "test_support=dict\\(mode='online'"):
        hook.before_val(runner_for(model, FakeDataset([fixed])))


def test_policy_errors():
    with pytest.raises(ValueError, match='no STPN backbone'):
        get_video_context(torch.nn.Linear(2, 2))
    two = torch.nn.Sequential(
        model_with(dict(mode='online')), model_with(dict(mode='offline')))
    with pytest.raises(ValueError, match='holds 2 video contexts'):
        get_video_context(two)
    with pytest.raises(ValueError, match='test_support.mode must be one'):
        SupportPolicy('causal')
    with pytest.raises(ValueError, match='unknown keys'):
        SupportPolicy.build(dict(mode='online', k=3))


def test_caches_are_emptied_after_a_run():
    model = model_with(dict(mode='offline', num_support=2)).eval()
    backbone = model[0]
    with torch.no_grad():
        backbone(ClipBatch(torch.randn(1, 3, 3, 48, 48), [ClipMeta('v', 0,
                                                                   2)]))
    assert list(backbone.video_context.prompts) == ['v']
    hook = HOOKS.build(dict(type='VideoContextHook'))
    hook.after_test_epoch(runner_for(model, FakeDataset([])))
    assert not backbone.video_context.prompts
