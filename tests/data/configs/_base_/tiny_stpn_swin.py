# The tiny STPNSwin of the tiny tracker test configs (embed_dims 16, one
# block per stage, so FPN in_channels=[16, 32, 64, 128]; 5 prompts from the
# attention DVP predictor; no initialisation, nothing downloaded).
# A config takes dict(_base_.tiny_stpn_swin_backbone, test_support=...) and
# then deletes the name from _base_, so that it does not reach its merged
# config.
tiny_stpn_swin_backbone = dict(
    type='STPNSwin',
    embed_dims=16,
    depths=(1, 1, 1, 1),
    num_heads=(1, 1, 2, 2),
    window_size=4,
    drop_path_rate=0.,
    num_prompts=5,
    predictor=dict(type='AttentionDVPPredictor', num_heads=4),
    init_cfg=None)
