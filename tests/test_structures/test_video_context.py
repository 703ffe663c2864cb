"""VideoContext: the one owner of a model's test-time policy and per-video
state, and its reset rule."""
import copy

import pytest
import torch
from mmdet.registry import MODELS

from mmstpn.structures import (ClipMeta, SupportPolicy, VideoContext,
                               find_video_context, get_video_context,
                               set_test_policy)
from tests.conftest import TINY_SWIN


def metas(*items):
    return [ClipMeta(v, f, 0) for v, f in items]


def test_enter_batch_drops_other_videos_and_resets_frame_zero():
    ctx = VideoContext('online')
    ctx.enter_batch(metas(('a', 0), ('b', 3)))
    ctx.video('a').prompts = torch.ones(1)
    ctx.video('b').slots['x'] = 1
    ctx.enter_batch(metas(('a', 1)))
    assert ctx.videos() == ['a']  # b is not in the batch: dropped
    assert torch.equal(ctx.video('a').prompts, torch.ones(1))
    ctx.enter_batch(metas(('a', 0)))  # a starts again: reset
    assert ctx.video('a').prompts is None


def test_enter_batch_twice_for_one_batch_counts_once():
    """The backbone and the detector around it both call it in one
    forward: the second call must not reset what the first stored."""
    ctx = VideoContext()
    batch = metas(('v', 0))
    ctx.enter_batch(batch)
    ctx.video('v').prompts = torch.zeros(2)
    ctx.enter_batch(batch)
    assert ctx.video('v').prompts is not None
    ctx.enter_batch(metas(('v', 1)))
    ctx.enter_batch(batch)  # frame 0 again, after another batch: reset
    assert ctx.video('v').prompts is None


def test_clear_calls_registered_resets_on_train_and_policy_switch():
    calls = []
    ctx = VideoContext('offline')
    ctx.register_reset(lambda: calls.append(1))
    ctx.video('v').prompts = torch.zeros(1)
    ctx.train()
    assert calls == [1] and not ctx.videos()
    ctx.eval()  # leaving training keeps nothing to clear, calls nothing
    assert calls == [1]
    ctx.video('v').prompts = torch.zeros(1)
    assert ctx.set_policy(dict(num_support=3)) == SupportPolicy(
        'offline', 3, 1)  # the other keys keep their values
    assert calls == [1, 1] and not ctx.videos()
    ctx.video('v').prompts = torch.zeros(1)
    ctx.set_policy(dict(num_support=3))  # the same policy: nothing changes
    assert calls == [1, 1] and ctx.videos() == ['v']
    assert ctx.set_policy('online') == SupportPolicy('online', 3, 1)
    assert calls == [1, 1, 1]


def test_policy_errors_name_the_config_key():
    with pytest.raises(ValueError, match='model.test_support.mode must'):
        VideoContext(dict(mode='causal'), 'model.test_support')
    ctx = VideoContext()
    with pytest.raises(ValueError, match='model.backbone.test_support has '
                       'unknown keys'):
        ctx.set_policy(dict(k=3))
    assert ctx.policy == SupportPolicy()  # unchanged by the failed switch


def test_online_embeddings_in_order_and_bounded():
    state = VideoContext('online').video('v')
    for fid in (0, 2, 4):
        state.add_embedding('v', fid, torch.full((1, 1), fid), (1, 1), 2)
    assert [f for f, _ in state.embeddings] == [2, 4]
    assert [e.item() for e in state.past_embeddings(4, 5)] == [2]
    state.add_embedding('v', 4, torch.zeros(1, 1), (1, 1), 2)  # no-op
    with pytest.raises(ValueError, match="video 'v': frame 3 arrived after "
                       'frame 4'):
        state.add_embedding('v', 3, torch.zeros(1, 1), (1, 1), 2)
    with pytest.raises(ValueError, match='support grid \\(2, 2\\) differs'):
        state.add_embedding('v', 6, torch.zeros(4, 1), (2, 2), 2)


def build_backbone(**kwargs):
    cfg = copy.deepcopy(TINY_SWIN)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_one_context_per_model_found_by_type_and_not_in_state_dict():
    backbone = build_backbone()
    model = torch.nn.Sequential(backbone)
    assert get_video_context(model) is backbone.video_context
    assert not any('video_context' in k for k in model.state_dict())
    assert find_video_context(torch.nn.Linear(1, 1)) is None
    with pytest.raises(ValueError, match='has no video context'):
        set_test_policy(torch.nn.Linear(1, 1), 'online')
    twin = copy.deepcopy(model)
    assert get_video_context(twin) is twin[0].video_context
    assert get_video_context(twin) is not backbone.video_context


def test_set_test_policy_switches_the_backbone_and_its_generator():
    backbone = build_backbone(test_support=dict(mode='offline'))
    set_test_policy(backbone, dict(mode='online', stride=2))
    assert backbone.test_support == SupportPolicy('online', 14, 2)
    assert backbone.prompt_generator.video_context.policy == \
        backbone.test_support
    backbone.test_support = SupportPolicy('frames', 2)
    assert get_video_context(backbone).policy == SupportPolicy('frames', 2)
