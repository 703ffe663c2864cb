# The tiny SELSA with a TemporalRoIAlign extractor and 3 shared FCs (for
# testing tools/analysis_tools/benchmark.py on CPU).
_base_ = './tiny_selsa_faster_rcnn.py'

model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            type='TemporalRoIAlign',
            num_most_similar_points=2,
            num_temporal_attention_blocks=4),
        bbox_head=dict(num_shared_fcs=3)))
