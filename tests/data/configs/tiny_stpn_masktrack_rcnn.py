# A tiny STPN MaskTrack R-CNN for CPU tests: mmdet's own MaskTrack R-CNN
# config with only the backbone (+ neck / head widths), data preprocessor
# and pipeline changed; nothing downloaded.
_base_ = [
    'mmdet::masktrack_rcnn/'
    'masktrack-rcnn_mask-rcnn_r50_fpn_8xb1-12e_youtubevis2019.py',
    '../../../configs/_base_/datasets/youtube-vis_stpn-pipelines.py',
    './_base_/tiny_stpn_swin.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

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
        init_cfg=None,
        backbone=dict(
            _base_.tiny_stpn_swin_backbone,
            _delete_=True,
            test_support=dict(mode='offline', num_support=3)),
        neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
        rpn_head=dict(in_channels=32, feat_channels=32),
        roi_head=dict(
            bbox_roi_extractor=dict(out_channels=32),
            bbox_head=dict(in_channels=32, fc_out_channels=64, num_classes=2),
            mask_roi_extractor=dict(out_channels=32),
            mask_head=dict(in_channels=32, conv_out_channels=32,
                           num_classes=2))),
    track_head=dict(
        roi_extractor=dict(out_channels=32),
        embed_head=dict(in_channels=32, fc_out_channels=64)))
del _base_.tiny_stpn_swin_backbone

train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CheckedYouTubeVISDataset',
        pipeline=_base_.stpn_vis_train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CheckedYouTubeVISDataset',
        pipeline=_base_.stpn_vis_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='YouTubeVISMetricNp2', format_only=False)
test_evaluator = val_evaluator
custom_hooks = [dict(type='VideoContextHook')]
