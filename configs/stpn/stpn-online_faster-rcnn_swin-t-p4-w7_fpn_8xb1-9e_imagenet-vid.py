# The released model tested ONLINE (causal): each frame's prompts come from
# the K=14 latest past frames on a stride-4 grid; every grid frame's
# unprompted pass runs once and is cached. Train with the offline config.
# One key does the same from the offline config:
#   --cfg-options model.backbone.test_support.mode=online \
#                 model.backbone.test_support.stride=4
# (the test pipeline follows the policy through VideoContextHook).
_base_ = ['./stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py']

model = dict(
    backbone=dict(test_support=dict(mode='online', num_support=14, stride=4)))
