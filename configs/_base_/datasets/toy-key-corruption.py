# Training-time key-frame corruption of the toy sets (toy VID, toy VIS):
# half of the training samples get their KEY frame (for a tracking clip:
# every clip frame, key and reference; ClipCorrupt's 'key') defocus-blurred
# (imagecorruptions, severity 3: the class texture is gone, the silhouette
# stays), the support frames stay as they are. It makes the support frames
# the only source of the class for those samples, which is what lets the
# detection loss alone teach the DVP predictor (docs/toy_vid.md). Used by
# the baseline too (same data). Place it after TransformBroadcaster.
train_key_corruption = dict(
    type='RandomApply',
    prob=0.5,
    transforms=[
        dict(type='ClipCorrupt', corruption='defocus_blur', severity=3,
             target='key')
    ])
