"""Behaviour shared by STPNSwin and STPNViT."""
import copy

import pytest
import torch
from mmdet.registry import MODELS

from mmstpn.structures import ClipBatch, ClipMeta
from tests.conftest import PREDICTORS, TINY_SWIN, TINY_VIT, TINY_VIT_PYRAMID

BACKBONES = {'swin': TINY_SWIN, 'vit': TINY_VIT}


def build(name, predictor='AttentionDVPPredictor', **kwargs):
    """A backbone in eval mode (conftest: test_support mode 'frames')."""
    cfg = copy.deepcopy(BACKBONES[name])
    cfg.update(predictor=dict(type=predictor), **kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def max_diff(outs_a, outs_b):
    return max((a - b).abs().max().item() for a, b in zip(outs_a, outs_b))


@pytest.mark.parametrize('predictor', PREDICTORS)
@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_batch_equals_items_one_by_one(name, predictor):
    model = build(name, predictor)
    clips = torch.randn(3, 3, 3, 64, 80)  # 3 clips, key + K=2 support
    with torch.no_grad():
        batched = model(clips)
        for i in range(3):
            single = model(clips[i:i + 1])
            assert max_diff([o[i:i + 1] for o in batched], single) < 1e-5


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_batch_invariance_in_training_mode_grads(name):
    """Per-item losses give the same predictor gradients batched or not."""
    model = build(name).train()
    clips = torch.randn(2, 3, 3, 48, 48)
    model.zero_grad()
    sum(o.square().mean() for o in model(clips[:1])).backward()
    sum(o.square().mean() for o in model(clips[1:])).backward()
    one_by_one = model.predictor.queries.grad.clone()
    model.zero_grad()
    outs = model(clips)
    sum(o[i:i + 1].square().mean() for o in outs for i in range(2)).backward()
    assert torch.allclose(model.predictor.queries.grad, one_by_one,
                          atol=1e-5)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_output_strides_and_channels(name):
    model = build(name)
    # sizes that are not multiples of the window (7 for Swin, 3 for ViT)
    x = torch.randn(1, 2, 3, 70, 100)
    with torch.no_grad():
        outs = model(x)
        if name == 'vit':  # the stride-16 map through the pyramid neck
            model = MODELS.build(TINY_VIT_PYRAMID)
            outs = model(outs)
    assert len(outs) == 4
    channels = [o.shape[1] for o in outs]
    if name == 'swin':
        assert channels == [16, 32, 64, 128]
        expected = [(18, 25), (9, 13), (5, 7), (3, 4)]
    else:
        assert channels == list(model.out_channels) == [8, 16, 32, 32]
        expected = [(20, 28), (10, 14), (5, 7), (2, 3)]  # corner-padded
    assert [tuple(o.shape[-2:]) for o in outs] == expected


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_prompts_depend_on_support_frames(name):
    model = build(name)
    clips = torch.randn(1, 3, 3, 48, 48)
    other = clips.clone()
    other[:, 1:] = torch.randn_like(other[:, 1:])
    with torch.no_grad():
        assert max_diff(model(clips), model(other)) > 1e-4
        # changing only the support frames never changes the support pass
        # of the key frame: prompts are the only path
        p1 = model.compute_prompts(clips)
        p2 = model.compute_prompts(other)
    assert (p1 - p2).abs().max() > 1e-4


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_support_order_does_not_matter(name):
    model = build(name)
    clips = torch.randn(2, 4, 3, 48, 48)
    swapped = clips[:, [0, 3, 1, 2]]
    with torch.no_grad():
        assert max_diff(model(clips), model(swapped)) < 1e-5


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_gradients_reach_predictor_not_support_pass(name):
    model = build(name).train()
    clips = torch.randn(2, 3, 3, 48, 48, requires_grad=True)
    sum(o.mean() for o in model(clips)).backward()
    assert model.predictor.queries.grad is not None
    assert model.predictor.queries.grad.abs().sum() > 0
    # the support frames only enter through the no_grad support pass
    assert clips.grad[:, 1:].abs().sum() == 0
    assert clips.grad[:, 0].abs().sum() > 0


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_support_grad_option(name):
    model = build(name, support_grad=True).train()
    clips = torch.randn(1, 3, 3, 48, 48, requires_grad=True)
    sum(o.mean() for o in model(clips)).backward()
    assert clips.grad[:, 1:].abs().sum() > 0


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_4d_input_is_its_own_support(name):
    model = build(name)
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        outs = model(images)
        self_support = model(torch.stack([images, images], dim=1))
    assert max_diff(outs, self_support) < 1e-5


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_bad_inputs_raise_clear_errors(name):
    model = build(name)
    with pytest.raises(ValueError, match='3-D tensor'):
        model(torch.randn(3, 48, 48))
    with pytest.raises(ValueError, match='in_channels=3.*4 channels'):
        model(torch.randn(1, 2, 4, 48, 48))
    with pytest.raises(ValueError, match='6-D'):
        model(torch.randn(1, 1, 2, 3, 48, 48))
    with pytest.raises(ValueError, match='prompts of shape'):
        model.forward_prompted(
            torch.randn(2, 3, 48, 48), torch.randn(1, 5, model.prompt_dims))


def test_num_prompts_conflict_is_an_error():
    cfg = dict(TINY_SWIN, num_prompts=4,
               predictor=dict(type='AttentionDVPPredictor', num_prompts=5))
    with pytest.raises(ValueError, match='num_prompts'):
        MODELS.build(cfg)


# --------------------------------------------------------- test-time caching
def _clips(frames, metas):
    return ClipBatch(frames, metas)


OFFLINE = dict(mode='offline', num_support=3)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_offline_cache_reuses_first_frame_prompts(name):
    model = build(name, test_support=OFFLINE)
    video = torch.randn(4, 3, 48, 48)  # 4 frames
    support = video[[0, 1, 3]]
    frames = model.test_support
    with torch.no_grad():
        first = _clips(
            torch.cat([video[:1], support]).unsqueeze(0),
            [ClipMeta('v1', 0, 3)])
        out0 = model(first)
        cached = model.video_context.prompts['v1'].clone()
        later = _clips(video[2:3, None], [ClipMeta('v1', 2, 0)])
        out2 = model(later)
        # same as running frame 2 with the same support frames directly
        direct = model.forward_prompted(
            video[2:3],
            model.compute_prompts(torch.cat([video[2:3],
                                             support]).unsqueeze(0)))
        assert max_diff(out2, direct) < 1e-5
        assert torch.equal(model.video_context.prompts['v1'], cached)
        assert max_diff(out0, model(first)) < 1e-5
        # a new video drops the old one
        other = _clips(
            torch.cat([video[:1], support]).unsqueeze(0),
            [ClipMeta('v2', 0, 3)])
        model(other)
        assert set(model.video_context.prompts) == {'v2'}
        with pytest.raises(ValueError, match="video 'v1' frame 3"):
            model(_clips(video[3:4, None], [ClipMeta('v1', 3, 0)]))
        # frame 0 must carry the support frames (no stale reuse)
        with pytest.raises(ValueError, match="frame 0 carries no support.*"
                           "mode='offline'"):
            model(_clips(video[:1, None], [ClipMeta('v2', 0, 0)]))
    assert frames.mode == 'offline'


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_online_mode_is_causal_and_computes_each_frame_once(name):
    stride, k = 2, 2
    model = build(
        name, test_support=dict(mode='online', num_support=k, stride=stride))
    frames = torch.randn(9, 3, 48, 48)
    calls = []
    orig = model.support_embeddings

    def counting(x):
        calls.append(x.shape[0])
        return orig(x)

    model.support_embeddings = counting
    with torch.no_grad():
        outs = []
        for t in range(9):
            outs.append(model(_clips(frames[t:t + 1, None],
                                     [ClipMeta('v', t, 0)])))
        # grid frames 0, 2, 4, 6, 8: one unprompted pass each, nothing more
        assert sum(calls) == 5
        model.support_embeddings = orig

        def direct(t, support):
            clip = frames[[t] + support].unsqueeze(0)
            return model.forward_prompted(frames[t:t + 1],
                                          model.compute_prompts(clip))

        # frame 7 uses grid frames 4 and 6 (the 2 latest strictly before 7)
        assert max_diff(outs[7], direct(7, [4, 6])) < 1e-5
        # frame 6 uses 2 and 4, not itself
        assert max_diff(outs[6], direct(6, [2, 4])) < 1e-5
        # frame 0 has no past: it is its own support
        assert max_diff(outs[0], model(frames[:1])) < 1e-5
        # online loads no support frames: carried ones mean the pipeline
        # disagrees with the policy
        with pytest.raises(ValueError, match="carries 2 support.*'online'"):
            model(_clips(frames[None, :3], [ClipMeta('w', 0, 2)]))


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_online_batch_equals_frames_one_by_one(name):
    model = build(name, test_support=dict(mode='online', num_support=2))
    frames = torch.randn(6, 3, 48, 48)
    with torch.no_grad():
        single = []
        for t in range(6):
            single.append(model(_clips(frames[t:t + 1, None],
                                       [ClipMeta('v', t, 0)])))
        model.video_context.clear()
        batched = []
        for start in (0, 3):
            batched.append(model(_clips(
                frames[start:start + 3, None],
                [ClipMeta('v', t, 0) for t in range(start, start + 3)])))
    for t in range(6):
        outs = batched[t // 3]
        assert max_diff([o[t % 3:t % 3 + 1] for o in outs], single[t]) < 1e-5


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_mixed_batch_of_padded_clips(name):
    """Items with fewer real support frames (zero padded) equal themselves
    alone."""
    model = build(name)
    clips = torch.randn(2, 3, 3, 48, 48)
    clips[1, 2] = 0  # padding
    tagged = _clips(clips.clone(), [ClipMeta('a', 5, 2), ClipMeta('b', 5, 1)])
    with torch.no_grad():
        outs = model(tagged)
        assert max_diff([o[1:] for o in outs], model(clips[1:, :2])) < 1e-5
        assert max_diff([o[:1] for o in outs], model(clips[:1])) < 1e-5


def test_cache_is_not_used_in_training_and_train_empties_it():
    model = build('vit', test_support=OFFLINE).train()
    clip = _clips(torch.randn(1, 1, 3, 48, 48), [ClipMeta('v', 3, 0)])
    model(clip)  # would raise in eval mode (no cached prompts)
    assert not model.video_context.prompts
    model.eval()
    with torch.no_grad():
        model(_clips(torch.randn(1, 4, 3, 48, 48), [ClipMeta('v', 0, 3)]))
    assert set(model.video_context.prompts) == {'v'}
    model.eval()  # eval() keeps it
    assert set(model.video_context.prompts) == {'v'}
    model.train()  # training starts: the last test video is gone
    assert not model.video_context.prompts


@pytest.mark.parametrize('mode', ['offline', 'online'])
def test_cached_mode_without_video_identity_is_an_error(mode):
    model = build('swin', test_support=dict(mode=mode))
    with torch.no_grad(), pytest.raises(ValueError,
                                        match=f"mode='{mode}'.*no video "
                                        'identity'):
        model(torch.randn(1, 3, 3, 48, 48))
    with torch.no_grad():  # still images (4-D) are their own support
        model(torch.randn(2, 3, 48, 48))


def test_forward_with_prompts_returns_the_prompts_it_used():
    model = build('swin')
    clips = torch.randn(2, 3, 3, 48, 48)
    with torch.no_grad():
        feats, prompts = model.forward_with_prompts(clips)
        assert torch.allclose(prompts, model.compute_prompts(clips))
        assert max_diff(feats, model.forward_prompted(clips[:, 0],
                                                      prompts)) == 0
    baseline = build('swin', num_prompts=0)
    assert baseline.forward_with_prompts(clips)[1] is None


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_zero_prompts_is_the_single_frame_baseline(name):
    torch.manual_seed(0)
    baseline = build(name, num_prompts=0)
    assert baseline.predictor is None
    calls = []
    baseline.support_embeddings = lambda x: calls.append(x)
    clips = torch.randn(2, 3, 3, 48, 48)
    with torch.no_grad():
        outs = baseline(clips)
        other = clips.clone()
        other[:, 1:] = 0
        assert max_diff(outs, baseline(other)) == 0  # supports ignored
        assert max_diff(outs, baseline(clips[:, 0])) == 0
        assert max_diff(outs, baseline.forward_prompted(
            clips[:, 0], clips.new_zeros(2, 0, baseline.prompt_dims))) == 0
    assert calls == []  # no support pass at all
    n_base = sum(p.numel() for p in baseline.parameters())
    stpn = build(name)
    n_pred = sum(p.numel() for p in stpn.predictor.parameters())
    assert sum(p.numel() for p in stpn.parameters()) == n_base + n_pred


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_support_chunking_changes_nothing(name):
    model = build(name)
    clips = torch.randn(2, 4, 3, 48, 48)
    calls = []
    orig = model.support_embeddings

    def spy(x):
        calls.append(x.shape[0])
        return orig(x)

    model.support_embeddings = spy
    with torch.no_grad():
        model.prompt_generator.support_chunk = 0
        whole = model(clips)
        model.prompt_generator.support_chunk = 4
        chunked = model(clips)
    assert calls == [6, 4, 2]  # 2 clips x 3 support frames, then in chunks
    assert max_diff(whole, chunked) < 1e-5


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_support_eval_removes_drop_path_noise_from_the_support_pass(name):
    """support_eval=True: in training, the no-grad support pass is the
    eval-mode pass (deterministic), and the modules are back in training
    mode afterwards; default: drop-path noise in the support pass."""
    frames = torch.randn(2, 3, 48, 48)
    for flag in (False, True):
        model = build(name, drop_path_rate=0.5, support_eval=flag)
        model.eval()
        with torch.no_grad():
            ref, _ = model.support_embeddings(frames)
        model.train()
        torch.manual_seed(3)
        tokens, _ = model.prompt_generator.support_tokens(model, frames)
        assert all(m.training for m in model.modules())
        same = torch.allclose(tokens, ref, atol=1e-6)
        assert same == flag
