# STPNSwin-T, the backbone of every STPN Swin-T config: mmdet's Swin-T
# (swin-t-p4-w7; out_indices 0-3, so FPN / head in_channels=[96, 192, 384,
# 768]) with 5 video prompts from the attention DVP predictor (released),
# tested offline (14 frames spread over the video, prompts computed at
# frame 0 and reused; online: mode='online', stride=4), initialised from the
# Swin-T backbone of mmdet's COCO Mask R-CNN Swin-T.
#
# Only new names, so this file sits next to an mmdet:: base. A config takes
# dict(_base_.stpn_swin_t_backbone, <what differs>) and then deletes both
# names from _base_ (as mmdet's configs do with _base_.model), so that they
# do not reach its merged config.
stpn_swin_t_pretrained = (
    'https://download.openmmlab.com/mmdetection/v2.0/swin/'
    'mask_rcnn_swin-t-p4-w7_fpn_1x_coco/'
    'mask_rcnn_swin-t-p4-w7_fpn_1x_coco_20210902_120937-9d6b7cfa.pth')

stpn_swin_t_backbone = dict(
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
    test_support=dict(mode='offline', num_support=14),
    init_cfg=dict(
        type='Pretrained', prefix='backbone.',
        checkpoint=stpn_swin_t_pretrained))
