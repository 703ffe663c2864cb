# A tiny STPN ByteTrack for CPU tests: mmdet's ByteTrack config (tracker,
# test data, metric) with a Faster R-CNN + STPNSwin detector trained on MOT
# frames with their support frames (see configs/bytetrack/).
_base_ = [
    'mmdet::bytetrack/'
    'bytetrack_yolox_x_8xb4-80e_crowdhuman-mot17halftrain_test-mot17halfval'
    '.py', '../../../configs/_base_/datasets/mot-challenge_stpn-pipelines.py',
    './_base_/tiny_stpn_swin.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

model = dict(
    type='STPNByteTrack',
    data_preprocessor=dict(
        _delete_=True,
        type='TrackClipDataPreprocessor',
        use_det_processor=True,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    detector=dict(
        _delete_=True,
        type='FasterRCNN',
        backbone=dict(
            _base_.tiny_stpn_swin_backbone,
            test_support=dict(mode='online', num_support=2)),
        neck=dict(
            type='FPN', in_channels=[16, 32, 64, 128], out_channels=32,
            num_outs=5),
        rpn_head=dict(
            type='RPNHead',
            in_channels=32,
            feat_channels=32,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[8],
                ratios=[0.5, 1.0, 2.0],
                strides=[4, 8, 16, 32, 64]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[.0, .0, .0, .0],
                target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=7, sampling_ratio=0),
                out_channels=32,
                featmap_strides=[4, 8, 16, 32]),
            bbox_head=dict(
                type='Shared2FCBBoxHead',
                in_channels=32,
                fc_out_channels=64,
                roi_feat_size=7,
                num_classes=1,
                bbox_coder=dict(
                    type='DeltaXYWHBBoxCoder',
                    target_means=[0., 0., 0., 0.],
                    target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=False,
                loss_cls=dict(
                    type='CrossEntropyLoss', use_sigmoid=False,
                    loss_weight=1.0),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(
                assigner=dict(
                    type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                    min_pos_iou=0.3, match_low_quality=True,
                    ignore_iof_thr=-1),
                sampler=dict(
                    type='RandomSampler', num=64, pos_fraction=0.5,
                    neg_pos_ub=-1, add_gt_as_proposals=False),
                allowed_border=-1, pos_weight=-1, debug=False),
            rpn_proposal=dict(
                nms_pre=200, max_per_img=50,
                nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
            rcnn=dict(
                assigner=dict(
                    type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                    min_pos_iou=0.5, match_low_quality=False,
                    ignore_iof_thr=-1),
                sampler=dict(
                    type='RandomSampler', num=64, pos_fraction=0.25,
                    neg_pos_ub=-1, add_gt_as_proposals=True),
                pos_weight=-1, debug=False)),
        test_cfg=dict(
            rpn=dict(
                nms_pre=200, max_per_img=50,
                nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
            # ByteTrack also associates low-score detections (>= 0.1)
            rcnn=dict(
                score_thr=0.01, nms=dict(type='nms', iou_threshold=0.7),
                max_per_img=50))))
del _base_.tiny_stpn_swin_backbone

train_dataloader = dict(
    _delete_=True,
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
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
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CheckedMOTChallengeDataset',
        pipeline=_base_.stpn_mot_test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [dict(type='VideoContextHook')]
