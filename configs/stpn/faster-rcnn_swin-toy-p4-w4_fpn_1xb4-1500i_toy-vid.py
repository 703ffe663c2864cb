# The single-frame baseline of the STPN toy config: the same backbone, heads,
# data, schedule and seed, without prompts (num_prompts=0: mmdet's Swin on
# the key frame), without the STPN config's auxiliary prompt loss (there are
# no prompts) and without loading support frames.
_base_ = ['./stpn_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py']

model = dict(
    type='FasterRCNN', backbone=dict(num_prompts=0, predictor=None))

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='SupportFrameSample', num_ref_imgs=0),
        dict(
            type='TransformBroadcaster',
            share_random_params=True,
            transforms={{_base_.train_frame_transforms}}),
        {{_base_.train_key_corruption}},
        dict(type='PackClipInputs')
    ]))
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='SupportFrameSample', num_ref_imgs=0, method='uniform'),
        dict(
            type='TransformBroadcaster',
            transforms={{_base_.test_frame_transforms}}),
        dict(type='PackClipInputs')
    ]))
test_dataloader = val_dataloader
