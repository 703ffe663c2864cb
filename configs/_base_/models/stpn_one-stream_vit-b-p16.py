# One-stream (OSTrack-style) tracker on STPNOneStreamViT-B/16: template
# 128 px (2x the box), search 256 px (4x the box), joint global attention over
# [prompts, template, search], center head on the search tokens (focal +
# GIoU + L1). Prompts from the cached search crops of past frames (online,
# K=3 every S=10 frames). Initialise from an ImageNet (or MAE) ViT-B/16
# converted to mmstpn's key names with
#   python tools/model_converters/vit_to_mmstpn.py SRC DST --config <this cfg>
# (pos_embed: the search table, 16 x 16; pos_embed_template: the same
# pretrained table resized to 8 x 8), e.g. as
# model.backbone.init_cfg=dict(type='Pretrained', checkpoint=DST,
# prefix='backbone.'); without it the backbone starts from scratch.
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)
model = dict(
    type='OneStreamTracker',
    data_preprocessor=dict(
        type='SOTDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='STPNOneStreamViT',
        img_size=256,  # search table: 16 x 16
        template_size=128,  # template table: 8 x 8
        patch_size=16,
        embed_dims=768,
        depth=12,
        num_heads=12,
        mlp_ratio=4,
        window_block_indices=(),  # global attention only
        drop_path_rate=0.1,
        num_prompts=5,
        predictor=dict(type='AttentionDVPPredictor', num_heads=16),
        test_support=dict(mode='online', num_support=3, stride=10),
        init_cfg=None),
    head=dict(
        type='TrackCenterHead',
        feat_channels=256,
        num_convs=4,
        loss_cls=dict(type='GaussianFocalLoss', loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        loss_l1=dict(type='L1Loss', loss_weight=5.0)),
    template_factor=2.0,
    template_size=128,
    search_factor=4.0,
    search_size=256,
    window=True)
