# SELSA on STPN's Swin-T recipe (no released counterpart): Swin-T + FPN
# without prompts, SELSA's RoI head, and STPN's data (ImageNet VID + DET,
# multi-scale, 2 reference frames from [t-9, t+9]; test: 14 frames spread
# over each video, kept by SELSA's memory), AdamW schedule (9 epochs) and
# runtime, so it compares with
# configs/stpn/{stpn_,}faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py.
_base_ = [
    '../_base_/models/selsa_faster-rcnn_swin-t-p4-w7_fpn.py',
    '../_base_/datasets/imagenet-vid-det_stpn.py',
    '../_base_/schedules/adamw-9e_stpn.py', '../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=1, save_best='vid/bbox_mAP_50'))
