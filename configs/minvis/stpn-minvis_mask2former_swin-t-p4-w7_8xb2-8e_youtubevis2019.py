# STPN MinVIS on YouTube-VIS 2019: mmdet's image Mask2Former Swin-T config
# (head, fusion head, losses, matcher, Swin optimizer recipe) with an
# STPNSwin-T backbone, trained on single video frames (each with its K=2
# support frames), wrapped by MinVIS, which links each test frame's
# instance queries to the previous frame's (Hungarian matching on
# query-embedding cosine similarity). Data, dataloaders, schedule and
# evaluator are those of mmdet's Mask2FormerVideo YouTube-VIS configs
# (../mask2former_vis/), written out here because a config cannot inherit
# two mmdet bases that both define them. Test follows
# model.detector.backbone.test_support (offline: 14 frames over the video;
# online: --cfg-options model.detector.backbone.test_support.mode=online).
#
# Initialisation: the Swin-T backbone of mmdet's COCO Mask R-CNN Swin-T, as
# every other STPN Swin-T config here; the head from scratch (mmdet's COCO
# Mask2Former Swin-T checkpoint, heads included, loads with
# model.detector.init_cfg=dict(type='Pretrained', checkpoint=<.pth>) and
# model.detector.backbone.init_cfg=None; not measured,
# docs/vis_mask2former.md).
_base_ = [
    'mmdet::mask2former/mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco.py',
    '../_base_/datasets/youtube-vis_stpn-pipelines.py',
    '../_base_/models/stpn_swin-t-p4-w7.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

pretrained = _base_.stpn_swin_t_pretrained
num_classes = 40

detector = _base_.model
detector.data_preprocessor = None  # MinVIS's preprocesses the clips
detector.init_cfg = None
# drop path 0.3 as mmdet's Mask2Former Swin-T
detector.backbone = dict(_base_.stpn_swin_t_backbone, drop_path_rate=0.3)
del _base_.stpn_swin_t_pretrained, _base_.stpn_swin_t_backbone
detector.panoptic_head.update(
    num_things_classes=num_classes, num_stuff_classes=0)
detector.panoptic_head.loss_cls.class_weight = [1.0] * num_classes + [0.1]
detector.panoptic_fusion_head.update(
    num_things_classes=num_classes, num_stuff_classes=0)
detector.test_cfg.update(panoptic_on=False, instance_on=True)

model = dict(
    _delete_=True,
    type='MinVIS',
    num_tracks=10,
    data_preprocessor=dict(
        type='TrackClipDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    detector=detector)

# single frames: the VIS training pipeline with no reference frame (each
# item is one frame and its K support frames)
train_pipeline = _base_.stpn_vis_train_pipeline
train_pipeline[0]['num_ref_imgs'] = 0
test_pipeline = _base_.stpn_vis_test_pipeline

# as mmdet's mask2former_vis YouTube-VIS configs (_base_/datasets/
# youtube_vis.py): whole videos at test (one item, batch 1)
dataset_type = 'CheckedYouTubeVISDataset'
data_root = 'data/youtube_vis_2019/'
dataset_version = '2019'
train_dataloader = dict(
    _delete_=True,
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='TrackAspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        dataset_version=dataset_version,
        ann_file='annotations/youtube_vis_2019_train.json',
        data_prefix=dict(img_path='train/JPEGImages'),
        pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        dataset_version=dataset_version,
        ann_file='annotations/youtube_vis_2019_valid.json',
        data_prefix=dict(img_path='valid/JPEGImages'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='YouTubeVISMetricNp2',
    metric='youtube_vis_ap',
    outfile_prefix='./youtube_vis_results',
    format_only=True)
test_evaluator = val_evaluator

# mmdet's Mask2FormerVideo YouTube-VIS 2019 schedule; the optimizer is the
# base's Swin recipe plus the prompt predictor (new) at the heads' rate
max_iters = 6000
param_scheduler = dict(
    _delete_=True,
    type='MultiStepLR',
    begin=0,
    end=max_iters,
    by_epoch=False,
    milestones=[4000],
    gamma=0.1)
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters + 1)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone.prompt_generator': dict(lr_mult=1.0, decay_mult=1.0)
        }))
default_hooks = dict(
    non_finite_loss=dict(type='NonFiniteLossHook'),
    checkpoint=dict(
        _delete_=True,
        type='CheckpointHook',
        by_epoch=False,
        save_last=True,
        interval=2000),
    visualization=dict(type='TrackVisualizationHook', draw=False))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    _delete_=True,
    type='TrackLocalVisualizer',
    vis_backends=vis_backends,
    name='visualizer')
custom_hooks = [dict(type='VideoContextHook')]
