# TrackingNet in its published layout (data/TrackingNet/{TRAIN_0..TRAIN_11,
# TEST}/{anno,frames}), read directly by TrackingNetDataset (no converter).
# Test: the TEST chunk carries frame 0's box only; GOT10kMetric(protocol=
# 'ope', result_format='trackingnet', format_only=True) writes one
# <seq>.txt per sequence (x,y,w,h per frame) and zips them into
# <outfile_prefix>.zip, the file to upload to the evaluation server.
# Training items: the SOT pipeline of got10k.py on the TRAIN chunks.
dataset_type = 'TrackingNetDataset'
data_root = 'data/TrackingNet/'
backend_args = None
train_chunks = tuple(f'TRAIN_{i}' for i in range(12))

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
    chunks=train_chunks,
    filter_cfg=dict(min_visible=2),
    pipeline=sot_train_pipeline)
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='TrackImgSampler'),  # whole sequences per process
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        chunks=('TEST', ),
        test_mode=True,
        pipeline=test_pipeline))
test_evaluator = dict(
    type='GOT10kMetric',
    protocol='ope',
    result_format='trackingnet',
    format_only=True,
    outfile_prefix='work_dirs/trackingnet_test_submission')
