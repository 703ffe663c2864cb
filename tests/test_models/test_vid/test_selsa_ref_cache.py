"""The test-time cache of SELSA's reference branch (``RefMemory.states``):
the reference RoIs of a video's memory go through RoI Align and the shared
FCs once; the cached head output equals recomputing the reference branch
for every key frame (atol 1e-5); a new video / frame 0 resets the cache; the
online memory only caches past frames."""
import pytest
import torch

from mmstpn.structures import ClipMeta
from tests.test_models.test_vid import test_selsa as det
from tests.test_models.test_vid.test_selsa_roi_head import build as build_head
from tests.test_models.test_vid.test_selsa_roi_head import inputs


@pytest.mark.parametrize('troi', [False, True])
def test_head_cached_states_equal_uncached(troi):
    """Several key frames of one video against one set of reference frames:
    the class scores / box deltas from states computed once equal the plain
    ``ref_x`` path of every key frame; so do the detections of
    ``predict(ref_states=...)`` with some states missing (computed there)."""
    head = build_head(troi=troi).eval()
    _, ref_x, _, ref_props = inputs(1, [4], seed=1)
    with torch.no_grad():
        cache = head.ref_states(ref_x, ref_props)
        assert [len(s) for s in cache] == [len(p) for p in ref_props]
        for t in range(3):  # three key frames of the video
            x, _, props, _ = inputs(1, [4], seed=10 + t)
            rois = torch.cat([props[0].bboxes.new_zeros(40, 1),
                              props[0].bboxes], 1)
            ref_rois, num_ref_frames, num_ref_rois = head._ref_rois(
                ref_x, ref_props, None, 1)
            plain = head._bbox_forward(x, rois, ref_x, ref_rois, [40],
                                       num_ref_frames, num_ref_rois)
            kept = head._bbox_forward(x, rois, ref_x, ref_rois, [40],
                                      num_ref_frames, num_ref_rois,
                                      torch.cat(cache))
            for key in ('cls_score', 'bbox_pred'):
                torch.testing.assert_close(kept[key], plain[key], atol=1e-5,
                                           rtol=0)
            partial = [cache[0], None, cache[2], None]
            got = head.predict(x, ref_x, props, ref_props, det.samples(1)[:1],
                               ref_states=partial)[0]
            want = head.predict(x, ref_x, props, ref_props,
                                det.samples(1)[:1])[0]
            torch.testing.assert_close(got.scores, want.scores, atol=1e-5,
                                       rtol=0)
            torch.testing.assert_close(got.bboxes, want.bboxes, atol=1e-4,
                                       rtol=0)
    with pytest.raises(ValueError, match=r'ref_states\[1\] holds'):
        head.predict(x, ref_x, props, ref_props, det.samples(1)[:1],
                     ref_states=[cache[0], cache[0], None, None])
    with pytest.raises(ValueError, match='exactly one of ref_x and'):
        head.bbox_head(torch.zeros(2, 8, 7, 7))


def count_rows(model):
    """Wrap the box head's reference branch: list of rows per call."""
    calls = []
    inner = model.roi_head.bbox_head.ref_states

    def counted(ref_x):
        calls.append(ref_x.size(0))
        return inner(ref_x)

    model.roi_head.bbox_head.ref_states = counted
    return calls


def recomputed(model, memory):
    with torch.no_grad():
        return model.roi_head.ref_states(memory.feats, memory.proposals)


@pytest.mark.parametrize('troi', [False, True])
def test_offline_memory_caches_reference_branch_once(troi):
    """Frame 0 computes the reference branch of its 3 carried frames (and of
    itself); frames 1-3 compute it for their own key proposals only, reuse
    the cached states (equal to recomputing them from the kept maps and
    proposals) and give the detections of recomputing everything from
    scratch. Frame 0 of another video replaces the cache."""
    model = det.build(troi).eval()
    calls = count_rows(model)
    video, refs = det.clip(4, 10), det.clip(3, 20)
    det.predict(model, torch.cat([video[:1], refs]),
                [ClipMeta(video_key='v', frame_id=0, num_support=3)])
    memory = model.video_context.slot('selsa')['v']
    rows = [len(p) for p in memory.proposals]
    assert len(memory.states) == 3 and calls[-1] > sum(rows)
    for want, got in zip(recomputed(model, memory), memory.states):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    cached_states = list(memory.states)
    for t in (1, 2, 3):
        calls.clear()
        cached = det.predict(model, video[t:t + 1],
                             [ClipMeta(video_key='v', frame_id=t,
                                       num_support=0)])
        # one reference-branch call: the key frame's own proposals only
        assert calls == [calls[0]] and calls[0] <= 20  # rpn max_per_img
        assert model.video_context.slot('selsa')['v'] is memory
        assert all(a is b for a, b in zip(memory.states, cached_states))
        calls.clear()
        scratch = det.predict(model, torch.cat([video[t:t + 1], refs]))
        assert calls[0] > sum(rows)  # recomputed: every frame
        torch.testing.assert_close(cached.scores, scratch.scores,
                                   atol=1e-5, rtol=0)
        torch.testing.assert_close(cached.bboxes, scratch.bboxes,
                                   atol=1e-4, rtol=0)
    # a new video: its frame 0 resets the cache (the old video is dropped)
    other = torch.cat([det.clip(1, 30), det.clip(2, 31)])
    det.predict(model, other, [ClipMeta('w', 0, 2)])
    assert set(model.video_context.slot('selsa')) == {'w'}
    new = model.video_context.slot('selsa')['w']
    assert len(new.states) == 2
    assert not any(s is c for s in new.states for c in cached_states)
    for want, got in zip(recomputed(model, new), new.states):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    # frame 0 of the same video again: replaced, not reused
    det.predict(model, torch.cat([video[:1], refs]), [ClipMeta('w', 0, 3)])
    assert model.video_context.slot('selsa')['w'] is not new


def test_online_cache_holds_past_frames_only():
    """Online (K=2, stride 1): each frame computes the reference branch of
    its own proposals once; the cached states of the kept frames equal
    recomputing them and belong to frames before the key frame."""
    model = det.build(test_support=dict(mode='online', num_support=2,
                                        stride=1)).eval()
    calls = count_rows(model)
    video = det.clip(4, 70)
    for t in range(4):
        calls.clear()
        det.predict(model, video[t:t + 1], [ClipMeta('v', t, 0)])
        assert len(calls) == 1 and calls[0] <= 20
        memory = model.video_context.slot('selsa')['v']
        assert memory.frame_ids == list(range(max(0, t - 1), t + 1))
        assert len(memory.states) == len(memory.frame_ids)
        for want, got in zip(recomputed(model, memory), memory.states):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_num_ref_proposals_caps_reference_rois():
    """``num_ref_proposals=5``: each kept reference frame holds its 5
    top-scored RPN proposals (the first 5 of the uncapped model's), and the
    detections equal the uncapped head given those 5 per frame."""
    capped = det.build()
    capped.num_ref_proposals = 5
    capped.eval()
    full = det.build().eval()
    video, refs = det.clip(2, 10), det.clip(3, 20)
    first = torch.cat([video[:1], refs])
    for model in (capped, full):
        det.predict(model, first, [ClipMeta('v', 0, 3)])
    small, big = (m.video_context.slot('selsa')['v'] for m in (capped, full))
    for p, q in zip(small.proposals, big.proposals):
        assert len(p) == 5 and len(q) > 5
        torch.testing.assert_close(p.bboxes, q.bboxes[:5])
        assert (q.scores[:5].min() >= q.scores[5:].max())
    calls = count_rows(capped)
    det.predict(capped, video[1:2], [ClipMeta('v', 1, 0)])
    assert calls == [5]  # the key frame as its own reference: 5 RoIs too
    with pytest.raises(ValueError, match='num_ref_proposals must be None'):
        cfg = det.tiny_selsa_cfg()
        cfg.num_ref_proposals = 0
        from mmdet.registry import MODELS
        MODELS.build(cfg)
