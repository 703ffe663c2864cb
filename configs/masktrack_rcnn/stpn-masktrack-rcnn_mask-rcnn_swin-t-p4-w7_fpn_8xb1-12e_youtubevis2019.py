# STPN MaskTrack R-CNN on YouTube-VIS 2019: mmdet's own MaskTrack R-CNN
# config (detector heads, track head, tracker, schedule, dataloaders) with
# only the backbone (STPNSwin-T + attention predictor; FPN in_channels), the
# data preprocessor and the pipelines changed. Key and reference frames each
# carry K=2 support frames in training; test follows
# model.backbone.test_support (offline: 14 frames over the video, prompts
# computed once per video; switch with
# --cfg-options model.backbone.test_support.mode=online).
_base_ = [
    'mmdet::masktrack_rcnn/'
    'masktrack-rcnn_mask-rcnn_r50_fpn_8xb1-12e_youtubevis2019.py',
    '../_base_/datasets/youtube-vis_stpn-pipelines.py',
    '../_base_/models/stpn_swin-t-p4-w7.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

# COCO Mask R-CNN Swin-T (mmdet model zoo): the whole detector, as mmdet's
# MaskTrack configs start from COCO Mask R-CNN (predictor.* is new)
pretrained = _base_.stpn_swin_t_pretrained

model = dict(
    type='STPNMaskTrackRCNN',
    data_preprocessor=dict(
        _delete_=True,
        type='TrackClipDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    detector=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
        backbone=dict(
            _base_.stpn_swin_t_backbone, _delete_=True, init_cfg=None),
        neck=dict(in_channels=[96, 192, 384, 768])))
del _base_.stpn_swin_t_pretrained, _base_.stpn_swin_t_backbone

dataset_type = 'CheckedYouTubeVISDataset'
train_dataloader = dict(
    dataset=dict(type=dataset_type, pipeline=_base_.stpn_vis_train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, pipeline=_base_.stpn_vis_test_pipeline))
test_dataloader = val_dataloader

# AdamW for the Swin backbone (mmdet's Swin recipe), no decay on norms and
# position tables; mmdet's MaskTrack schedule (12 epochs, x0.1 at 8 and 11)
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

# mmdet's config writes the server zip; the numpy-2 metric does the same
val_evaluator = dict(type='YouTubeVISMetricNp2')
test_evaluator = val_evaluator
custom_hooks = [dict(type='VideoContextHook')]
# stop at the first NaN / inf loss, naming the iteration and the items
# (configs/_base_/default_runtime.py does it for the others)
default_hooks = dict(non_finite_loss=dict(type='NonFiniteLossHook'))
