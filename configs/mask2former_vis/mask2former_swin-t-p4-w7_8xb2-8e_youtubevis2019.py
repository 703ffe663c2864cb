# Its baseline without prompts: the same backbone with num_prompts=0, same
# initialisation, head, data (support frames are loaded and ignored, so the
# frames, augmentation and iterations are identical) and schedule.
_base_ = ['./stpn-mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2019.py']
model = dict(backbone=dict(num_prompts=0, predictor=None))
