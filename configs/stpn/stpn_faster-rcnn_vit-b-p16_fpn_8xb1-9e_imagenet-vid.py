# STPNViT variant (no released counterpart): ViT-B/16 with windowed blocks
# (window 14) and 4 global blocks as in ViTDet; the neck is the simple
# feature pyramid followed by FPN; otherwise the released recipe. Initialise
# from an ImageNet ViT-B/16 checkpoint converted to mmstpn's key names
# (patch_embed.projection, pos_embed, blocks.N.{norm1,qkv,proj,norm2,ffn});
# without it the backbone starts from scratch.
_base_ = ['./stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py']

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='STPNViT',
        img_size=224,
        patch_size=16,
        embed_dims=768,
        depth=12,
        num_heads=12,
        mlp_ratio=4,
        window_size=14,
        window_block_indices=(0, 1, 3, 4, 6, 7, 9, 10),
        drop_path_rate=0.1,
        num_prompts=5,
        predictor=dict(type='AttentionDVPPredictor', num_heads=16),
        with_cp=False,
        init_cfg=None),
    neck=[
        dict(type='SimpleFeaturePyramid', in_channels=768),
        dict(
            type='FPN',
            in_channels=[192, 384, 768, 768],
            out_channels=256,
            num_outs=5)
    ])
