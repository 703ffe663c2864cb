# MOT17 pipelines for STPN trackers (only new names, so this file can sit
# next to an mmdet:: base). Loading, resize, photometric distortion, crop
# and flip are mmdet's mot_challenge.py ones.
stpn_backend_args = None
stpn_mot_img_scale = (1088, 1088)

# QDTrack: mmdet's key + 1 reference in [t-10, t+10]; each clip frame with
# K=2 support frames (one per side, within 9 frames). As in mmdet, the crop
# is drawn per loaded frame (share_random_params=False): support frames only
# feed the prompts, which the predictor pools over all their tokens.
stpn_mot_train_pipeline = [
    dict(
        type='RefSupportFrameSample',
        num_ref_imgs=1,
        frame_range=10,
        filter_key_img=True,
        support=dict(
            num_ref_imgs=2, frame_range=9, method='bilateral_uniform')),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadImageFromFile', backend_args=stpn_backend_args),
            dict(type='LoadTrackAnnotations'),
            dict(
                type='RandomResize',
                scale=stpn_mot_img_scale,
                ratio_range=(0.8, 1.2),
                keep_ratio=True,
                clip_object_border=False),
            dict(type='PhotoMetricDistortion')
        ]),
    dict(
        type='TransformBroadcaster',
        share_random_params=False,
        transforms=[
            dict(
                type='RandomCrop',
                crop_size=stpn_mot_img_scale,
                bbox_clip_border=False)
        ]),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[dict(type='RandomFlip', prob=0.5)]),
    dict(type='PackTrackClipInputs')
]

# ByteTrack: its detector trains on single frames (mmdet: detection images);
# here a frame of a MOT video with its K=2 support frames, packed as a
# DetDataSample for the stock detector (TrackClipDataPreprocessor with
# use_det_processor=True).
stpn_mot_det_train_pipeline = [
    dict(
        type='SupportFrameSample',
        num_ref_imgs=2,
        frame_range=9,
        method='bilateral_uniform'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadImageFromFile', backend_args=stpn_backend_args),
            dict(type='LoadTrackAnnotations'),
            dict(
                type='RandomResize',
                scale=stpn_mot_img_scale,
                ratio_range=(0.8, 1.2),
                keep_ratio=True,
                clip_object_border=False),
            dict(type='PhotoMetricDistortion'),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackClipInputs')
]

# Test: mmdet's frame-level items (TrackImgSampler); online support (the
# trackers are online) needs nothing loaded. Offline needs whole videos per
# item: sampler=dict(type='DefaultSampler', shuffle=False, round_up=False).
stpn_mot_test_pipeline = [
    dict(type='VideoSupportFrameSample', method='from_model'),
    dict(
        type='TransformBroadcaster',
        transforms=[
            dict(type='LoadImageFromFile', backend_args=stpn_backend_args),
            dict(type='Resize', scale=stpn_mot_img_scale, keep_ratio=True),
            dict(type='LoadTrackAnnotations')
        ]),
    dict(type='PackTrackClipInputs')
]
