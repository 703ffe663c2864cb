# STPN Mask2Former VIS on the deteriorated toy VIS set
# (tools/misc/generate_toy_vis.py; run by tools/misc/toy_vis_experiment.py
# --model m2f): mmdet's Mask2FormerVideo config with the toy backbone (the
# tiny STPNSwin of the toy VID / VIS configs), a small track head for CPU
# (64 channels, 10 queries, 2 pixel-decoder layers, 3 decoder layers),
# 128x128 frames and an iteration schedule.
#
# The toy recipe of ../masktrack_rcnn/: training-time key-frame corruption
# of the clip frames (the baseline too; the toy tool's shared warm start
# trains without it), the backbone at 0.1x the learning rate (mmdet's
# Mask2Former recipe too), the new prompt predictor at 10x. Objective: the
# paper's (Mask2FormerVideo's losses only; no auxiliary prompt loss exists
# for this model).
_base_ = [
    'mmdet::mask2former_vis/mask2former_r50_8xb2-8e_youtubevis2019.py',
    '../_base_/datasets/toy-vis_stpn.py',
    '../_base_/models/stpn_swin-toy-p4-w4.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

num_classes = len(_base_.classes)
channels = 64
model = dict(
    type='STPNMask2FormerVideo',
    init_cfg=None,
    data_preprocessor=dict(
        _delete_=True,
        type='TrackClipDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(_base_.stpn_swin_toy_backbone, _delete_=True),
    track_head=dict(
        in_channels=[32, 64, 128, 256],
        feat_channels=channels,
        out_channels=channels,
        num_classes=num_classes,
        num_queries=10,
        pixel_decoder=dict(
            encoder=dict(
                num_layers=2,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=channels, num_heads=4),
                    ffn_cfg=dict(
                        embed_dims=channels,
                        feedforward_channels=2 * channels))),
            positional_encoding=dict(num_feats=channels // 2)),
        positional_encoding=dict(num_feats=channels // 2),
        transformer_decoder=dict(
            num_layers=3,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=channels, num_heads=4),
                cross_attn_cfg=dict(embed_dims=channels, num_heads=4),
                ffn_cfg=dict(
                    embed_dims=channels,
                    feedforward_channels=2 * channels))),
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        # 128x128 frames: 32x32 mask logits, 1024 points each
        train_cfg=dict(num_points=1024)))
del _base_.stpn_swin_toy_backbone

# the toy pipelines (128x128 frames, key-frame corruption) and dataset
# (../_base_/datasets/toy-vis_stpn.py)
train_pipeline = _base_.stpn_vis_train_pipeline
test_pipeline = _base_.stpn_vis_test_pipeline
data_root = 'data/toy_vis/'
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        ann_file='train.json', pipeline=train_pipeline, **_base_.dataset))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        ann_file='val.json', pipeline=test_pipeline, **_base_.dataset))
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
    checkpoint=dict(type='CheckpointHook', interval=max_iters,
                    by_epoch=False))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='VideoContextHook')]
