# The toy VIS set (tools/misc/generate_toy_vis.py) for the toy VIS configs
# (MaskTrack R-CNN, Mask2Former VIS, MinVIS): the YouTube-VIS STPN
# pipelines (./youtube-vis_stpn-pipelines.py) on 128x128 frames (no
# upscaling to mmdet's 640x360) with the training-time key-frame corruption
# of the clip frames (./toy-key-corruption.py; the baselines too), and the
# dataset fields shared by its train and val dataloaders (`dataset`).
# Only names an mmdet:: base does not define, so this file sits next to one.
_base_ = ['./youtube-vis_stpn-pipelines.py', './toy-key-corruption.py']

classes = ('hstripes', 'vstripes', 'checker', 'dstripes')

stpn_vis_train_pipeline = _base_.stpn_vis_train_pipeline
stpn_vis_train_pipeline[1]['transforms'][2]['scale'] = (128, 128)
stpn_vis_train_pipeline.insert(2, _base_.train_key_corruption)
stpn_vis_test_pipeline = _base_.stpn_vis_test_pipeline
stpn_vis_test_pipeline[1]['transforms'][1]['scale'] = (128, 128)

dataset = dict(
    type='CheckedYouTubeVISDataset',
    data_root='data/toy_vis/',
    dataset_version='2019',
    metainfo=dict(classes=classes),
    data_prefix=dict(img_path='frames/'))
