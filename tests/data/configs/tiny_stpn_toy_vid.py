# The toy-VID STPN config shrunk for CPU tests of the video pipeline
# through tools/dist_train.sh / tools/dist_test.sh (tests/test_tools/
# test_dist_vid.py): same detector, data pipeline, samplers and VIDMetric,
# with a tiny STPNSwin (prompts on, attention predictor), small heads, 64x64
# frames and 4 support frames at test. Data roots and ann files are set on
# the command line (--cfg-options), no pretrained weights, no downloads.
_base_ = '../../../configs/stpn/' \
    'stpn_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py'

model = dict(
    # the stock detector (the toy config's auxiliary prompt loss is a
    # training aid that has nothing to do with the pipeline under test)
    type='FasterRCNN',
    backbone=dict(
        embed_dims=16,
        depths=(1, 1, 1, 1),
        num_heads=(1, 1, 2, 2),
        drop_path_rate=0.,
        num_prompts=5,
        predictor=dict(type='AttentionDVPPredictor', num_heads=4),
        test_support=dict(mode='offline', num_support=4)),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=16),
    # the objects of 64x64 frames are 12-26 px: 16 px anchors at stride 4
    # (instead of 32), so that even the untrained RPN proposes boxes that
    # match them and the mAP compared between runs is not a trivial 0
    rpn_head=dict(
        in_channels=16,
        feat_channels=16,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=16),
        bbox_head=dict(in_channels=16, fc_out_channels=32)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=200, max_per_img=50),
        rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(
        rpn=dict(nms_pre=200, max_per_img=50),
        # keep low-score detections: a classifier trained for a few
        # iterations scores many boxes below mmdet's 0.05
        rcnn=dict(max_per_img=20, score_thr=0.0)))

test_pipeline = [
    dict(type='SupportFrameSample', method='from_model'),
    dict(
        type='TransformBroadcaster',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='LoadTrackAnnotations'),
        ]),
    dict(type='PackClipInputs')
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
default_hooks = dict(logger=dict(interval=1))
