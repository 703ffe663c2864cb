# GOT-10k-only protocol: train on GOT-10k train, validate on GOT-10k val
# (AO / SR), test on the GOT-10k test split (result files for the server).
# Training items: a template frame, a search frame within 200 frames of it
# and K=3 support frames on the grid s-10, s-20, s-30 (the test policy's
# K / S), cropped around their own boxes with the search frame's jitter.
dataset_type = 'GOT10kDataset'
data_root = 'data/GOT10k/'
backend_args = None

num_support = 3
support_stride = 10
train_pipeline = [
    dict(
        type='SOTPairSample',
        frame_range=200,
        filter_template_img=True,
        num_support=num_support,
        support_range=num_support * support_stride,
        stride=support_stride,
        support_sampling='recent'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[dict(type='LoadImageFromFile', backend_args=backend_args)
                    ]),
    dict(
        type='SOTCropRegion',
        template_factor=2.0,
        template_size=128,
        search_factor=4.0,
        search_size=256,
        template_jitter=(0.0, 0.0),
        search_jitter=(0.25, 3.0),
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
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        # one item per sequence and pass: 9335 sequences x 6 ~ 56k items
        # per epoch (OSTrack samples 60k per epoch)
        type='RepeatDataset',
        times=6,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='train/list.txt',
            data_prefix=dict(img_path='train'),
            filter_cfg=dict(min_visible=2),
            pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=1,  # online tracking: frames one by one, in order
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='TrackImgSampler'),  # whole sequences per process
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='val/list.txt',
        data_prefix=dict(img_path='val'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test/list.txt',
        data_prefix=dict(img_path='test'),
        first_frame_only=True,
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='GOT10kMetric', protocol='got10k')
# the GOT-10k test split has no public boxes: write the submission files
test_evaluator = dict(
    type='GOT10kMetric',
    protocol='got10k',
    format_only=True,
    outfile_prefix='./work_dirs/got10k_test')
