# SELSA on the toy set (tools/misc/toy_vid_compare.py): the toy STPN config's
# tiny Swin WITHOUT prompts (num_prompts=0, as the toy baseline), data (2
# reference frames from [t-4, t+4]; test: 14 frames over each video, kept by
# SELSA's memory) and schedule, with SELSA's RoI head (2 shared FCs of 256,
# each followed by a SelsaAggregator) and without the toy STPN's auxiliary
# prompt loss (there are no prompts).
#
# Toy-only speed knob: num_ref_proposals=100, the top-100 RPN proposals of
# each reference frame are its reference RoIs (training and test; key frames
# keep all 300). MMTracking's recipe (and the zoo configs here) uses all
# test_cfg.rpn.max_per_img=300 of every reference frame. On a 128x128 toy
# frame with 1-3 objects the top 100 cover them; it cuts the 15 x 300 = 4500
# reference RoIs per key frame to 1500 (attention cost) and the training
# step's reference RoI Align by 3x.
_base_ = ['../stpn/stpn_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py']

model = dict(
    type='SELSA',
    num_ref_proposals=100,
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
