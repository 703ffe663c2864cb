# YouTube-VIS pipelines for STPN trackers: mmdet's youtube_vis.py pipelines
# (same loading, resize, flip, annotations) with every clip frame (key +
# reference) carrying its own support frames in training, and every test
# frame carrying what model.backbone.test_support says
# (VideoSupportFrameSample(method='from_model') + VideoContextHook). The
# dataloaders stay mmdet's: training items (video, frame) from
# TrackImgSampler, test items whole videos (DefaultSampler), batch 1.
# (Only new names here, so this file can sit next to an mmdet:: base.)
stpn_backend_args = None

stpn_vis_train_pipeline = [
    # mmdet's clip (key + 1 reference in [t-100, t+100]), then for EACH clip
    # frame K=2 support frames, one on each side within 9 frames (released)
    dict(
        type='RefSupportFrameSample',
        num_ref_imgs=1,
        frame_range=100,
        filter_key_img=True,
        support=dict(
            num_ref_imgs=2, frame_range=9, method='bilateral_uniform')),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadImageFromFile', backend_args=stpn_backend_args),
            dict(type='LoadTrackAnnotations', with_mask=True),
            dict(type='Resize', scale=(640, 360), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackTrackClipInputs')
]

stpn_vis_test_pipeline = [
    dict(type='VideoSupportFrameSample', method='from_model'),
    dict(
        type='TransformBroadcaster',
        transforms=[
            dict(type='LoadImageFromFile', backend_args=stpn_backend_args),
            dict(type='Resize', scale=(640, 360), keep_ratio=True),
            dict(type='LoadTrackAnnotations', with_mask=True),
        ]),
    dict(type='PackTrackClipInputs')
]
