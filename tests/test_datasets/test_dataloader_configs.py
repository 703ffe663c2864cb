"""The documented dataloader snippets, merged into mmdet's stock COCO
dataset config, build and run through mmengine's Runner.build_dataloader."""
import os.path as osp
import textwrap

import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import Runner

from mmstpn.engine import support_samplers
from mmstpn.structures import SupportPolicy
from tests.test_datasets.fake_data import write_cocovid

SNIPPET = '''
_base_ = 'mmdet::_base_/datasets/coco_detection.py'
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)
dataset_type = 'ImagenetVIDDataset'
data_root = '{root}/'
backend_args = None

train_pipeline = [
    dict(type='SupportFrameSample', num_ref_imgs=2, frame_range=9,
         filter_key_img=True, method='bilateral_uniform'),
    dict(type='TransformBroadcaster', share_random_params=True,
         transforms=[
             dict(type='LoadImageFromFile', backend_args=backend_args),
             dict(type='LoadTrackAnnotations'),
             dict(type='RandomChoiceResize',
                  scales=[(1333, 480), (1333, 800)], keep_ratio=True),
             dict(type='RandomFlip', prob=0.5),
         ]),
    dict(type='PackClipInputs'),
]
test_pipeline = [
    dict(type='SupportFrameSample', method='from_model'),
    dict(type='TransformBroadcaster', share_random_params=True,
         transforms=[
             dict(type='LoadImageFromFile', backend_args=backend_args),
             dict(type='Resize', scale=(1000, 600), keep_ratio=True),
             dict(type='LoadTrackAnnotations'),
         ]),
    dict(type='PackClipInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(_delete_=True, type='VideoFrameSampler'),
    batch_sampler=None,
    dataset=dict(
        _delete_=True, type='VideoConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root,
                 ann_file='vid_train.json', data_prefix=dict(img_path='img'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=16),
                 pipeline=train_pipeline),
            dict(type=dataset_type, data_root=data_root, load_as_video=False,
                 ann_file='det_train.json', data_prefix=dict(img_path='img'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=16),
                 pipeline=train_pipeline),
        ]))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(_delete_=True, type='TrackImgSampler'),
    dataset=dict(
        _delete_=True, type=dataset_type, data_root=data_root,
        ann_file='vid_val.json', data_prefix=dict(img_path='img'),
        test_mode=True, pipeline=test_pipeline))
model = dict(data_preprocessor=dict(
    type='VideoDetDataPreprocessor', mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32))
'''


def test_documented_snippets(tmp_path):
    root = str(tmp_path)
    write_cocovid(root, {1: 5, 2: 4}, name='vid_train.json',
                  train_frames={1: [0, 4], 2: [2]})
    write_cocovid(root, {}, det_images=2, name='det_train.json')
    write_cocovid(root, {3: 3}, name='vid_val.json')
    cfg_file = osp.join(root, 'cfg.py')
    with open(cfg_file, 'w') as f:
        f.write(textwrap.dedent(SNIPPET.format(root=root)))
    cfg = Config.fromfile(cfg_file)
    pre = MODELS.build(cfg.model.data_preprocessor)

    train = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    assert len(train.sampler) == 5  # 3 VID key frames + 2 DET images
    num_items = 0
    for batch in train:
        data = pre(batch, True)
        t = [1 + s.num_support for s in data['data_samples']]
        assert data['inputs'].frames.shape[:2] == (len(t), max(t))
        assert set(t) <= {1, 3}  # DET images: 1 frame, VID: key + 2
        num_items += len(data['data_samples'])
    assert num_items == 5

    val = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    # what VideoContextHook does before val: the released offline policy
    for sampler in support_samplers(val.dataset):
        sampler.set_test_policy(SupportPolicy('offline', 14))
    frames = []
    for batch in val:
        data = pre(batch, False)
        (meta, ) = data['inputs'].metas
        frames.append((meta.frame_id, meta.num_support))
        sample = data['data_samples'][0]
        assert sample.ori_shape == (64, 64)
        # gt stays in original image coordinates (for the metric)
        assert torch.equal(sample.gt_instances.bboxes[0],
                           torch.tensor([4., 4., 24. + meta.frame_id, 28.]))
    assert frames == [(0, 14), (1, 0), (2, 0)]
