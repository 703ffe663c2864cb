# GOT-10k in its published layout (data/GOT10k/{train,val,test}/list.txt),
# read directly by GOT10kDataset (no converter).
# Training items: template (2x box -> 128 px) + search (4x box -> 256 px,
# OSTrack's jitter) + `num_support` support crops sharing the search jitter;
# a single-object tracker config appends its own packing transform to
# `sot_train_pipeline`. Val: AO / SR50 / SR75 (GOT-10k toolkit rules).
# Test: frame 0's box only; GOT10kMetric(format_only=True) writes the
# server's submission layout with the tracker's measured frame times.
dataset_type = 'GOT10kDataset'
data_root = 'data/GOT10k/'
backend_args = None

sot_train_pipeline = [
    dict(type='SOTPairSample', frame_range=100, num_support=2,
         support_range=10),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[dict(type='LoadImageFromFile',
                         backend_args=backend_args)]),
    dict(
        type='SOTCropRegion',
        template_factor=2.0,
        template_size=128,
        search_factor=4.0,
        search_size=256,
        search_jitter=(0.25, 3.0),
        support_region='own'),
]
# metainfo GOT10kMetric reads (besides mmdet's defaults: frame_id,
# ori_video_length, ori_shape, ...); the tracker adds `frame_time`
sot_meta_keys = ('video_name', 'bbox', 'cover', 'width', 'height')
test_pipeline = [
    dict(
        type='TransformBroadcaster',
        transforms=[dict(type='LoadImageFromFile',
                         backend_args=backend_args)]),
    dict(type='PackTrackInputs', meta_keys=sot_meta_keys),
]

sot_train_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='train/list.txt',
    data_prefix=dict(img_path='train'),
    filter_cfg=dict(min_visible=2),
    pipeline=sot_train_pipeline)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
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
    drop_last=False,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test/list.txt',
        data_prefix=dict(img_path='test'),
        first_frame_only=True,
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='GOT10kMetric')
test_evaluator = dict(
    type='GOT10kMetric',
    format_only=True,
    outfile_prefix='work_dirs/got10k_test_submission')
