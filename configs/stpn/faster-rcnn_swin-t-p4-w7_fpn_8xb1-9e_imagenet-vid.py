# Single-frame baseline of the released recipe: the same Swin-T backbone and
# COCO initialisation, heads, data and schedule, without prompts
# (num_prompts=0 is mmdet's SwinTransformer on the key frame) and without
# loading support frames.
_base_ = ['./stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py']

model = dict(backbone=dict(num_prompts=0, predictor=None))

_train_pipeline = [
    dict(type='SupportFrameSample', num_ref_imgs=0),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms={{_base_.train_frame_transforms}}),
    dict(type='PackClipInputs')
]
_test_pipeline = [
    dict(type='SupportFrameSample', num_ref_imgs=0, method='uniform'),
    dict(
        type='TransformBroadcaster',
        transforms={{_base_.test_frame_transforms}}),
    dict(type='PackClipInputs')
]
# lists are replaced, not merged: restate both sub-datasets
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='ImagenetVIDDataset',
            data_root={{_base_.data_root}},
            ann_file='annotations/imagenet_vid_train.json',
            data_prefix=dict(img_path='Data/VID'),
            filter_cfg=dict(filter_empty_gt=True, min_size=16),
            pipeline=_train_pipeline),
        dict(
            type='ImagenetVIDDataset',
            data_root={{_base_.data_root}},
            load_as_video=False,
            ann_file='annotations/imagenet_det_30cls.json',
            data_prefix=dict(img_path='Data/DET'),
            filter_cfg=dict(filter_empty_gt=True, min_size=16),
            pipeline=_train_pipeline),
    ]))
val_dataloader = dict(dataset=dict(pipeline=_test_pipeline))
test_dataloader = val_dataloader
