# Its baseline without prompts (see the 2019 baseline).
_base_ = ['./stpn-minvis_mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2021.py']
model = dict(detector=dict(backbone=dict(num_prompts=0, predictor=None)))
