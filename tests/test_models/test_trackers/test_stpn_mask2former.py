"""STPN Mask2FormerVideo and MinVIS: mmdet's Mask2Former models with only
the backbone input changed, on the tiny on-disk video set whose frames
encode video and position in their top rows."""
import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.vis import Mask2FormerVideo
from mmdet.registry import DATASETS, MODELS
from mmdet.structures.mask import mask2bbox
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmstpn.models.vis import QueryTrackState, match_queries
from mmstpn.structures import (ClipBatch, ClipMeta, SupportPolicy,
                               get_video_context)
from tests.test_models.test_trackers.fake_vis import LENGTHS, decode_marker
from tests.test_models.test_trackers.test_stpn_trackers import (
    check_support_positions, load, run_video)

M2F = 'tiny_stpn_mask2former_vis.py'
MINVIS = 'tiny_stpn_minvis.py'


def backbone_of(model):
    return model.detector.backbone if hasattr(model, 'detector') else \
        model.backbone


def spy(model):
    calls = []
    backbone = backbone_of(model)
    orig = backbone.forward

    def forward(x):
        calls.append(x)
        return orig(x)

    backbone.forward = forward
    return calls


def make(name, vis, mode=None, k=3):
    """The model (seed 0), train and test sets; ``mode``: its test policy
    (the test pipeline follows it)."""
    root, ann = vis
    cfg = load(name, root, ann)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if mode is not None:
        backbone_of(model).test_support = SupportPolicy(mode, k)
    train = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    test = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    test.pipeline.transforms[0].set_test_policy(
        backbone_of(model).test_support)
    return model, train, test


def policy_supports(mode, n, t, k):
    """The frames the policy names for frame t of an n-frame video."""
    if mode == 'offline':
        return [round(i * (n - 1) / (k - 1)) for i in range(k)]
    return list(range(max(0, t - k), t)) or [0]


def frames_feats(model, frames, mode, k):
    """Per frame, the backbone's features on exactly the frames the policy
    names ('frames' policy: self-contained clips, no cache)."""
    backbone = backbone_of(model)
    policy = backbone.test_support
    n = frames.shape[0]
    out = []
    try:
        backbone.test_support = SupportPolicy('frames', k)
        for t in range(n):
            sup = policy_supports(mode, n, t, k)
            clip = torch.stack([frames[t]] + [frames[j] for j in sup])
            with torch.no_grad():
                x = model.detector.extract_feat(ClipBatch(clip[None])) \
                    if hasattr(model, 'detector') else \
                    backbone(ClipBatch(clip[None]))
            out.append(x)
    finally:
        backbone.test_support = policy
    return out


# ---------------------------------------------------------------- M2F video
def test_m2f_train_step_every_clip_frame_carries_its_supports(vis):
    model, train, _ = make(M2F, vis)
    calls = spy(model)
    batch = pseudo_collate([train[(0, 2)], train[(1, 3)]])
    predictor = model.backbone.predictor
    before = [p.detach().clone() for p in predictor.parameters()]
    opt = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    losses = model.train_step(batch, opt)
    for key in ('loss_cls', 'loss_mask', 'loss_dice', 'd0.loss_mask'):
        assert torch.isfinite(losses[key]).all()
    # one backbone call: the 2 x 2 clip frames, item-major, each with its
    # OWN support frames around it
    assert len(calls) == 1 and len(calls[0]) == 4
    samples = batch['data_samples']
    ids = [s[t].frame_id for s in samples for t in range(2)]
    assert ids[0] != ids[1] and ids[2] != ids[3]
    check_support_positions(model, calls[0], [1, 1, 2, 2], ids)
    after = list(predictor.parameters())
    assert any((a - b).abs().max() > 0 for a, b in zip(after, before))


@pytest.mark.parametrize('mode', ['offline', 'online'])
def test_m2f_predict_equals_track_head_on_the_policys_frames(vis, mode):
    k = 3 if mode == 'offline' else 2
    model, _, test = make(M2F, vis, mode, k)
    calls = spy(model)
    out = run_video(model, test, 0)
    n = LENGTHS[0]
    # the whole video in one backbone call, frame 0 carrying the offline
    # support frames, the others none
    assert len(calls) == 1 and len(calls[0]) == n
    metas = calls[0].metas
    assert [m.frame_id for m in metas] == list(range(n))
    want = [k if mode == 'offline' and t == 0 else 0 for t in range(n)]
    assert [m.num_support for m in metas] == want
    if mode == 'offline':
        got = sorted((decode_marker(f) - 20) // 10
                     for f in calls[0].frames[0, 1:])
        assert got == policy_supports('offline', n, 0, k)
    # reference: mmdet's track head on features of exactly those frames
    item = test[0]
    pre = model.data_preprocessor(pseudo_collate([item]), False)
    per_frame = frames_feats(model, pre['inputs'].frames[0], mode, k)
    feats = [torch.cat([f[lvl] for f in per_frame]) for lvl in
             range(len(per_frame[0]))]
    with torch.no_grad():
        ref = model.track_head.predict(feats, pre['data_samples'][0], True)
    assert len(out.video_data_samples) == n
    for t in range(n):
        got = out[t].pred_track_instances
        torch.testing.assert_close(got.scores, ref[t].scores, atol=1e-4,
                                   rtol=1e-4)
        assert torch.equal(got.labels, ref[t].labels)
        assert (got.masks != ref[t].masks).float().mean() < 1e-3


def _same_tracks(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y)
        for t in range(len(x)):
            p, q = x[t].pred_track_instances, y[t].pred_track_instances
            torch.testing.assert_close(p.scores, q.scores)
            assert torch.equal(p.labels, q.labels)
            assert torch.equal(p.instances_id, q.instances_id)
            assert torch.equal(p.masks, q.masks)


@pytest.mark.parametrize('name', [M2F, MINVIS])
@pytest.mark.parametrize('mode', ['offline', 'online'])
def test_batch_of_videos_equals_videos_one_by_one(vis, name, mode):
    model, _, test = make(name, vis, mode)
    model.eval()
    with torch.no_grad():
        both = model.test_step(pseudo_collate([test[0], test[1]]))
        one = [model.test_step(pseudo_collate([test[i]]))[0]
               for i in (0, 1)]
    assert [len(r) for r in both] == [LENGTHS[0], LENGTHS[1]]
    _same_tracks(both, one)


def test_m2f_refuses_a_video_shorter_than_the_clip(vis):
    model, train, _ = make(M2F, vis)
    batch = pseudo_collate([train[(2, 0)]])  # video 3: one frame
    with pytest.raises(ValueError, match=r'video 3 \(1 frames\) is shorter '
                       r'than the clip length model.track_head.num_frames'
                       r'=2: its clip repeats frames \[0, 0\]'):
        model.train_step(batch, OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=0.1)))


def test_m2f_refuses_a_clip_whose_frames_differ_in_size(vis):
    model, train, test = make(M2F, vis)
    data = pseudo_collate([test[0]])
    data['data_samples'][0][3].set_metainfo(dict(img_shape=(40, 48)))
    model.eval()
    with pytest.raises(ValueError, match=r'video 1 frame 3 has img_shape '
                       r'\(40, 48\) but frame 0 of the same clip has '
                       r'\(48, 48\)'):
        model.test_step(data)
    data = pseudo_collate([train[(0, 2)]])
    data['data_samples'][0][1].set_metainfo(dict(ori_shape=(40, 48)))
    with pytest.raises(ValueError, match='has ori_shape'):
        model.train_step(data, OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=0.1)))


def test_m2f_refuses_plain_tensors(vis):
    model, _, _ = make(M2F, vis)
    with pytest.raises(ValueError, match='STPNMask2FormerVideo expects '
                       'TrackClips'):
        model.loss(torch.zeros(1, 2, 3, 32, 32), [])


def test_checkpoint_of_the_other_model_is_a_clear_error(vis):
    m2f, _, _ = make(M2F, vis)
    minvis, _, _ = make(MINVIS, vis)
    with pytest.raises(ValueError, match='STPNMask2FormerVideo: this '
                       'checkpoint is a MinVIS'):
        m2f.load_state_dict(minvis.state_dict(), strict=False)
    with pytest.raises(ValueError, match='MinVIS: this checkpoint is a '
                       r'Mask2FormerVideo \(track_head.\*\)'):
        minvis.load_state_dict(m2f.state_dict(), strict=False)
    # an mmdet image Mask2Former checkpoint (backbone.* / panoptic_head.*
    # at the top) loads into MinVIS's detector
    image = {k[len('detector.'):]: v.clone() + 1
             for k, v in minvis.state_dict().items()}
    result = minvis.load_state_dict(image, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for k, v in minvis.state_dict().items():
        assert torch.equal(v, image[k[len('detector.'):]])


# ---------------------------------------------------------------- MinVIS
def test_match_queries_is_the_best_assignment():
    torch.manual_seed(0)
    for _ in range(5):
        prev, cur = torch.randn(5, 8), torch.randn(5, 8)
        perm = match_queries(prev, cur)
        sim = F.normalize(prev, dim=1) @ F.normalize(cur, dim=1).t()

        def cost(p):
            return sum(1 - sim[j, p[j]] for j in range(5))

        best = min(itertools.permutations(range(5)), key=cost)
        assert sorted(perm.tolist()) == list(range(5))
        assert abs(cost(perm.tolist()) - cost(best)) < 1e-5
    # a permuted, rescaled, slightly noisy copy is matched back
    prev = torch.randn(10, 16)
    shuffle = torch.randperm(10)
    cur = 3 * prev[shuffle] + 0.01 * torch.randn(10, 16)
    assert torch.equal(cur[match_queries(prev, cur)], cur[shuffle.argsort()])


def test_query_track_state_links_and_averages():
    state = QueryTrackState()
    emb = torch.randn(4, 8)
    logits0 = torch.randn(4, 3)
    assert torch.equal(state.link(ClipMeta('v', 0, 0), emb, logits0),
                       torch.arange(4))
    shuffle = torch.tensor([2, 0, 3, 1])
    logits1 = torch.randn(4, 3)
    perm = state.link(ClipMeta('v', 1, 0), emb[shuffle], logits1)
    assert torch.equal(shuffle[perm], torch.arange(4))
    torch.testing.assert_close(state.mean_logits,
                               (logits0 + logits1[perm]) / 2)
    with pytest.raises(ValueError, match="video 'v': frame 1 arrived after "
                       'frame 1.*in order'):
        state.link(ClipMeta('v', 1, 0), emb, logits1)


def test_minvis_train_step_single_frames_with_their_supports(vis):
    model, train, _ = make(MINVIS, vis)
    calls = spy(model)
    batch = pseudo_collate([train[(0, 2)], train[(1, 3)]])
    predictor = model.detector.backbone.predictor
    before = [p.detach().clone() for p in predictor.parameters()]
    opt = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    losses = model.train_step(batch, opt)
    for key in ('loss_cls', 'loss_mask', 'loss_dice'):
        assert torch.isfinite(losses[key]).all()
    assert [len(s) for s in batch['data_samples']] == [1, 1]
    assert len(calls) == 1 and len(calls[0]) == 2
    check_support_positions(model, calls[0], [1, 2], [2, 3])
    after = list(predictor.parameters())
    assert any((a - b).abs().max() > 0 for a, b in zip(after, before))


def minvis_reference(model, item, mode, k):
    """MinVIS written out: per frame the detector on the policy's frames,
    queries linked by match_queries, class logits averaged, top-k (track,
    class) pairs, masks > 0 at the original size."""
    pre = model.data_preprocessor(pseudo_collate([item]), False)
    samples = pre['data_samples'][0]
    feats = frames_feats(model, pre['inputs'].frames[0], mode, k)
    head = model.detector.panoptic_head
    embeds = []
    hook = head.transformer_decoder.post_norm.register_forward_hook(
        lambda m, a, o: embeds.append(o))
    logits, masks, prev = [], [], None
    try:
        for t, x in enumerate(feats):
            with torch.no_grad():
                cls, mask = head(x, [samples[t]])
            e, c, m = embeds[-1][0], cls[-1][0], mask[-1][0]
            perm = torch.arange(len(e)) if prev is None else \
                match_queries(prev, e)
            prev = e[perm]
            logits.append(c[perm])
            masks.append(m[perm])
    finally:
        hook.remove()
    assert len(embeds) == len(feats) * (head.num_transformer_decoder_layers
                                        + 1)
    scores = torch.stack(logits).mean(0).softmax(-1)[:, :-1]
    c = scores.shape[1]
    top, idx = scores.flatten().topk(model.num_tracks)
    out = []
    for t, m in enumerate(masks):
        info = samples[t].metainfo
        up = F.interpolate(m[idx // c][None], info['batch_input_shape'],
                           mode='bilinear', align_corners=False)
        up = up[..., :info['img_shape'][0], :info['img_shape'][1]]
        up = F.interpolate(up, info['ori_shape'][:2], mode='bilinear',
                           align_corners=False)[0] > 0
        out.append(dict(masks=up, scores=top, labels=idx % c,
                        ids=idx, bboxes=mask2bbox(up)))
    return out


@pytest.mark.parametrize('mode', ['offline', 'online'])
def test_minvis_predict_equals_the_written_out_method(vis, mode):
    k = 3 if mode == 'offline' else 2
    model, _, test = make(MINVIS, vis, mode, k)
    calls = spy(model)
    out = run_video(model, test, 0)
    n = LENGTHS[0]
    # frame by frame: one backbone call per frame, in order
    assert [(c.metas[0].frame_id, c.metas[0].num_support) for c in calls] \
        == [(t, k if mode == 'offline' and t == 0 else 0) for t in range(n)]
    # the linking state is the video's slot of the one video context
    state = get_video_context(model).slot('minvis')[1]
    assert state.num_frames == n and state.last_frame == n - 1
    ref = minvis_reference(model, test[0], mode, k)
    for t in range(n):
        got = out[t].pred_track_instances
        torch.testing.assert_close(got.scores, ref[t]['scores'], atol=1e-4,
                                   rtol=1e-4)
        assert torch.equal(got.labels, ref[t]['labels'])
        assert torch.equal(got.instances_id, ref[t]['ids'])
        assert (got.masks != ref[t]['masks']).float().mean() < 1e-3
        assert got.bboxes.shape == (model.num_tracks, 4)


def test_minvis_frame_items_online_keep_the_state_in_the_context(vis):
    """Frame-level items (online): the slot carries the linking state from
    call to call; the last frame's output (mean over all frames) equals the
    whole-video item's; a new video's frame 0 resets it."""
    model, _, test = make(MINVIS, vis, 'online', 2)
    video = run_video(model, test, 0)
    ctx = get_video_context(model)
    model.eval()
    n = LENGTHS[0]
    for t in range(n):
        with torch.no_grad():
            frame = model.test_step(pseudo_collate([test[(0, t)]]))[0][0]
        assert ctx.slot('minvis')[1].num_frames == t + 1
    a, b = frame.pred_track_instances, video[n - 1].pred_track_instances
    torch.testing.assert_close(a.scores, b.scores)
    assert torch.equal(a.instances_id, b.instances_id)
    assert torch.equal(a.masks, b.masks)
    with torch.no_grad():
        model.test_step(pseudo_collate([test[(1, 0)]]))
    assert list(ctx.slot('minvis')) == [2]
    assert ctx.slot('minvis')[2].num_frames == 1
    ctx.clear()
    assert ctx.slot('minvis') == {}


def test_adapters_keep_mmdets_code():
    """The adapters override only the input handling of mmdet's model."""
    from mmstpn.models.vis import STPNMask2FormerVideo
    assert issubclass(STPNMask2FormerVideo, Mask2FormerVideo)
    own = {k for k in vars(STPNMask2FormerVideo)
           if not k.startswith(('__', '_abc'))}
    assert own == {'loss', 'predict', '_load_from_state_dict'}

