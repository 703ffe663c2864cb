# Temporal RoI Align R-50-DC5 (MMTracking zoo: 79.8 AP50 on ImageNet VID
# val): SELSA with a TemporalRoIAlign extractor (top-2 most similar points
# per cell and reference frame, 4 temporal attention blocks) and 3 shared
# FCs, each with its SelsaAggregator.
_base_ = [
    '../selsa/selsa_faster-rcnn_r50-dc5_chmapper_8xb1-7e_imagenet-vid.py'
]
model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            type='TemporalRoIAlign',
            num_most_similar_points=2,
            num_temporal_attention_blocks=4),
        bbox_head=dict(num_shared_fcs=3)))
