# SELSA on the toy set (tools/misc/toy_vid_compare.py): the toy STPN config's
# tiny Swin WITHOUT prompts (num_prompts=0, as the toy baseline), data (2
# reference frames from [t-4, t+4]; test: 14 frames over each video, kept by
# SELSA's memory) and schedule, with SELSA's RoI head (2 shared FCs of 256,
# each followed by a SelsaAggregator) and without the toy STPN's auxiliary
# prompt loss (there are no prompts).
_base_ = ['../stpn/stpn_faster-rcnn_swin-tiny-p4-w4_fpn_1xb4-1500i_toy-vid.py']

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
                in_channels=256,
                num_attention_blocks=16))))
