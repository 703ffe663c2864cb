# The toy baseline: the same MinVIS, backbone without prompts
# (num_prompts=0), same initialisation, data (support frames are loaded and
# ignored), schedule and seed.
_base_ = ['./stpn-minvis_swin-toy-p4-w4_1xb2-1000i_toy-vis.py']
model = dict(detector=dict(backbone=dict(num_prompts=0, predictor=None)))
