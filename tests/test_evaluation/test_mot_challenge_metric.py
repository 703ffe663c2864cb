"""mmdet's MOTChallengeMetric with trackeval (PyPI) under numpy 2, on a
hand-made sequence with values known by hand."""
import math

import pytest
import torch
import trackeval  # noqa: F401  (requirements/runtime.txt; fail if absent)
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

T = 4
# two pedestrians far apart, one box each per frame (x, y, w, h)
TRACKS = {1: [(10 + t, 10, 20, 40) for t in range(T)],
          2: [(100, 20 + t, 20, 40) for t in range(T)]}


def video(pred_ids):
    """pred_ids[t][gt_id]: the predicted track id of gt ``gt_id`` at t."""
    frames = []
    for t in range(T):
        instances = [
            dict(bbox=[x, y, x + w, y + h], instance_id=gt_id, mot_conf=1.,
                 category_id=1, visibility=1., bbox_label=0, ignore_flag=0)
            for gt_id, boxes in TRACKS.items()
            for x, y, w, h in [boxes[t]]
        ]
        ds = DetDataSample(metainfo=dict(
            img_path=f'data/MOT17/train/SEQ-01/img1/{t + 1:06d}.jpg',
            frame_id=t, ori_video_length=T, video_length=T,
            instances=instances, img_id=t))
        pred = InstanceData()
        pred.bboxes = torch.tensor([i['bbox'] for i in instances],
                                   dtype=torch.float)
        pred.scores = torch.ones(len(instances))
        pred.labels = torch.zeros(len(instances), dtype=torch.long)
        pred.instances_id = torch.tensor(
            [pred_ids[t][i['instance_id']] for i in instances])
        ds.pred_track_instances = pred
        frames.append(ds)
    return TrackDataSample(video_data_samples=frames)


def evaluate(pred_ids):
    evaluator = Evaluator(dict(type='MOTChallengeMetric',
                               metric=['HOTA', 'CLEAR', 'Identity']))
    evaluator.dataset_meta = dict(classes=('pedestrian', ))
    evaluator.process([video(pred_ids)], {})
    res = evaluator.evaluate(1)
    return {k.split('/')[-1]: v for k, v in res.items()}


def test_perfect_tracks_score_100():
    res = evaluate([{1: 7, 2: 9}] * T)
    assert res['HOTA'] == pytest.approx(1.0)
    assert res['MOTA'] == pytest.approx(1.0)
    assert res['IDF1'] == pytest.approx(1.0)
    assert res['IDSW'] == 0 and res['FP'] == 0 and res['FN'] == 0


def test_identity_swap_known_values():
    # the two predicted ids swap after frame 2 (of 4)
    res = evaluate([{1: 7, 2: 9}] * 2 + [{1: 9, 2: 7}] * 2)
    # by hand: 8 gt boxes, all detected exactly, 2 id switches
    assert res['IDSW'] == 2
    assert res['MOTA'] == pytest.approx(1 - 2 / 8)
    # best one-to-one id map keeps 2 of 4 frames per track: IDTP = 4 of 8
    assert res['IDF1'] == pytest.approx(2 * 4 / (8 + 8))
    # DetA = 1; every TP has association IoU 2 / (2 + 2 + 2) = 1/3
    assert res['DetA'] == pytest.approx(1.0)
    assert res['AssA'] == pytest.approx(1 / 3)
    assert res['HOTA'] == pytest.approx(math.sqrt(1 / 3))
