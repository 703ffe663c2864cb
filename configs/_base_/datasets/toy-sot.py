# The toy deteriorated tracking set (mmstpn/projects/toy_sot/generator.py,
# written by tools/misc/toy_sot_experiment.py) in the GOT-10k layout:
# 128x128 frames, a textured square target, a follower and wanderers of
# other textures (same size and colour), ~30% isolated deteriorated frames.
# Template: always frame 0 (the test protocol's given box); search: any
# later frame, cropped around the PREVIOUS frame's box (as the online
# tracker crops frame t around its estimate of t-1: the target sits where
# the motion put it, as close to the center as its follower) with a small
# center jitter; K=2 support crops on frames s-1, s-2 cropped around their
# own boxes with the same relative shift (what the online cache holds at
# test). The experiment's shared warm start uses OSTrack's crops instead
# (own box, center jitter 3; toy_sot_experiment.WARM_START_CROP).
dataset_type = 'GOT10kDataset'
data_root = 'data/toy_sot/'
backend_args = None

num_support = 2
support_stride = 1
# Training-time search-frame deterioration (the SOT counterpart of the toy
# VID / VIS key-frame corruption): half of the training items get their
# SEARCH frame defocus-blurred and greyed (texture and hue gone, as on the
# set's deteriorated frames); template and supports stay as they are, so
# for those items only the supports tell which blob is the target. Used by
# the baseline too (same data); the experiment's shared warm start trains
# without it.
train_search_corruption = dict(
    type='RandomApply',
    prob=0.5,
    transforms=[
        dict(type='ClipCorrupt', corruption='defocus_blur', severity=3,
             target='search', grey=True)
    ])
train_pipeline = [
    dict(
        type='SOTPairSample',
        frame_range=[0, 100],
        template_frame=0,
        num_support=num_support,
        support_range=num_support * support_stride,
        stride=support_stride,
        support_sampling='recent'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[dict(type='LoadImageFromFile', backend_args=backend_args)
                    ]),
    train_search_corruption,
    dict(
        type='SOTCropRegion',
        template_factor=2.0,
        template_size=32,
        search_factor=4.0,
        search_size=64,
        template_jitter=(0.0, 0.0),
        search_jitter=(0.25, 0.5),
        search_center='previous',
        support_region='own'),
    dict(type='PackSOTInputs')
]
test_pipeline = [
    dict(
        type='TransformBroadcaster',
        transforms=[dict(type='LoadImageFromFile', backend_args=backend_args)
                    ]),
    dict(
        type='PackTrackInputs',
        meta_keys=('video_name', 'bbox', 'cover', 'width', 'height'))
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train/list.txt',
        data_prefix=dict(img_path='train'),
        filter_cfg=dict(min_visible=2),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,  # online tracking: frames one by one, in order
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='val/list.txt',
        data_prefix=dict(img_path='val'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='GOT10kMetric')
test_evaluator = val_evaluator
