# SELSA on STPN's Swin-T recipe (so that SELSA, Temporal RoI Align, STPN and
# the single-frame baseline compare at one backbone): the STPN base model
# (Swin-T + FPN, COCO initialisation, heads and train / test settings) with
# the backbone WITHOUT prompts (num_prompts=0: mmdet's Swin) and SELSA's RoI
# head: 2 shared FCs (1024), each followed by a SelsaAggregator (16 blocks,
# MMTracking's head). SELSA's test-time policy follows the backbone's
# test_support (offline, 14 frames spread over the video; one key:
# --cfg-options model.backbone.test_support.mode=online).
_base_ = ['./stpn_faster-rcnn_swin-t-p4-w7_fpn.py']

model = dict(
    type='SELSA',
    backbone=dict(num_prompts=0, predictor=None),
    roi_head=dict(
        type='SelsaRoIHead',
        bbox_head=dict(
            type='SelsaBBoxHead',
            num_shared_fcs=2,
            aggregator=dict(
                type='SelsaAggregator',
                in_channels=1024,
                num_attention_blocks=16))))
