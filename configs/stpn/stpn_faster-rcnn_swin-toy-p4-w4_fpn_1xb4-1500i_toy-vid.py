# STPN on the embedded deteriorated-video set: mmdet's Faster R-CNN (small
# heads for CPU) with a tiny STPNSwin. The main job
# (tools/misc/toy_vid_experiment.py) starts it from a shared warm start
# (trained with the backbone at 0.1x the learning rate: --pretrain-backbone-
# lr-mult; this config's fine-tune keeps 1x).
#
# The paper's objective: the detection loss only (model.type='FasterRCNN').
# The training data include key-frame corruption (the toy dataset base's
# train_key_corruption, for the baseline too): without it, a few hundred CPU
# iterations teach the predictor one constant prompt and STPN does not beat
# the baseline (docs/toy_vid.md). The auxiliary class loss on the prompts
# (PromptSupervisedFasterRCNN, a training aid that is NOT part of STPN, weight
# train_cfg.prompt_loss_weight) stays available:
# --cfg-options model.type=PromptSupervisedFasterRCNN.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/default_runtime.py', '../_base_/datasets/toy-vid.py',
    '../_base_/models/stpn_swin-toy-p4-w4.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

model = dict(
    type='FasterRCNN',
    data_preprocessor=dict(
        _delete_=True,
        type='VideoDetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(_base_.stpn_swin_toy_backbone, _delete_=True),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(
            in_channels=64,
            fc_out_channels=256,
            num_classes=4,
            bbox_coder=dict(target_stds=[0.2, 0.2, 0.2, 0.2]))),
    train_cfg=dict(
        # PromptSupervisedFasterRCNN's loss weight (in train_cfg so that the
        # baseline's FasterRCNN, which inherits this dict, ignores it): 1
        # met the main-job goal at seed 0 only, 20 at seeds 0 and 1 (README)
        prompt_loss_weight=20.,
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128, pos_fraction=0.25))),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(
            score_thr=0.0001,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100)))
del _base_.stpn_swin_toy_backbone

max_iters = 1500
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=100,
        end=max_iters,
        eta_min=1e-5)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.),
            # the predictor is new when training starts from a warm start
            # (the main job): give it a 10x learning rate
            'backbone.prompt_generator': dict(lr_mult=10.),
        }),
    clip_grad=dict(max_norm=10., norm_type=2))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
