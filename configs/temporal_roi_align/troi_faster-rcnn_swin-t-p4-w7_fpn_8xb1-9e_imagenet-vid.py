# Temporal RoI Align on STPN's Swin-T recipe (no released counterpart): the
# SELSA Swin-T config with a TemporalRoIAlign extractor (top-2 most similar
# points per cell and reference frame, 4 temporal attention blocks; with
# FPN the similarity search runs on the reference frames' coarsest RoI
# level, P5 at stride 32) and 3 shared FCs, each with its SelsaAggregator.
_base_ = [
    '../selsa/selsa_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py'
]
model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            type='TemporalRoIAlign',
            num_most_similar_points=2,
            num_temporal_attention_blocks=4),
        bbox_head=dict(num_shared_fcs=3)))
