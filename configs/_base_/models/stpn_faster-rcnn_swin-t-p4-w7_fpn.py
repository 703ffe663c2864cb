# STPN released VID detector: mmdet's stock Faster R-CNN + FPN with an
# STPNSwin-T backbone (attention DVP predictor, 5 prompts) and the released
# head settings. The detector class is mmdet's own FasterRCNN, unchanged.
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py']

custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

# COCO Mask R-CNN Swin-T (mmdet model zoo) backbone, as in the release.
pretrained = ('https://download.openmmlab.com/mmdetection/v2.0/swin/'
              'mask_rcnn_swin-t-p4-w7_fpn_1x_coco/'
              'mask_rcnn_swin-t-p4-w7_fpn_1x_coco_20210902_120937-9d6b7cfa.pth')

model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type='VideoDetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16),
    backbone=dict(
        _delete_=True,
        type='STPNSwin',
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=False,
        num_prompts=5,
        predictor=dict(type='AttentionDVPPredictor', num_heads=16),
        # released test: 14 frames over the whole video, prompts computed at
        # frame 0 and reused (online: mode='online', stride=4)
        test_support=dict(mode='offline', num_support=14),
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
