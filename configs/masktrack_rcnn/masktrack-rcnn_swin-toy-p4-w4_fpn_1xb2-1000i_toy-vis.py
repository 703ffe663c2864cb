# The toy baseline: the same MaskTrack R-CNN, backbone without prompts
# (num_prompts=0), same initialisation, data (support frames are loaded and
# ignored), schedule and seed; plain STPNMaskTrackRCNN (no prompt loss).
_base_ = ['./stpn-masktrack-rcnn_swin-toy-p4-w4_fpn_1xb2-1000i_toy-vis.py']
model = dict(
    type='STPNMaskTrackRCNN',
    detector=dict(backbone=dict(num_prompts=0, predictor=None)))
