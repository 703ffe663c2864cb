# YouTube-VIS 2021: mmdet's 2021 Mask2FormerVideo config differs from the
# 2019 one in the data (root, version, annotation files) and the schedule
# (8000 iterations, step at 5500, checkpoints every 500); so does this one.
_base_ = ['./stpn-mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2019.py']
data_root = 'data/youtube_vis_2021/'
dataset_version = '2021'
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        dataset_version=dataset_version,
        ann_file='annotations/youtube_vis_2021_train.json'))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        dataset_version=dataset_version,
        ann_file='annotations/youtube_vis_2021_valid.json'))
test_dataloader = val_dataloader
max_iters = 8000
param_scheduler = dict(end=max_iters, milestones=[5500])
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
default_hooks = dict(checkpoint=dict(interval=500))
