# The toy STPNSwin of the toy VID / VIS configs (CPU-sized: embed_dims 32,
# 4x4 windows, so FPN / head in_channels=[32, 64, 128, 256]) with 5 prompts
# from the attention DVP predictor, tested offline (14 frames spread over
# the video), randomly initialised (the toy tools fine-tune it from their
# warm starts).
#
# Only a new name, so this file sits next to an mmdet:: base. A config takes
# dict(_base_.stpn_swin_toy_backbone, <what differs>) and then deletes the
# name from _base_ (as mmdet's configs do with _base_.model), so that it
# does not reach its merged config.
stpn_swin_toy_backbone = dict(
    type='STPNSwin',
    embed_dims=32,
    depths=(2, 2, 2, 2),
    num_heads=(1, 2, 4, 8),
    window_size=4,
    drop_path_rate=0.1,
    num_prompts=5,
    predictor=dict(type='AttentionDVPPredictor', num_heads=4),
    test_support=dict(mode='offline', num_support=14),
    init_cfg=None)
