"""OneStreamTracker: loss + backward, the online protocol on a synthetic
sequence, the online support cache and the tracker state's lifetime."""
import pytest
import torch

import mmstpn.models.sot.one_stream_tracker as ost
from mmstpn.engine import VideoContextHook
from mmstpn.models.sot import crop_resize, square_region
from mmstpn.structures import ClipBatch, ClipMeta
from .sot_utils import frame_sample, square_video, tiny_tracker, \
    train_samples


def run_video(model, frames, boxes, video='seq', start=0):
    outs = []
    for t in range(start, frames.shape[0]):
        ds = frame_sample(video, t, boxes[t] if t == 0 else None)
        model.predict(frames[t][None, None], [ds])
        outs.append(ds[0])
    return outs


def test_loss_and_backward():
    model = tiny_tracker().train()
    calls = []
    support = model.backbone.support_embeddings

    def spy(frames, *rest):
        out = support(frames, *rest)
        calls.append((frames.shape[0], out[0].requires_grad))
        return out

    model.backbone.support_embeddings = spy
    template = torch.randn(2, 3, 32, 32)
    clips = ClipBatch(torch.randn(2, 2, 3, 64, 64),
                      [ClipMeta(0, 7, 1), ClipMeta(1, 3, 0)])
    losses = model.loss(
        dict(template=template, search=clips),
        train_samples([[10, 12, 30, 40], [30, 20, 50, 34]]))
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_l1'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    # one support pass (item 0: its support, item 1: its own search crop),
    # without gradient; the predictor, blocks and head get gradients
    assert calls == [(2, False)]
    for name in ('backbone.prompt_generator.predictor.queries',
                 'backbone.blocks.0.qkv.weight', 'backbone.pos_embed_template',
                 'head.size_branch.2.weight'):
        assert dict(model.named_parameters())[name].grad.abs().sum() > 0


def test_predict_follows_the_previous_box_on_a_moving_square(monkeypatch):
    model = tiny_tracker().eval()
    frames, boxes = square_video()
    regions = []
    real_crop = ost.crop_resize

    def spy(img, region, size):
        regions.append((list(region), size))
        return real_crop(img, region, size)

    monkeypatch.setattr(ost, 'crop_resize', spy)
    outs = run_video(model, frames, boxes)
    preds = [o.pred_track_instances.bboxes for o in outs]
    torch.testing.assert_close(preds[0], torch.tensor([boxes[0]]).float())
    h, w = frames.shape[-2:]
    for t, p in enumerate(preds):
        assert p.shape == (1, 4) and torch.isfinite(p).all()
        assert (p[0, :2] >= 0).all() and p[0, 2] <= w and p[0, 3] <= h
        assert (p[0, 2:] > p[0, :2]).all()
        assert outs[t].frame_time > 0
    # frame 0: template (factor 2, 32 px) and the first support search crop
    # around the given box; frame t: the search crop around frame t-1's box
    assert regions[0] == (square_region(boxes[0], 2.0), 32)
    assert regions[1] == (square_region(boxes[0], 4.0), 64)
    for t in range(1, len(frames)):
        assert regions[t + 1] == (square_region(preds[t - 1][0].tolist(),
                                                4.0), 64)
    # the template stays frame 0's crop
    exp = crop_resize(frames[0], square_region(boxes[0], 2.0), 32)
    torch.testing.assert_close(model.state.template[0], exp)
    assert model.state.frame_id == len(frames) - 1


def test_online_cache_runs_each_grid_frame_once():
    model = tiny_tracker().eval()  # online K=2, S=2
    frames, boxes = square_video(num_frames=7)
    bb = model.backbone
    seen, crops, templates = [], [], []
    support, joint = bb.support_embeddings, bb.forward_joint

    def spy_support(x, *rest):
        seen.append(x.clone())
        templates.append(rest)
        return support(x, *rest)

    def spy_joint(template, search, prompts=None, **kw):
        crops.append((search.clone(), prompts))
        return joint(template, search, prompts, **kw)

    bb.support_embeddings, bb.forward_joint = spy_support, spy_joint
    run_video(model, frames, boxes)
    # grid frames 0, 2, 4, 6: one unprompted pass each, one crop each
    assert [x.shape[0] for x in seen] == [1, 1, 1, 1]
    # frames 2, 4, 6: the same crop as their prompted pass (crops[t-1])
    for j, t in enumerate((2, 4, 6), start=1):
        torch.testing.assert_close(seen[j], crops[t - 1][0])
    hist = bb.video_context.embeddings['seq']
    # the cache keeps the K + batch (2 + 1) latest grid frames
    assert [fid for fid, _ in hist] == [2, 4, 6]
    # the joint support pass (default) gets the sequence's template each
    # time: the one of the prompted passes
    for rest in templates:
        torch.testing.assert_close(rest[0], model.state.template)
    # frame 5's prompts: the predictor on the cached frames 2 and 4
    with torch.no_grad():
        tok = [support(seen[j], *templates[j])[0][0] for j in (1, 2)]
        exp = bb.predictor(torch.stack(tok)[None], (4, 4))
    torch.testing.assert_close(crops[4][1], exp, atol=1e-5, rtol=1e-4)


def test_baseline_tracks_without_support_pass():
    model = tiny_tracker(num_prompts=0).eval()
    assert model.backbone.predictor is None

    def no_support(*args):
        raise AssertionError('no support pass without prompts')

    model.backbone.support_embeddings = no_support
    frames, boxes = square_video(num_frames=3)
    outs = run_video(model, frames, boxes)
    assert all(torch.isfinite(o.pred_track_instances.bboxes).all()
               for o in outs)


def test_batch_equals_frames_one_by_one():
    frames, boxes = square_video(num_frames=4)
    one = tiny_tracker().eval()
    ref = [o.pred_track_instances.bboxes for o in run_video(one, frames,
                                                            boxes)]
    two = tiny_tracker().eval()
    samples = [frame_sample('seq', t, boxes[t] if t == 0 else None)
               for t in range(4)]
    two.predict(frames[:2][:, None], samples[:2])
    two.predict(frames[2:][:, None], samples[2:])
    for r, s in zip(ref, samples):
        torch.testing.assert_close(s[0].pred_track_instances.bboxes, r)


def test_state_lifetime_and_errors():
    model = tiny_tracker().eval()
    frames, boxes = square_video(num_frames=3)
    run_video(model, frames, boxes, video='a')
    assert model.state.sequence == 'a'
    with pytest.raises(ValueError, match="sequence 'b' frame 1"):
        model.predict(frames[1][None, None], [frame_sample('b', 1)])
    run_video(model, frames, boxes, video='b')  # frame 0 resets
    assert model.state.sequence == 'b'
    assert list(model.backbone.video_context.embeddings) == ['b']
    with pytest.raises(ValueError, match='no given box'):
        model.predict(frames[0][None, None], [frame_sample('c', 0)])

    class Runner:
        pass

    runner = Runner()
    runner.model = model
    VideoContextHook().after_test_epoch(runner)
    assert model.state is None and not model.backbone.video_context.embeddings
    run_video(model, frames, boxes, video='a')
    model.train()
    assert model.state is None


def test_predict_needs_the_online_policy():
    model = tiny_tracker(test_support=dict(mode='offline')).eval()
    frames, boxes = square_video(num_frames=1)
    with pytest.raises(ValueError, match='test_support.mode'):
        run_video(model, frames, boxes)
