# A tiny SELSA (the tiny STPN Faster R-CNN's backbone without prompts, a
# SelsaRoIHead with 2 aggregating shared FCs) for testing
# tools/analysis_tools/benchmark.py on CPU. Only the model is used.
_base_ = './tiny_stpn_faster_rcnn.py'

model = dict(
    type='SELSA',
    backbone=dict(num_prompts=0, predictor=None),
    roi_head=dict(
        type='SelsaRoIHead',
        bbox_head=dict(
            type='SelsaBBoxHead',
            num_shared_fcs=2,
            aggregator=dict(
                type='SelsaAggregator', in_channels=64,
                num_attention_blocks=4))))
