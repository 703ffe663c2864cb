# Temporal RoI Align R-101-DC5 (MMTracking zoo: 82.6 AP50 on ImageNet VID
# val).
_base_ = ['./troi_faster-rcnn_r50-dc5_chmapper_8xb1-7e_imagenet-vid.py']
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
