# The released STPN recipe (reproduction target: 85.2 AP50 on ImageNet VID
# val; fast/medium/slow 64.1 / 84.1 / 91.4): STPNSwin-T + attention DVP
# predictor, mmdet's Faster R-CNN + FPN, ImageNet VID + DET, AdamW 2.5e-5,
# 9 epochs, 8 GPUs x 1 clip, tested with 14 frames spread over each video.
_base_ = [
    '../_base_/models/stpn_faster-rcnn_swin-t-p4-w7_fpn.py',
    '../_base_/datasets/imagenet-vid-det_stpn.py',
    '../_base_/schedules/adamw-9e_stpn.py', '../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=1, save_best='vid/bbox_mAP_50'))
