"""Dataset + pipeline + VideoDetDataPreprocessor + STPNViT inside mmdet's
stock FasterRCNN config (only the backbone and neck.in_channels changed)."""
import os.path as osp

import mmdet
import torch
from mmdet.datasets.samplers import TrackImgSampler
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmstpn.engine import support_samplers
from mmstpn.structures import SupportPolicy
from tests.test_datasets.fake_data import write_cocovid

LOADING = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadTrackAnnotations'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
]
TRAIN_PIPELINE = [
    dict(
        type='SupportFrameSample',
        num_ref_imgs=2,
        frame_range=9,
        filter_key_img=True,
        method='bilateral_uniform'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=LOADING + [dict(type='RandomFlip', prob=0.5)]),
    dict(type='PackClipInputs'),
]
TEST_PIPELINE = [
    dict(type='SupportFrameSample', method='from_model'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[LOADING[0], LOADING[2], LOADING[1]]),  # gt unscaled
    dict(type='PackClipInputs'),
]


def stock_faster_rcnn():
    path = osp.join(
        osp.dirname(mmdet.__file__), '.mim', 'configs', 'faster_rcnn',
        'faster-rcnn_r50_fpn_1x_coco.py')
    cfg = Config.fromfile(path).model
    cfg.backbone = dict(
        type='STPNViT',
        embed_dims=32,
        depth=2,
        num_heads=2,
        img_size=64,
        test_support=dict(mode='offline', num_support=3),
        init_cfg=None)
    cfg.neck.in_channels = [8, 16, 32, 32]
    cfg.neck = [dict(type='SimpleFeaturePyramid', in_channels=32), cfg.neck]
    cfg.roi_head.bbox_head.num_classes = 30
    cfg.data_preprocessor = dict(
        type='VideoDetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32)
    cfg.test_cfg.rcnn.score_thr = 0.0
    model = MODELS.build(cfg)
    assert type(model).__name__ == 'FasterRCNN'
    return model


def dataset(root, ann, pipeline, test_mode):
    return DATASETS.build(
        dict(
            type='ImagenetVIDDataset',
            ann_file=ann,
            data_prefix=dict(img_path=osp.join(root, 'img')),
            pipeline=pipeline,
            test_mode=test_mode))


def test_loss_and_offline_predict(tmp_path):
    root = str(tmp_path)
    ann = write_cocovid(root, {1: 6, 2: 3}, det_images=1)
    model = stock_faster_rcnn()

    train = dataset(root, ann, TRAIN_PIPELINE, test_mode=False)
    items = [train[(0, 2)], train[(2, 0)]]  # a 6-frame video + a DET image
    data = model.data_preprocessor(pseudo_collate(items), True)
    assert data['inputs'].frames.shape[:2] == (2, 3)
    model.train()
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()

    test = dataset(root, ann, TEST_PIPELINE, test_mode=True)
    for sampler in support_samplers(test):  # what VideoContextHook does
        sampler.set_test_policy(model.backbone.test_support)
    indices = [i for i in TrackImgSampler(test, seed=0) if i[0] == 1]
    assert indices == [(1, 0), (1, 1), (1, 2)]  # the 3-frame video, in order
    model.eval()
    cache = model.backbone.video_context
    with torch.no_grad():
        for idx in indices:
            batch = pseudo_collate([test[idx]])
            assert batch['inputs'][0].shape[0] == (4 if idx[1] == 0 else 1)
            (result, ) = model.test_step(batch)
            assert result.video_id == 2 and result.frame_id == idx[1]
            assert 'pred_instances' in result
            if idx[1] == 0:
                prompts = cache.prompts[2].clone()
            assert list(cache.prompts) == [2]
            assert torch.equal(cache.prompts[2], prompts)  # reused

    # online (causal) mode, switched on the model alone: the same pipeline
    # now loads no support frames, only key frames
    model.backbone.test_support = SupportPolicy('online', 2, 2)
    for sampler in support_samplers(test):
        sampler.set_test_policy(model.backbone.test_support)
    with torch.no_grad():
        for idx in indices:
            batch = pseudo_collate([test[idx]])
            assert batch['inputs'][0].shape[0] == 1
            data = model.data_preprocessor(batch, False)
            assert data['inputs'].metas[0].frame_id == idx[1]
            (result, ) = model.test_step(batch)
            assert 'pred_instances' in result
