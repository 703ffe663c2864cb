# STPN Mask2Former VIS on YouTube-VIS 2019: mmdet's own Mask2FormerVideo
# config (track head, losses, matcher, schedule, dataloaders, evaluator)
# with only the backbone (STPNSwin-T + attention predictor; track head
# in_channels), the initialisation, the data preprocessor and the pipelines
# changed. Each of the T=2 training clip frames carries its own K=2 support
# frames; the test video follows model.backbone.test_support (offline: 14
# frames over the video, prompts computed once per video; switch with
# --cfg-options model.backbone.test_support.mode=online).
#
# Initialisation: the Swin-T backbone of mmdet's COCO Mask R-CNN Swin-T, the
# checkpoint every other STPN Swin-T config here starts from (MaskTrack
# R-CNN, QDTrack, the VID detectors); the track head starts from scratch
# (mmdet's Mask2FormerVideo configs start the whole model from a COCO
# Mask2Former; the COCO Mask2Former Swin-T checkpoint of mmdet's model zoo
# would do that here: model.init_cfg=dict(type='Pretrained', checkpoint=
# <mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco .pth>), with
# model.backbone.init_cfg=None; its panoptic_head.* keys load into
# track_head.*). Neither is measured here (docs/vis_mask2former.md).
_base_ = [
    'mmdet::mask2former_vis/mask2former_r50_8xb2-8e_youtubevis2019.py',
    '../_base_/datasets/youtube-vis_stpn-pipelines.py',
    '../_base_/models/stpn_swin-t-p4-w7.py'
]
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)

pretrained = _base_.stpn_swin_t_pretrained
depths = [2, 2, 6, 2]

model = dict(
    type='STPNMask2FormerVideo',
    init_cfg=None,
    data_preprocessor=dict(
        _delete_=True,
        type='TrackClipDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    # drop path 0.3 as mmdet's Mask2Former Swin-T
    backbone=dict(
        _base_.stpn_swin_t_backbone,
        _delete_=True,
        depths=depths,
        drop_path_rate=0.3),
    track_head=dict(in_channels=[96, 192, 384, 768]))
del _base_.stpn_swin_t_pretrained, _base_.stpn_swin_t_backbone

dataset_type = 'CheckedYouTubeVISDataset'
train_dataloader = dict(
    dataset=dict(type=dataset_type, pipeline=_base_.stpn_vis_train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, pipeline=_base_.stpn_vis_test_pipeline))
test_dataloader = val_dataloader

# mmdet's Swin recipe of its Mask2Former configs (backbone at 0.1x, no decay
# on norms, position tables and queries); the prompt predictor is new, so
# it learns at the heads' rate (the longest matching key wins)
backbone_norm_multi = dict(lr_mult=0.1, decay_mult=0.0)
backbone_embed_multi = dict(lr_mult=0.1, decay_mult=0.0)
embed_multi = dict(lr_mult=1.0, decay_mult=0.0)
custom_keys = {
    'backbone': dict(lr_mult=0.1, decay_mult=1.0),
    'backbone.prompt_generator': dict(lr_mult=1.0, decay_mult=1.0),
    'backbone.patch_embed.norm': backbone_norm_multi,
    'backbone.norm': backbone_norm_multi,
    'absolute_pos_embed': backbone_embed_multi,
    'relative_position_bias_table': backbone_embed_multi,
    'query_embed': embed_multi,
    'query_feat': embed_multi,
    'level_embed': embed_multi
}
custom_keys.update({
    f'backbone.stages.{stage_id}.blocks.{block_id}.norm': backbone_norm_multi
    for stage_id, num_blocks in enumerate(depths)
    for block_id in range(num_blocks)
})
custom_keys.update({
    f'backbone.stages.{stage_id}.downsample.norm': backbone_norm_multi
    for stage_id in range(len(depths) - 1)
})
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys=custom_keys, norm_decay_mult=0.0))

# mmdet's config writes the server zip; the numpy-2 metric does the same
val_evaluator = dict(type='YouTubeVISMetricNp2')
test_evaluator = val_evaluator
default_hooks = dict(non_finite_loss=dict(type='NonFiniteLossHook'))
custom_hooks = [dict(type='VideoContextHook')]
