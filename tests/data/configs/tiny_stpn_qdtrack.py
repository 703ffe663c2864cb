# A tiny STPN QDTrack for CPU tests: mmdet's own QDTrack MOT17 config with
# only the backbone (+ widths), data preprocessor and pipeline changed.
_base_ = [
    'mmdet::qdtrack/'
    'qdtrack_faster-rcnn_r50_fpn_8xb2-4e_mot17halftrain_test-mot17halfval.py',
    '../../../configs/_base_/datasets/mot-challenge_stpn-pipelines.py',
    './_base_/tiny_stpn_swin.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

model = dict(
    type='STPNQDTrack',
    data_preprocessor=dict(
        _delete_=True,
        type='TrackClipDataPreprocessor',
        mean=[103.530, 116.280, 123.675],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    detector=dict(
        init_cfg=None,
        backbone=dict(
            _base_.tiny_stpn_swin_backbone,
            _delete_=True,
            test_support=dict(mode='online', num_support=2)),
        neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
        rpn_head=dict(in_channels=32, feat_channels=32),
        roi_head=dict(
            bbox_roi_extractor=dict(out_channels=32),
            bbox_head=dict(in_channels=32, fc_out_channels=64))),
    track_head=dict(
        roi_extractor=dict(out_channels=32),
        embed_head=dict(
            in_channels=32,
            conv_out_channels=32,
            fc_out_channels=64,
            embed_channels=32,
            norm_cfg=dict(type='GN', num_groups=8))))
del _base_.tiny_stpn_swin_backbone

train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CheckedMOTChallengeDataset',
        pipeline=_base_.stpn_mot_train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CheckedMOTChallengeDataset',
        pipeline=_base_.stpn_mot_test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [dict(type='VideoContextHook')]
