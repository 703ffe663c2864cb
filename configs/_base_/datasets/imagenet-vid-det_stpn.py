# ImageNet VID (+ DET, 30 VID classes) as in the released STPN recipe.
# Annotations: CocoVID json made by tools/dataset_converters/
# ilsvrc_vid_to_cocovid.py and ilsvrc_det_to_cocovid.py.
dataset_type = 'ImagenetVIDDataset'
data_root = 'data/ILSVRC/'
backend_args = None

# per-frame transforms, applied with the same random parameters to the key
# frame and its support frames (children reuse them via {{_base_.*}})
train_frame_transforms = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadTrackAnnotations'),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 480), (1333, 512), (1333, 544), (1333, 576),
                (1333, 608), (1333, 640), (1333, 672), (1333, 704),
                (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]
test_frame_transforms = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='LoadTrackAnnotations'),
]
train_pipeline = [
    # released: K=2, one frame from [t-9, t) and one from (t, t+9]
    dict(
        type='SupportFrameSample',
        num_ref_imgs=2,
        frame_range=9,
        filter_key_img=True,
        method='bilateral_uniform'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=train_frame_transforms),
    dict(type='PackClipInputs')
]
# test: what the model's test_support policy needs (released: 14 frames
# spread over the whole video at its first frame, prompts cached), handed
# over by VideoContextHook
test_pipeline = [
    dict(type='SupportFrameSample', method='from_model'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=test_frame_transforms),
    dict(type='PackClipInputs')
]

train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='VideoFrameSampler'),
    batch_sampler=None,
    dataset=dict(
        type='VideoConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='annotations/imagenet_vid_train.json',
                data_prefix=dict(img_path='Data/VID'),
                filter_cfg=dict(filter_empty_gt=True, min_size=16),
                pipeline=train_pipeline,
                backend_args=backend_args),
            dict(
                type=dataset_type,
                data_root=data_root,
                load_as_video=False,
                ann_file='annotations/imagenet_det_30cls.json',
                data_prefix=dict(img_path='Data/DET'),
                filter_cfg=dict(filter_empty_gt=True, min_size=16),
                pipeline=train_pipeline,
                backend_args=backend_args),
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/imagenet_vid_val.json',
        data_prefix=dict(img_path='Data/VID'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

custom_hooks = [dict(type='VideoContextHook')]

val_evaluator = dict(
    type='VIDMetric', ann_file=data_root + 'annotations/imagenet_vid_val.json')
test_evaluator = val_evaluator
