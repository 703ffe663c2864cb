# The toy MinVIS config with a tiny STPNSwin, 64x64 frames and 3
# iterations, for the 2-process test (tests/test_tools/test_dist_vis.py)
# and, through tiny_stpn_minvis.py, the model tests.
_base_ = ['../../../configs/minvis/'
          'stpn-minvis_swin-toy-p4-w4_1xb2-1000i_toy-vis.py']

# a smaller head than the toy's: 32 channels, 1 pixel-decoder layer
tiny_channels = 32
tiny_attn = dict(embed_dims=tiny_channels, num_heads=4)
tiny_ffn = dict(
    embed_dims=tiny_channels, feedforward_channels=2 * tiny_channels)
tiny_head = dict(
    in_channels=[16, 32, 64, 128],
    feat_channels=tiny_channels,
    out_channels=tiny_channels,
    pixel_decoder=dict(
        encoder=dict(
            num_layers=1,
            layer_cfg=dict(self_attn_cfg=tiny_attn, ffn_cfg=tiny_ffn)),
        positional_encoding=dict(num_feats=tiny_channels // 2)),
    positional_encoding=dict(num_feats=tiny_channels // 2),
    transformer_decoder=dict(
        layer_cfg=dict(self_attn_cfg=tiny_attn, cross_attn_cfg=tiny_attn,
                       ffn_cfg=tiny_ffn)))
model = dict(
    detector=dict(
        backbone=dict(
            embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2),
            drop_path_rate=0., test_support=dict(num_support=3)),
        panoptic_head=tiny_head, train_cfg=dict(num_points=256)))
train_pipeline = _base_.train_pipeline
train_pipeline[1]['transforms'][2]['scale'] = (64, 64)
test_pipeline = _base_.test_pipeline
test_pipeline[1]['transforms'][1]['scale'] = (64, 64)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=3, val_interval=4)
default_hooks = dict(
    checkpoint=dict(interval=3), logger=dict(interval=1))
test_evaluator = [
    dict(type='YouTubeVISMetricNp2'),
    dict(type='YouTubeVISMetricNp2', format_only=True,
         outfile_prefix='./preds')
]
