# The tiny Mask2Former head widths of the tiny toy VIS test configs (Mask2-
# FormerVideo's track head, MinVIS's panoptic head): a smaller head than the
# toy's, 32 channels, 1 pixel-decoder layer. Only new names (tiny_*), so
# this file sits next to the toy config a tiny config inherits.
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
