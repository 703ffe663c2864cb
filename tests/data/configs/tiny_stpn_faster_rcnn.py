# A tiny STPN Faster R-CNN for testing tools/analysis_tools/benchmark.py on
# CPU: mmdet's stock Faster R-CNN R-50 FPN with its backbone replaced by a
# tiny STPNSwin, no pretrained weights, nothing downloaded. Only the model
# is used (synthetic frames, no data set).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='STPNSwin',
        embed_dims=16,
        depths=(1, 1, 1, 1),
        num_heads=(1, 1, 2, 2),
        window_size=7,
        drop_path_rate=0.,
        num_prompts=5,
        predictor=dict(type='AttentionDVPPredictor', num_heads=4),
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=64, num_classes=3)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=200, max_per_img=50),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=200, max_per_img=50),
        rcnn=dict(max_per_img=20)))
