# STPN ByteTrack on MOT17: mmdet's ByteTrack config (ByteTracker with its
# Kalman filter and thresholds, test data, MOT metrics) with an STPN
# detector. mmdet's detector is YOLOX, trained on CrowdHuman + MOT images
# with Mosaic / MixUp and batch resizing; those mix images of different
# videos and resize a batch after the pipeline, so a frame's support frames
# would no longer match it (VideoDetDataPreprocessor refuses batch
# augments). The detector here is what fits an STPN backbone: mmdet's Faster
# R-CNN + FPN with STPNSwin-T (1 class), trained on MOT17 half-train frames,
# each with K=2 support frames (stock FasterRCNN, unchanged); test online.
_base_ = [
    'mmdet::bytetrack/'
    'bytetrack_yolox_x_8xb4-80e_crowdhuman-mot17halftrain_test-mot17halfval'
    '.py', '../_base_/datasets/mot-challenge_stpn-pipelines.py',
    '../_base_/models/stpn_faster-rcnn_swin-t-p4-w7_fpn_detector.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

detector = _base_.stpn_detector
detector.backbone.test_support = dict(mode='online', num_support=14,
                                      stride=4)
detector.roi_head.bbox_head.num_classes = 1
# ByteTrack also associates low-score detections (obj_score_thrs.low=0.1)
detector.test_cfg.rcnn.update(score_thr=0.01, max_per_img=100)

model = dict(
    _delete_=True,
    type='STPNByteTrack',
    data_preprocessor=dict(
        type='TrackClipDataPreprocessor',
        use_det_processor=True,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    detector=detector,
    tracker=_base_.model.tracker)

train_dataloader = dict(
    _delete_=True,
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(
        type='CheckedMOTChallengeDataset',
        data_root='data/MOT17/',
        visibility_thr=-1,
        ann_file='annotations/half-train_cocoformat.json',
        data_prefix=dict(img_path='train'),
        metainfo=dict(classes=('pedestrian', )),
        pipeline=_base_.stpn_mot_det_train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type='CheckedMOTChallengeDataset',
        pipeline=_base_.stpn_mot_test_pipeline))
test_dataloader = val_dataloader

# the STPN VID recipe's optimiser; 12 epochs over MOT17 half-train frames
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
param_scheduler = [
    dict(type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=12,
         milestones=[8, 11], gamma=0.1)
]
train_cfg = dict(
    _delete_=True, type='EpochBasedTrainLoop', max_epochs=12,
    val_interval=12)
# mmdet's YOLOX hooks (mode switch, sync norm, EMA) do not apply
custom_hooks = [dict(type='VideoContextHook')]
# stop at the first NaN / inf loss, naming the iteration and the items
# (configs/_base_/default_runtime.py does it for the others)
default_hooks = dict(non_finite_loss=dict(type='NonFiniteLossHook'))
