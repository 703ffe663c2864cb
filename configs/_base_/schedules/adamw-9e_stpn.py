# Released STPN schedule: AdamW 2.5e-5, wd 0.05 (none on norms and position
# tables), linear warm-up 500 iters at 1/3, x0.1 at epoch 6, 9 epochs,
# 8 GPUs x 1 image.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=9, val_interval=9)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(
        type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=9,
        by_epoch=True,
        milestones=[6],
        gamma=0.1)
]

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2.5e-5, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'pos_embed': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
        }))

auto_scale_lr = dict(enable=False, base_batch_size=8)
