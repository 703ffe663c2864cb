# STPN + SELSA: STPN's prompted Swin-T (attention DVP predictor, 5 prompts)
# under SELSA's RoI head, on STPN's recipe. Each clip's prompts are computed
# once from its support frames and prompt the key frame AND its reference
# frames (the same frames: one SupportFrameSample). Training: 2 frames from
# [t-9, t+9] (the authors trained STPN + SELSA with 2-4); test: 14 frames
# spread over the video give both the prompts and SELSA's references
# (offline: computed at frame 0, cached for the video).
_base_ = ['./selsa_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py']

model = dict(
    backbone=dict(
        num_prompts=5,
        predictor=dict(
            _delete_=True, type='AttentionDVPPredictor', num_heads=16)))
