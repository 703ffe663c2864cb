# The GOT-10k STPN tracker config shrunk for CPU tests of tools/train.py,
# tools/test.py and tools/dist_test.sh (tests/test_tools/test_sot_tools.py):
# same tracker, pipelines, samplers, hook and GOT10kMetric, with a tiny
# STPNOneStreamViT (2 prompts, online K=2 / S=2), template 32 px / search
# 64 px, 3 iterations. Data roots are set on the command line (--cfg-options), no
# pretrained weights, nothing downloaded.
_base_ = '../../../configs/stpn_sot/' \
    'stpn_one-stream_vit-b-p16_4xb32-100e_got10k.py'

model = dict(
    backbone=dict(
        img_size=64,
        template_size=32,
        embed_dims=32,
        depth=2,
        num_heads=2,
        drop_path_rate=0.,
        num_prompts=2,
        predictor=dict(type='AttentionDVPPredictor', num_heads=2),
        test_support=dict(mode='online', num_support=2, stride=2)),
    head=dict(feat_channels=16, num_convs=2),
    template_size=32,
    search_size=64)

num_support = 2
support_stride = 2
train_pipeline = [
    dict(
        type='SOTPairSample',
        frame_range=20,
        filter_template_img=True,
        num_support=num_support,
        support_range=num_support * support_stride,
        stride=support_stride,
        support_sampling='recent'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[dict(type='LoadImageFromFile')]),
    dict(
        type='SOTCropRegion',
        template_factor=2.0,
        template_size=32,
        search_factor=4.0,
        search_size=64,
        template_jitter=(0.0, 0.0),
        search_jitter=(0.25, 3.0),
        support_region='own'),
    dict(type='PackSOTInputs')
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(times=1, dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)

train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=3, val_interval=100)
param_scheduler = []
log_processor = dict(by_epoch=False)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=3, by_epoch=False, save_best=None))
