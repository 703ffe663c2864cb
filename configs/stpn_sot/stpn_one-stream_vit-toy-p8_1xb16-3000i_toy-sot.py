# STPN one-stream tracker on the toy deteriorated tracking set
# (tools/misc/toy_sot_experiment.py): a tiny STPNOneStreamViT (64-d, 4
# blocks, patch 8: template 32 px -> 4x4 tokens, search 64 px -> 8x8), 4
# prompts from the cached search crops of the 2 previous frames (online, K=2,
# S=1).
# The toy recipe (docs/sot.md, each part measured there): support
# embeddings from the joint pass with the template (the backbone default)
# plus the layer-normalised position table (support_pos_embed), and the
# auxiliary prompt loss (PromptSupervisedOneStreamTracker: the prompts
# predict where the target is in the support crops; NOT in the paper): on
# this set a deteriorated frame differs from its clean neighbours only by
# WHERE its target is, which global prompt tokens do not learn to carry
# from the tracking losses alone.
custom_imports = dict(imports=['mmstpn'], allow_failed_imports=False)
_base_ = ['../_base_/datasets/toy-sot.py', '../_base_/default_runtime.py']
model = dict(
    type='PromptSupervisedOneStreamTracker',  # its default L1 loss, weight 5
    data_preprocessor=dict(
        type='SOTDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='STPNOneStreamViT',
        img_size=64,
        template_size=32,
        patch_size=8,
        embed_dims=64,
        depth=4,
        num_heads=4,
        mlp_ratio=4,
        window_block_indices=(),
        drop_path_rate=0.,
        num_prompts=4,
        support_pass='joint',
        support_pos_embed=True,
        predictor=dict(type='AttentionDVPPredictor', num_heads=4),
        test_support=dict(mode='online', num_support=2, stride=1),
        init_cfg=None),
    head=dict(
        type='TrackCenterHead',
        feat_channels=64,
        num_convs=2,
        loss_cls=dict(type='GaussianFocalLoss', loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        loss_l1=dict(type='L1Loss', loss_weight=5.0)),
    template_factor=2.0,
    template_size=32,
    search_factor=4.0,
    search_size=64,
    window=True)

max_iters = 3000
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100,
         end=max_iters, eta_min_ratio=0.01)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(custom_keys={
        'pos_embed': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
    }))
custom_hooks = [dict(type='VideoContextHook')]
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook', interval=max_iters, by_epoch=False,
        max_keep_ckpts=1))
