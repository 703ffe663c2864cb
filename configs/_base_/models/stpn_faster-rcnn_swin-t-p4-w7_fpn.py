# STPN released VID detector: mmdet's stock Faster R-CNN + FPN with an
# STPNSwin-T backbone (attention DVP predictor, 5 prompts) and the released
# head settings. The detector class is mmdet's own FasterRCNN, unchanged.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py', './stpn_swin-t-p4-w7.py'
]

custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

# COCO Mask R-CNN Swin-T (mmdet model zoo) backbone, as in the release.
pretrained = _base_.stpn_swin_t_pretrained

model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type='VideoDetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16),
    # STPNSwin-T as released (./stpn_swin-t-p4-w7.py)
    backbone=dict(
        _base_.stpn_swin_t_backbone,
        _delete_=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]),
    roi_head=dict(
        bbox_head=dict(
            num_classes=30,
            bbox_coder=dict(target_stds=[0.2, 0.2, 0.2, 0.2]))),
    train_cfg=dict(
        rpn_proposal=dict(max_per_img=300),
        rcnn=dict(sampler=dict(num=256, pos_fraction=0.25))),
    test_cfg=dict(
        rpn=dict(max_per_img=300),
        rcnn=dict(
            score_thr=0.0001,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100)))
del _base_.stpn_swin_t_pretrained, _base_.stpn_swin_t_backbone
