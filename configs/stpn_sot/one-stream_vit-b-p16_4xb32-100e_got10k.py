# Baseline: the same one-stream tracker without prompts (num_prompts=0: no
# predictor, no support pass), trained on the same template / search pairs
# without support frames (SOTPairSample num_support=0).
_base_ = ['./stpn_one-stream_vit-b-p16_4xb32-100e_got10k.py']
model = dict(backbone=dict(num_prompts=0))
train_pipeline = [
    dict(type='SOTPairSample', frame_range=200, filter_template_img=True),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[dict(type='LoadImageFromFile')]),
    dict(
        type='SOTCropRegion',
        template_factor=2.0,
        template_size=128,
        search_factor=4.0,
        search_size=256,
        search_jitter=(0.25, 3.0)),
    dict(type='PackSOTInputs')
]
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
