"""Issue 13 inference options of STPNSwin / STPNViT: the test-time support
pass frame by frame (``support_chunk``), batched offline frames and
``torch.compile`` of the hot passes (``compile``)."""
import copy

import pytest
import torch
from mmdet.registry import MODELS

from mmstpn.structures import ClipBatch, ClipMeta
from tests.conftest import TINY_SWIN, TINY_VIT

BACKBONES = {'swin': TINY_SWIN, 'vit': TINY_VIT}
K = 5


def build(name, **kwargs):
    cfg = copy.deepcopy(BACKBONES[name])
    cfg.update(**kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def max_diff(outs_a, outs_b):
    return max((a - b).abs().max().item() for a, b in zip(outs_a, outs_b))


def spy_support(model):
    """Record the batch size of every support_embeddings call."""
    calls = []
    orig = model.support_embeddings

    def spy(x):
        calls.append(x.shape[0])
        return orig(x)

    model.support_embeddings = spy
    return calls


def frame0(video, key='v'):
    """Offline frame 0 of ``video`` (T, C, H, W) with K support frames."""
    ids = torch.linspace(0, video.shape[0] - 1, K).round().long()
    frames = torch.cat([video[:1], video[ids]])[None]
    return ClipBatch(frames, [ClipMeta(key, 0, K)])


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_test_time_support_pass_frame_by_frame_equals_all_at_once(name):
    """Offline frame 0: prompts and features with the support pass one
    frame (or 2 frames) at a time equal the all-at-once pass (the
    implementation before issue 13) within 1e-5; the default is 1 frame at
    a time at test and 4 in training."""
    model = build(name, test_support=dict(mode='offline', num_support=K))
    gen = model.prompt_generator
    assert gen.support_chunk == 1 and gen.train_support_chunk == 4
    calls = spy_support(model)
    video = torch.randn(9, 3, 48, 64)
    results = {}
    with torch.no_grad():
        for chunk in (0, 1, 2):
            gen.support_chunk = chunk
            calls.clear()
            feats = model(frame0(video))
            results[chunk] = (feats, model.video_context.prompts['v'].clone())
            assert calls == {0: [K], 1: [1] * K, 2: [2, 2, 1]}[chunk]
    whole_feats, whole_prompts = results[0]
    for chunk in (1, 2):
        feats, prompts = results[chunk]
        assert torch.allclose(prompts, whole_prompts, atol=1e-5)
        assert max_diff(feats, whole_feats) < 1e-5
    # training keeps its own chunk size (K=5 -> 4 + 1)
    model.train()
    calls.clear()
    model(frame0(video))
    assert calls == [4, 1]


@pytest.mark.parametrize('key,value', [('support_chunk', -1),
                                       ('train_support_chunk', 1.5)])
def test_bad_chunk_is_an_error_naming_the_key(key, value):
    with pytest.raises(ValueError, match=f'model.backbone.{key}'):
        build('swin', **{key: value})


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_batched_offline_frames_equal_frame_by_frame(name):
    """Frames 1..6 of a video in batches of 3 (and a batch that mixes a
    later frame of one video with frame 0 of the next) give the features
    of frame-by-frame inference."""
    model = build(name, test_support=dict(mode='offline', num_support=K))
    video = torch.randn(7, 3, 48, 64)
    other = torch.randn(7, 3, 48, 64)
    with torch.no_grad():
        model(frame0(video))
        single = [
            model(ClipBatch(video[t:t + 1, None], [ClipMeta('v', t, 0)]))
            for t in range(1, 7)
        ]
        model.video_context.clear()
        model(frame0(video))
        batched = []
        for start in (1, 4):
            ts = list(range(start, start + 3))
            outs = model(ClipBatch(video[ts][:, None],
                                   [ClipMeta('v', t, 0) for t in ts]))
            batched += [[o[i:i + 1] for o in outs] for i in range(3)]
        for t in range(6):
            assert max_diff(batched[t], single[t]) < 1e-5
        # frame 6 of 'v' beside frame 0 of 'w' (zero-padded support)
        frames = torch.zeros(2, 1 + K, 3, 48, 64)
        frames[0, 0] = video[6]
        frames[1] = frame0(other, 'w').frames[0]
        outs = model(ClipBatch(frames, [ClipMeta('v', 6, 0),
                                        ClipMeta('w', 0, K)]))
        assert max_diff([o[:1] for o in outs], single[5]) < 1e-5
        alone = build(name, test_support=dict(mode='offline', num_support=K))
        alone.load_state_dict(model.state_dict())
        assert max_diff([o[1:] for o in outs],
                        alone(frame0(other, 'w'))) < 1e-5


class CountingBackend:
    """A torch.compile backend that counts the graphs it is given (every
    compilation and recompilation) and runs them eagerly."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, gm, example_inputs):
        self.graphs += 1
        return gm.forward


SMALL = {'swin': dict(depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2)),
         'vit': {}}


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_compile_does_not_recompile_per_frame(name):
    """compile=dict(backend=...): two videos of a fixed frame size compile
    the support pass and the prompted pass once each (frame 0 and later
    frames alike: no recompilation per frame or per video), and the outputs
    equal eager ones."""
    torch._dynamo.reset()
    counter = CountingBackend()
    kwargs = dict(SMALL[name],
                  test_support=dict(mode='offline', num_support=K))
    eager = build(name, **kwargs)
    compiled = build(name, compile=dict(backend=counter), **kwargs)
    compiled.load_state_dict(eager.state_dict())
    graphs = []
    try:
        with torch.no_grad():
            for key in ('a', 'b'):
                video = torch.randn(4, 3, 48, 64)
                for t in range(4):
                    clip = frame0(video, key) if t == 0 else ClipBatch(
                        video[t:t + 1, None], [ClipMeta(key, t, 0)])
                    assert max_diff(compiled(clip), eager(clip)) < 1e-5
                    graphs.append(counter.graphs)
        # support_embeddings + forward_prompted at frame 0, nothing after
        assert graphs == [2] * 8
        # training stays eager
        compiled.train()
        compiled(torch.randn(1, 2, 3, 48, 64))
        assert counter.graphs == 2
    finally:
        torch._dynamo.reset()


@pytest.mark.parametrize('value,match', [
    (dict(backend='eager', foo=1), r"unknown key\(s\) \['foo'\]"),
    ('inductor', 'must be a bool or a dict'),
])
def test_bad_compile_option(value, match):
    with pytest.raises(ValueError, match=match):
        build('swin', compile=value)


def test_compile_off_by_default_and_true_means_defaults():
    assert build('vit').compile_options is None
    assert build('vit', compile=True).compile_options == {}


def test_clip_batch_select_views_consecutive_items():
    """select() of consecutive items is a view (an offline frame 0's K
    support frames are not copied), other selections copy; both keep the
    identities."""
    frames = torch.randn(3, 4, 3, 8, 8)
    batch = ClipBatch(frames, [ClipMeta(v, 0, 3) for v in 'abc'])
    run = batch.select([1, 2])
    assert run.frames.data_ptr() == frames[1].data_ptr()
    assert [m.video_key for m in run.metas] == ['b', 'c']
    picked = batch.select([2, 0])
    assert torch.equal(picked.frames, frames[[2, 0]])
    assert [m.video_key for m in picked.metas] == ['c', 'a']
