# STPN MinVIS on the deteriorated toy VIS set
# (tools/misc/generate_toy_vis.py; run by tools/misc/toy_vis_experiment.py
# --model minvis): mmdet's image Mask2Former config with the toy backbone
# (the tiny STPNSwin of the toy VID / VIS configs) and the small head of
# the toy Mask2FormerVideo config (64 channels, 10 queries, 2 pixel-decoder
# layers, 3 decoder layers), trained on single 128x128 frames with their
# support frames, linked across frames at test by MinVIS.
#
# The toy recipe of ../masktrack_rcnn/: training-time key-frame corruption
# (the baseline too; the toy tool's shared warm start trains without it),
# the backbone at 0.1x the learning rate, the new prompt predictor at 10x.
# Objective: the paper's (Mask2Former's losses only).
_base_ = [
    'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco.py',
    '../_base_/datasets/toy-vis_stpn.py',
    '../_base_/models/stpn_swin-toy-p4-w4.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

num_classes = len(_base_.classes)
channels = 64

detector = _base_.model
detector.data_preprocessor = None  # MinVIS's preprocesses the clips
detector.init_cfg = None
detector.backbone = _base_.stpn_swin_toy_backbone
del _base_.stpn_swin_toy_backbone
attn = dict(embed_dims=channels, num_heads=4)
ffn = dict(embed_dims=channels, feedforward_channels=2 * channels)
detector.panoptic_head.update(
    in_channels=[32, 64, 128, 256],
    feat_channels=channels,
    out_channels=channels,
    num_things_classes=num_classes,
    num_stuff_classes=0,
    num_queries=10)
detector.panoptic_head.pixel_decoder.encoder.num_layers = 2
detector.panoptic_head.pixel_decoder.encoder.layer_cfg.self_attn_cfg.update(
    attn)
detector.panoptic_head.pixel_decoder.encoder.layer_cfg.ffn_cfg.update(ffn)
detector.panoptic_head.pixel_decoder.positional_encoding.num_feats = \
    channels // 2
detector.panoptic_head.positional_encoding.num_feats = channels // 2
detector.panoptic_head.transformer_decoder.num_layers = 3
detector.panoptic_head.transformer_decoder.layer_cfg.self_attn_cfg.update(
    attn)
detector.panoptic_head.transformer_decoder.layer_cfg.cross_attn_cfg.update(
    attn)
detector.panoptic_head.transformer_decoder.layer_cfg.ffn_cfg.update(ffn)
detector.panoptic_head.loss_cls.class_weight = \
    [1.0] * num_classes + [0.1]
detector.panoptic_fusion_head.update(
    num_things_classes=num_classes, num_stuff_classes=0)
# 128x128 frames: 32x32 mask logits, 1024 points each
detector.train_cfg.num_points = 1024
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

# the toy pipelines and dataset (../_base_/datasets/toy-vis_stpn.py) on
# single frames (no reference frame)
train_pipeline = _base_.stpn_vis_train_pipeline
train_pipeline[0]['num_ref_imgs'] = 0
test_pipeline = _base_.stpn_vis_test_pipeline
data_root = 'data/toy_vis/'
train_dataloader = dict(
    _delete_=True,
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='TrackAspectRatioBatchSampler'),
    dataset=dict(
        ann_file='train.json', pipeline=train_pipeline, **_base_.dataset))
val_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        ann_file='val.json', test_mode=True, pipeline=test_pipeline,
        **_base_.dataset))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='YouTubeVISMetricNp2', metric='youtube_vis_ap')
test_evaluator = val_evaluator

max_iters = 1000
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters,
         eta_min=1e-5)
]
optim_wrapper = dict(
    optimizer=dict(lr=4e-4),
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1, decay_mult=1.0),
            'relative_position_bias_table': dict(decay_mult=0.,
                                                 lr_mult=0.1),
            'backbone.prompt_generator.predictor': dict(lr_mult=10.),
        }))
default_hooks = dict(
    non_finite_loss=dict(type='NonFiniteLossHook'),
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        _delete_=True, type='CheckpointHook', interval=max_iters,
        by_epoch=False),
    visualization=dict(type='TrackVisualizationHook', draw=False))
visualizer = dict(
    _delete_=True,
    type='TrackLocalVisualizer',
    vis_backends=[dict(type='LocalVisBackend')],
    name='visualizer')
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='VideoContextHook')]
