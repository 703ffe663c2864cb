"""SelsaRoIHead (+ SelsaBBoxHead, TemporalRoIAlign) on random features and
proposals: losses, backward into the reference features, predict, and a
batch equal to its samples one by one."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

import mmstpn  # noqa: F401

C, FC, NUM_CLASSES, IMG = 8, 32, 3, 128


def head_cfg(troi=False, num_shared_fcs=2):
    extractor = dict(
        type='SingleRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
        out_channels=C,
        featmap_strides=[16])
    if troi:
        extractor.update(
            type='TemporalRoIAlign',
            num_most_similar_points=2,
            num_temporal_attention_blocks=4)
    return ConfigDict(
        type='SelsaRoIHead',
        bbox_roi_extractor=extractor,
        bbox_head=dict(
            type='SelsaBBoxHead',
            num_shared_fcs=num_shared_fcs,
            in_channels=C,
            fc_out_channels=FC,
            roi_feat_size=7,
            num_classes=NUM_CLASSES,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.2, 0.2, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1 / 9, loss_weight=1.),
            aggregator=dict(
                type='SelsaAggregator', in_channels=FC,
                num_attention_blocks=4)),
        train_cfg=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=False,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=32,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False),
        test_cfg=dict(
            score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=20))


def build(**kwargs):
    torch.manual_seed(0)
    head = MODELS.build(head_cfg(**kwargs))
    head.init_weights()
    return head


def proposals(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * IMG * 0.6
    wh = 12 + torch.rand(n, 2, generator=g) * IMG * 0.4
    return InstanceData(
        bboxes=torch.cat([xy, xy + wh], 1), scores=torch.rand(n, generator=g))


def samples(num_imgs):
    out = []
    for i in range(num_imgs):
        s = DetDataSample(
            metainfo=dict(
                img_shape=(IMG, IMG), ori_shape=(IMG, IMG),
                scale_factor=(1., 1.)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 60., 70.], [50., 40., 120., 110.]
                                 ]) + i,
            labels=torch.tensor([0, 2]))
        s.ignored_instances = InstanceData(
            bboxes=torch.zeros(0, 4), labels=torch.zeros(0).long())
        out.append(s)
    return out


def inputs(num_imgs, num_ref_frames, seed=0):
    torch.manual_seed(seed)
    x = (torch.randn(num_imgs, C, IMG // 16, IMG // 16), )
    ref_x = (torch.randn(sum(num_ref_frames), C, IMG // 16, IMG // 16), )
    props = [proposals(40, 10 + i) for i in range(num_imgs)]
    ref_props = [proposals(15 + f, 100 + f) for f in range(len(ref_x[0]))]
    return x, ref_x, props, ref_props


@pytest.mark.parametrize('troi', [False, True])
def test_loss_backward_predict(troi):
    head = build(troi=troi, num_shared_fcs=3 if troi else 2)
    assert len(head.bbox_head.aggregator) == (3 if troi else 2)
    x, ref_x, props, ref_props = inputs(2, [2, 2])
    x = (x[0].requires_grad_(), )
    ref_x = (ref_x[0].requires_grad_(), )
    head.train()
    losses = head.loss(x, ref_x, props, ref_props, samples(2))
    assert set(losses) == {'loss_cls', 'loss_bbox', 'acc'}
    total = losses['loss_cls'] + losses['loss_bbox']
    assert torch.isfinite(total)
    total.backward()
    # the reference features and every aggregator receive gradients
    assert ref_x[0].grad.abs().sum() > 0
    for agg in head.bbox_head.aggregator:
        assert agg.ref_fc.weight.grad.abs().sum() > 0
    if troi:
        assert head.bbox_roi_extractor.embed_network.conv.weight.grad.abs(
        ).sum() > 0
    # the caller's proposals are not modified
    assert 'bboxes' in props[0] and 'priors' not in props[0]

    head.eval()
    with torch.no_grad():
        results = head.predict(x, ref_x, props, ref_props, samples(2))
    assert len(results) == 2
    for res in results:
        assert res.bboxes.shape[1] == 4 and 0 < len(res) <= 20
        assert res.labels.max() < NUM_CLASSES
        assert ((res.scores >= 0) & (res.scores <= 1)).all()


@pytest.mark.parametrize('troi', [False, True])
def test_batch_equals_samples_one_by_one(troi):
    """Sample 0 has 1 reference frame, sample 1 has 3."""
    head = build(troi=troi).eval()
    x, ref_x, props, ref_props = inputs(2, [1, 3])
    with torch.no_grad():
        batch = head.predict(x, ref_x, props, ref_props, samples(2),
                             num_ref_frames=[1, 3])
        one = head.predict((x[0][:1], ), (ref_x[0][:1], ), props[:1],
                           ref_props[:1], samples(2)[:1])
        two = head.predict((x[0][1:], ), (ref_x[0][1:], ), props[1:],
                           ref_props[1:], samples(2)[1:])
    for b, s in zip(batch, one + two):
        torch.testing.assert_close(b.bboxes, s.bboxes, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(b.scores, s.scores, atol=1e-5, rtol=1e-5)
        assert torch.equal(b.labels, s.labels)


def test_references_change_the_result():
    """Different reference proposals give different key scores (the
    reference path is not ignored)."""
    head = build().eval()
    x, ref_x, props, ref_props = inputs(1, [2])
    with torch.no_grad():
        a = head.predict(x, ref_x, props, ref_props, samples(1))[0]
        b = head.predict(x, (ref_x[0].flip(0), ), props, ref_props[::-1],
                         samples(1))[0]
        c = head.predict(x, ref_x, props, [proposals(9, 7), proposals(5, 8)],
                         samples(1))[0]
    torch.testing.assert_close(a.scores, b.scores)  # frame order: no effect
    assert not torch.allclose(a.scores, c.scores)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match='does not support a mask head'):
        cfg = head_cfg()
        cfg.mask_head = dict(type='FCNMaskHead')
        MODELS.build(cfg)
    cfg = head_cfg()
    cfg.bbox_head.aggregator_cfg = copy.deepcopy(cfg.bbox_head.aggregator)
    with pytest.raises(ValueError, match='exactly one of `aggregator`'):
        MODELS.build(cfg)
    head = build().eval()
    x, ref_x, props, ref_props = inputs(2, [2, 1])
    with pytest.raises(ValueError, match='cannot be split equally'):
        head.predict(x, ref_x, props, ref_props, samples(2))
    with pytest.raises(ValueError, match='2 reference proposal lists for 3'):
        head.predict(x, ref_x, props, ref_props[:2], samples(2),
                     num_ref_frames=[2, 1])
    empty = [InstanceData(bboxes=torch.zeros(0, 4))] * 3
    with pytest.raises(ValueError, match='sample 0 has 40 key RoIs but no'):
        head.predict(x, ref_x, props, empty, samples(2),
                     num_ref_frames=[2, 1])
