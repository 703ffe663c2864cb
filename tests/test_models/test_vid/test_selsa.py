"""SELSA detector on the one video context (ClipBatch input, test_support
policy, one VideoContext): losses with and without carried reference
frames, the offline / online test-time memory against recomputing the
references from scratch (a self-contained clip with the same frames), batch
== items, the hook, and errors."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmstpn.structures import ClipBatch, ClipMeta, SupportPolicy
from tests.test_models.test_vid.test_selsa_roi_head import head_cfg

IMG = 96


def tiny_selsa_cfg(troi=False, test_support=None):
    roi_head = head_cfg(troi=troi)
    roi_head.pop('train_cfg')
    roi_head.pop('test_cfg')
    return ConfigDict(
        type='SELSA',
        test_support=test_support or dict(mode='offline', num_support=3),
        backbone=dict(
            type='ResNet',
            depth=18,
            base_channels=8,
            num_stages=4,
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 2),
            out_indices=(3, ),
            norm_eval=False),
        neck=dict(
            type='ChannelMapper', in_channels=[64], out_channels=8,
            kernel_size=3),
        rpn_head=dict(
            type='RPNHead',
            in_channels=8,
            feat_channels=8,
            anchor_generator=dict(
                type='AnchorGenerator', scales=[2, 4], ratios=[0.5, 1., 2.],
                strides=[16]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                target_stds=[1.] * 4),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        roi_head=roi_head,
        train_cfg=dict(
            rpn=dict(
                assigner=dict(
                    type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                    min_pos_iou=0.3, ignore_iof_thr=-1),
                sampler=dict(
                    type='RandomSampler', num=64, pos_fraction=0.5,
                    neg_pos_ub=-1, add_gt_as_proposals=False),
                allowed_border=-1, pos_weight=-1, debug=False),
            rpn_proposal=dict(
                nms_pre=100, max_per_img=30, nms=dict(type='nms',
                                                      iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=head_cfg().train_cfg),
        test_cfg=dict(
            rpn=dict(
                nms_pre=100, max_per_img=20, nms=dict(type='nms',
                                                      iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=dict(
                score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=10)))


def build(troi=False, test_support=None):
    torch.manual_seed(0)
    model = MODELS.build(tiny_selsa_cfg(troi, test_support))
    model.init_weights()
    return model


def samples(n):
    out = []
    for i in range(n):
        s = DetDataSample(
            metainfo=dict(
                img_shape=(IMG, IMG), ori_shape=(IMG, IMG),
                pad_shape=(IMG, IMG), batch_input_shape=(IMG, IMG),
                scale_factor=(1., 1.)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[8., 10., 50., 60.]]) + 3 * i,
            labels=torch.tensor([1]))
        out.append(s)
    return out


def clip(num_frames, seed):
    return torch.randn(num_frames, 3, IMG, IMG,
                       generator=torch.Generator().manual_seed(seed))


def test_loss_backward_with_and_without_reference_frames():
    model = build().train()
    frames = torch.stack([clip(3, 0), clip(3, 1)])
    # item 1 is a one-frame video (ImageNet DET): its key is its reference
    inputs = ClipBatch(frames, [
        ClipMeta(video_key='a', frame_id=4, num_support=2),
        ClipMeta(video_key='b', frame_id=0, num_support=0)
    ])
    losses = model.loss(inputs, samples(2))
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox',
            'acc'} <= set(losses)
    total, log_vars = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    assert model.roi_head.bbox_head.aggregator[0].ref_fc.weight.grad.abs(
    ).sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    # a ClipBatch whose items all carry their frames is read as the plain
    # self-contained 5-D tensor; num_support=0 makes item 1 differ
    full = ClipBatch(frames, [ClipMeta('a', 4, 2), ClipMeta('b', 3, 2)])
    torch.manual_seed(3)
    a = model.parse_losses(model.loss(full, samples(2)))[1]
    torch.manual_seed(3)
    b = model.parse_losses(model.loss(frames, samples(2)))[1]
    torch.manual_seed(3)
    c = model.parse_losses(model.loss(inputs, samples(2)))[1]
    assert a == b and a != c


def predict(model, frames, metas=None):
    inputs = frames[None]
    if metas is not None:
        inputs = ClipBatch(inputs, metas)
    with torch.no_grad():
        return model.predict(inputs, samples(1))[0].pred_instances


@pytest.mark.parametrize('troi', [False, True])
def test_memory_equals_self_contained_clip(troi):
    """Frames 1 and 2 of a video use the references carried by frame 0
    (memory + the key itself); the same frames given explicitly without
    ClipMeta give the same detections (SELSA and TRoI heads)."""
    model = build(troi).eval()
    video, refs = clip(3, 10), clip(3, 20)
    predict(model, torch.cat([video[:1], refs]),
            [ClipMeta(video_key='v', frame_id=0, num_support=3)])
    assert set(model.video_context.slot('selsa')) == {'v'}
    for t in (1, 2):
        cached = predict(model, video[t:t + 1],
                         [ClipMeta(video_key='v', frame_id=t,
                                   num_support=0)])
        explicit = predict(model, torch.cat([video[t:t + 1], refs]))
        torch.testing.assert_close(cached.bboxes, explicit.bboxes)
        torch.testing.assert_close(cached.scores, explicit.scores)
        # the references matter: the key frame alone gives other scores
        alone = predict(model, video[t:t + 1])
        assert not torch.allclose(cached.scores, alone.scores)
    # a new video drops the old memory; train() empties it
    predict(model, torch.cat([clip(1, 30), clip(2, 31)]),
            [ClipMeta(video_key='w', frame_id=0, num_support=2)])
    assert set(model.video_context.slot('selsa')) == {'w'}
    model.train()
    assert model.video_context.slot('selsa') == {}


def test_batch_equals_items_one_by_one():
    """Two videos in one batch (3 and 2 carried frames, the second padded),
    then their next frames from the memory: same detections as one by
    one."""
    model = build().eval()
    a, b = clip(4, 40), clip(3, 50)
    padded = torch.cat([b, torch.zeros(1, 3, IMG, IMG)])
    metas0 = [ClipMeta('a', 0, 3), ClipMeta('b', 0, 2)]
    nxt, metas1 = clip(2, 60), [ClipMeta('a', 1, 0), ClipMeta('b', 1, 0)]
    with torch.no_grad():
        batch0 = model.predict(
            ClipBatch(torch.stack([a, padded]), metas0), samples(2))
        batch1 = model.predict(
            ClipBatch(nxt[:, None].clone(), metas1), samples(2))
        single = []
        for i, (c, m0) in enumerate([(a, metas0[0]), (b, metas0[1])]):
            single.append(predict(model, c, [m0]))
            single.append(predict(model, nxt[i:i + 1], [metas1[i]]))
    got = [batch0[0], batch1[0], batch0[1], batch1[1]]
    for g, s in zip(got, single):
        torch.testing.assert_close(g.pred_instances.bboxes, s.bboxes,
                                   atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(g.pred_instances.scores, s.scores,
                                   atol=1e-5, rtol=1e-5)


def test_missing_memory_raises():
    model = build().eval()
    with pytest.raises(ValueError, match="video 'v' frame 5 carries no"):
        predict(model, clip(1, 0),
                [ClipMeta(video_key='v', frame_id=5, num_support=0)])
    predict(model, torch.cat([clip(1, 0), clip(2, 1)]),
            [ClipMeta(video_key='v', frame_id=0, num_support=2)])
    # a frame 0 never reuses a stored memory (a new pass over the video)
    with pytest.raises(ValueError, match="video 'v' frame 0 carries no"):
        predict(model, clip(1, 0),
                [ClipMeta(video_key='v', frame_id=0, num_support=0)])
    with pytest.raises(ValueError, match='needs an rpn_head and a Selsa'):
        cfg = tiny_selsa_cfg()
        cfg.roi_head.type = 'StandardRoIHead'
        cfg.roi_head.bbox_head.type = 'ConvFCBBoxHead'
        cfg.roi_head.bbox_head.pop('aggregator')
        MODELS.build(cfg)


def test_dataset_pipeline_preprocessor_integration(tmp_path):
    """CocoVID data -> SupportFrameSample -> PackClipInputs ->
    VideoDetDataPreprocessor -> SELSA: training step on a video frame and
    a DET image; test over a 3-frame video with the adaptive-stride memory
    (frame 0 carries the references, frames 1 and 2 reuse them)."""
    from mmdet.datasets.samplers import TrackImgSampler
    from mmengine.dataset import pseudo_collate

    from mmstpn.engine import support_samplers
    from mmstpn.structures import get_video_context

    from tests.test_datasets.fake_data import write_cocovid
    from tests.test_models.test_data_preprocessors.test_pipeline_integration \
        import TEST_PIPELINE, TRAIN_PIPELINE, dataset

    root = str(tmp_path)
    ann = write_cocovid(root, {1: 6, 2: 3}, det_images=1)
    cfg = tiny_selsa_cfg()  # offline, K=3
    cfg.roi_head.bbox_head.num_classes = 30
    cfg.data_preprocessor = dict(
        type='VideoDetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16)
    torch.manual_seed(0)
    model = MODELS.build(cfg)

    train = dataset(root, ann, TRAIN_PIPELINE, test_mode=False)
    data = model.data_preprocessor(
        pseudo_collate([train[(0, 2)], train[(2, 0)]]), True)
    model.train()
    total, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(total)
    total.backward()

    test = dataset(root, ann, TEST_PIPELINE, test_mode=True)
    for sampler in support_samplers(test):  # what VideoContextHook does
        sampler.set_test_policy(get_video_context(model).policy)
    indices = [i for i in TrackImgSampler(test, seed=0) if i[0] == 1]
    assert indices == [(1, 0), (1, 1), (1, 2)]
    model.eval()
    with torch.no_grad():
        for idx in indices:
            batch = pseudo_collate([test[idx]])
            assert batch['inputs'][0].shape[0] == (4 if idx[1] == 0 else 1)
            (result, ) = model.test_step(batch)
            assert result.video_id == 2 and result.frame_id == idx[1]
            assert len(result.pred_instances) > 0
            if idx[1] == 0:
                memory = model.video_context.slot('selsa')[2]
            assert list(model.video_context.slot('selsa')) == [2]
            # stored once, reused
            assert model.video_context.slot('selsa')[2] is memory
            assert memory.feats[0].shape[0] == 3  # the 3 carried frames


@pytest.mark.parametrize('troi', [False, True])
def test_online_memory_equals_recomputed_past_frames(troi):
    """Online (causal, K=2, stride 2): frame t's references are the 2 latest
    grid frames (0, 2, 4) strictly before t, from the memory; recomputing
    them from scratch (a self-contained clip of those frames) gives the same
    detections. The memory keeps at most K frames."""
    model = build(troi, dict(mode='online', num_support=2, stride=2)).eval()
    video = clip(6, 70)
    for t in range(6):
        cached = predict(model, video[t:t + 1], [ClipMeta('v', t, 0)])
        past = [g for g in (0, 2, 4) if g < t][-2:]
        explicit = predict(model, torch.cat([video[t:t + 1], video[past]]))
        torch.testing.assert_close(cached.bboxes, explicit.bboxes)
        torch.testing.assert_close(cached.scores, explicit.scores)
        stored = model.video_context.slot('selsa')['v']
        assert stored.frame_ids == [g for g in (0, 2, 4) if g <= t][-2:]
        assert stored.feats[0].shape[0] == len(stored.frame_ids)
    # a new pass (frame 0) restarts the video's memory
    predict(model, video[:1], [ClipMeta('v', 0, 0)])
    assert model.video_context.slot('selsa')['v'].frame_ids == [0]
    with pytest.raises(ValueError,
                       match="video 'v' frame 1 arrived after frame 2"):
        predict(model, video[:1], [ClipMeta('v', 2, 0)])
        predict(model, video[:1], [ClipMeta('v', 1, 0)])
    with pytest.raises(ValueError, match="video 'v' frame 3 the input "
                       "carries 2 reference frames but online"):
        predict(model, video[:3], [ClipMeta('v', 3, 2)])


def test_frames_mode_uses_carried_frames_and_keeps_nothing():
    model = build(test_support=dict(mode='frames', num_support=2)).eval()
    video = clip(3, 80)
    got = predict(model, video, [ClipMeta('v', 1, 2)])
    explicit = predict(model, video)
    torch.testing.assert_close(got.scores, explicit.scores)
    assert not model.video_context.slot('selsa')


def test_policy_and_video_context_hook():
    """SELSA declares its own test_support (default: offline K=14, the
    released test); the hook hands it to the pipeline and empties the cache
    after a run."""
    from types import SimpleNamespace

    from mmdet.registry import HOOKS, TRANSFORMS

    from mmstpn.structures import get_video_context
    cfg = tiny_selsa_cfg()
    cfg.pop('test_support')
    assert MODELS.build(cfg).test_support == SupportPolicy('offline', 14, 1)
    model = build(test_support=dict(mode='online', num_support=4)).eval()
    assert get_video_context(model) is model.video_context
    assert get_video_context(model).policy == SupportPolicy('online', 4, 1)
    sampler = TRANSFORMS.build(
        dict(type='SupportFrameSample', method='from_model'))
    loop = SimpleNamespace(dataloader=SimpleNamespace(
        dataset=SimpleNamespace(pipeline=sampler)))
    runner = SimpleNamespace(model=model, val_loop=loop, test_loop=loop)
    hook = HOOKS.build(dict(type='VideoContextHook'))
    hook.before_val(runner)
    assert sampler.policy == SupportPolicy('online', 4, 1)
    predict(model, clip(1, 0), [ClipMeta('v', 0, 0)])
    assert list(model.video_context.slot('selsa')) == ['v']
    hook.after_val_epoch(runner)
    assert not model.video_context.slot('selsa')
    with pytest.raises(ValueError, match='model.test_support has unknown'):
        MODELS.build(tiny_selsa_cfg(test_support=dict(mode='online', k=1)))
