# Temporal RoI Align on the toy set: the toy SELSA config with a
# TemporalRoIAlign extractor (top-2 most similar points, 4 temporal
# attention blocks) and 3 shared FCs.
_base_ = [
    '../selsa/selsa_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py'
]
model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            type='TemporalRoIAlign',
            num_most_similar_points=2,
            num_temporal_attention_blocks=4),
        bbox_head=dict(num_shared_fcs=3)))
