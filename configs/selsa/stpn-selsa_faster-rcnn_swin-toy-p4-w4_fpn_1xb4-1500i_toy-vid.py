# STPN + SELSA on the toy set: the toy STPN backbone (5 prompts, attention
# DVP predictor) under the toy SELSA head. Trained with the detection loss
# only (SELSA has no auxiliary prompt loss, unlike the toy STPN config's
# PromptSupervisedFasterRCNN training aid).
_base_ = ['./selsa_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py']

model = dict(
    backbone=dict(
        num_prompts=5,
        predictor=dict(
            _delete_=True, type='AttentionDVPPredictor', num_heads=4)))
