"""Tiny tracker configs and synthetic SOT inputs for the tests."""
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.structures import InstanceData

TINY_TRACKER_VIT = dict(
    type='STPNOneStreamViT',
    img_size=64,  # search table 4 x 4
    template_size=32,  # template table 2 x 2
    embed_dims=32,
    depth=2,
    num_heads=2,
    drop_path_rate=0.,
    num_prompts=2,
    test_support=dict(mode='online', num_support=2, stride=2),
    init_cfg=None)


def tiny_tracker(num_prompts=2, tracker='OneStreamTracker', model=None,
                 **backbone):
    cfg = dict(
        type=tracker,
        backbone=dict(TINY_TRACKER_VIT, num_prompts=num_prompts, **backbone),
        head=dict(type='TrackCenterHead', feat_channels=16, num_convs=2),
        data_preprocessor=dict(
            type='SOTDataPreprocessor', mean=[0.] * 3, std=[1.] * 3),
        template_size=32,
        search_size=64,
        **(model or {}))
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def train_samples(boxes):
    """TrackDataSamples [template, search, support] with the search box."""
    out = []
    for box in boxes:
        frames = []
        for role in ('template', 'search', 'support'):
            ds = DetDataSample(metainfo=dict(frame_role=role))
            ds.gt_instances = InstanceData(
                bboxes=torch.tensor([box], dtype=torch.float32),
                labels=torch.zeros(1, dtype=torch.long))
            frames.append(ds)
        track = TrackDataSample()
        track.video_data_samples = frames
        out.append(track)
    return out


def square_video(num_frames=6, height=96, width=128, side=16, step=6):
    """A bright square moving right on a dark background: frames (F, 3, H,
    W) and the true boxes x1, y1, x2, y2."""
    frames = torch.zeros(num_frames, 3, height, width)
    boxes = []
    for t in range(num_frames):
        x, y = 20 + step * t, 30 + 2 * t
        frames[t, :, y:y + side, x:x + side] = 1.
        boxes.append([x, y, x + side, y + side])
    return frames, boxes


def frame_sample(video, frame_id, box=None, img_shape=None):
    meta = dict(video_name=video, frame_id=frame_id)
    if img_shape is not None:
        meta['img_shape'] = img_shape
    if box is not None:
        meta['bbox'] = list(box)
    track = TrackDataSample()
    track.video_data_samples = [DetDataSample(metainfo=meta)]
    return track
