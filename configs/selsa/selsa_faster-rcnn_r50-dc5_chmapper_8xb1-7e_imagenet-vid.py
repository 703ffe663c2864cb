# SELSA R-50-DC5 (MMTracking zoo: 78.4 AP50 on ImageNet VID val).
_base_ = [
    '../_base_/models/selsa_faster-rcnn_r50-dc5_chmapper.py',
    '../_base_/datasets/imagenet-vid-det_selsa.py',
    '../_base_/schedules/sgd-7e_selsa.py', '../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=1, save_best='vid/bbox_mAP_50'))
