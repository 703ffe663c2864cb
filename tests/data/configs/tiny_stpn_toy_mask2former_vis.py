# The toy Mask2FormerVideo config with a tiny STPNSwin, 64x64 frames and 3
# iterations, for the 2-process test (tests/test_tools/test_dist_vis.py)
# and, through tiny_stpn_mask2former_vis.py, the model tests.
_base_ = ['../../../configs/mask2former_vis/'
          'stpn-mask2former_swin-toy-p4-w4_1xb2-1000i_toy-vis.py',
          './_base_/tiny_mask2former_head.py']

# the tiny head (./_base_/tiny_mask2former_head.py)
tiny_head = dict(_base_.tiny_head, train_cfg=dict(num_points=256))
model = dict(
    backbone=dict(
        embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2),
        drop_path_rate=0., test_support=dict(num_support=3)),
    track_head=tiny_head)
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
# the metric, and the server json of every predicted track (compared
# between runs; set test_evaluator.1.outfile_prefix per run)
test_evaluator = [
    dict(type='YouTubeVISMetricNp2'),
    dict(type='YouTubeVISMetricNp2', format_only=True,
         outfile_prefix='./preds')
]
