# ImageNet VID (+ DET, 30 VID classes) as MMTracking's SELSA / Temporal RoI
# Align recipe: one training scale (1000, 600), flip; 2 reference frames
# from [t-9, t+9] (one each side) in training; at test, 14 frames spread
# over the whole video carried by frame 0 and kept by SELSA's memory.
# Validation / test data, pipeline and metric: those of the STPN base.
_base_ = ['./imagenet-vid-det_stpn.py']

dataset_type = 'ImagenetVIDDataset'
data_root = 'data/ILSVRC/'
backend_args = None
train_frame_transforms = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadTrackAnnotations'),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
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
train_dataloader = dict(
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
