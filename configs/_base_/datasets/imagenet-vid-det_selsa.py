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
# lists are replaced, not merged: the base's two training sets (VID, DET)
# again, with this pipeline
train_dataloader = dict(
    dataset=dict(
        type='VideoConcatDataset',
        datasets=[
            dict(dataset, pipeline=train_pipeline)
            for dataset in _base_.train_dataloader.dataset.datasets
        ]))
