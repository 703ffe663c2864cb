# STPN QDTrack on MOT17 (half-train / half-val): mmdet's own QDTrack config
# (detector heads, quasi-dense track head, tracker, losses, schedule,
# dataloaders, metrics) with only the backbone (STPNSwin-T; FPN
# in_channels), the data preprocessor and the pipelines changed. Test is
# online (K=14 past frames, S=4: frame-level items as in mmdet); offline
# needs whole-video items (see configs/_base_/datasets/
# mot-challenge_stpn-pipelines.py).
_base_ = [
    'mmdet::qdtrack/'
    'qdtrack_faster-rcnn_r50_fpn_8xb2-4e_mot17halftrain_test-mot17halfval.py',
    '../_base_/datasets/mot-challenge_stpn-pipelines.py',
    '../_base_/models/stpn_swin-t-p4-w7.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

pretrained = _base_.stpn_swin_t_pretrained

model = dict(
    type='STPNQDTrack',
    data_preprocessor=dict(
        _delete_=True,
        type='TrackClipDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    detector=dict(
        # a COCO Swin-T detector's backbone (mmdet's starts from a COCO
        # person Faster R-CNN R-50; no Swin-T one exists in the zoo)
        init_cfg=None,
        backbone=dict(
            _base_.stpn_swin_t_backbone,
            _delete_=True,
            test_support=dict(mode='online', num_support=14, stride=4)),
        neck=dict(in_channels=[96, 192, 384, 768])))
del _base_.stpn_swin_t_pretrained, _base_.stpn_swin_t_backbone

dataset_type = 'CheckedMOTChallengeDataset'
train_dataloader = dict(
    dataset=dict(type=dataset_type, pipeline=_base_.stpn_mot_train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, pipeline=_base_.stpn_mot_test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2),
    paramwise_cfg=dict(
        custom_keys=dict(
            absolute_pos_embed=dict(decay_mult=0.),
            relative_position_bias_table=dict(decay_mult=0.),
            norm=dict(decay_mult=0.))))
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='VideoContextHook')]
# stop at the first NaN / inf loss, naming the iteration and the items
# (configs/_base_/default_runtime.py does it for the others)
default_hooks = dict(non_finite_loss=dict(type='NonFiniteLossHook'))
