# The released model tested ONLINE (causal): each frame's prompts come from
# the K=14 latest past frames on a stride-4 grid; every grid frame's
# unprompted pass runs once and is cached. Train with the offline config.
_base_ = ['./stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py']

val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(
            type='SupportFrameSample',
            num_ref_imgs=14,
            stride=4,
            method='online'),
        dict(
            type='TransformBroadcaster',
            transforms={{_base_.test_frame_transforms}}),
        dict(type='PackClipInputs')
    ]))
test_dataloader = val_dataloader
