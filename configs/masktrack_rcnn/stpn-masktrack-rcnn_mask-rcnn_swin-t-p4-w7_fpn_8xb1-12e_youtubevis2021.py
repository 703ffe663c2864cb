# YouTube-VIS 2021 (40 classes of the 2021 version): mmdet's 2021 config
# differs from the 2019 one in data_root / dataset_version / ann files only.
_base_ = [
    './stpn-masktrack-rcnn_mask-rcnn_swin-t-p4-w7_fpn_8xb1-12e_youtubevis2019'
    '.py'
]
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
