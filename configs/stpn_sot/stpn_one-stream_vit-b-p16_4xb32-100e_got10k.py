# STPN one-stream tracker (ViT-B/16, 5 prompts from the cached search crops of
# past frames, online K=3 / S=10), GOT-10k-only protocol. OSTrack-like
# schedule: AdamW 4e-4 (backbone x0.1), wd 1e-4, 100 epochs of ~56k items,
# x0.1 at epoch 80, 4 GPUs x 32. Switch the test policy with
# --cfg-options model.backbone.test_support.stride=5 (etc.).
_base_ = [
    '../_base_/models/stpn_one-stream_vit-b-p16.py',
    '../_base_/datasets/got10k_sot.py', '../_base_/default_runtime.py'
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=20)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=100,
        by_epoch=True,
        milestones=[80],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1),
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'backbone.prompt_generator': dict(lr_mult=1.0),
            'pos_embed': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
        }))
auto_scale_lr = dict(enable=False, base_batch_size=128)
custom_hooks = [dict(type='VideoContextHook')]
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=10, save_best='got10k/AO',
        rule='greater'))
