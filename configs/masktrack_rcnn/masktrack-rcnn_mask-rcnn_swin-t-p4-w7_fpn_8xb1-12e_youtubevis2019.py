# Its baseline without prompts: the same backbone with num_prompts=0, same
# initialisation, heads, data (support frames are loaded and ignored, so the
# frames, augmentation and iterations are identical) and schedule.
_base_ = [
    './stpn-masktrack-rcnn_mask-rcnn_swin-t-p4-w7_fpn_8xb1-12e_youtubevis2019'
    '.py'
]
model = dict(detector=dict(backbone=dict(num_prompts=0, predictor=None)))
