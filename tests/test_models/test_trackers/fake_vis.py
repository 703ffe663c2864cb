"""A tiny converted YouTube-VIS set on disk: videos of 48x48 frames whose
top 4 rows encode the video and the frame (value 20 + 10*position, + 100
for video 2), one moving square object per video with its RLE mask."""
import json
import os
import os.path as osp

import mmcv
import numpy as np
import pycocotools.mask as mask_util

LENGTHS = (6, 5, 1)  # the tracker tests' set: video 3 has one frame

SIZE = 48


def marker(video: int, position: int) -> int:
    return 20 + 10 * position + (100 if video == 2 else 0)


def make_vis(root: str, lengths=(6, 5, 1), mot: bool = False) -> str:
    """Write frames under ``root/train/JPEGImages`` (PNG, lossless) and a
    CocoVID json; return the json path."""
    videos, images, anns = [], [], []
    for v, length in enumerate(lengths, start=1):
        videos.append(dict(id=v, name=f'vid{v}', width=SIZE, height=SIZE))
        for t in range(length):
            img = np.full((SIZE, SIZE, 3), 60, np.uint8)
            img[:4] = marker(v, t)
            x, y, s = 8 + 3 * t, 12 + v, 14
            img[y:y + s, x:x + s] = 220 if v % 2 else 140
            name = f'vid{v}/{t:05d}.png'
            path = osp.join(root, 'train', 'JPEGImages', name)
            os.makedirs(osp.dirname(path), exist_ok=True)
            mmcv.imwrite(img, path)
            img_id = len(images) + 1
            images.append(dict(id=img_id, video_id=v, frame_id=t,
                               file_name=name, width=SIZE, height=SIZE))
            m = np.zeros((SIZE, SIZE), np.uint8)
            m[y:y + s, x:x + s] = 1
            rle = mask_util.encode(np.asfortranarray(m))
            rle['counts'] = rle['counts'].decode()
            ann = dict(id=len(anns) + 1, video_id=v, image_id=img_id,
                       category_id=1 + (v + 1) % 2, instance_id=v,
                       bbox=[x, y, s, s], area=s * s, iscrowd=0)
            if mot:
                ann.update(category_id=1, mot_conf=1.0, visibility=1.0)
            else:
                ann['segmentation'] = rle
            anns.append(ann)
    cats = [dict(id=1, name='pedestrian')] if mot else [
        dict(id=1, name='person'), dict(id=2, name='giant_panda')]
    path = osp.join(root, 'ann.json')
    with open(path, 'w') as f:
        json.dump(dict(videos=videos, images=images, annotations=anns,
                       categories=cats), f)
    return path


def decode_marker(frame, mean=(123.675, 116.28, 103.53),
                  std=(58.395, 57.12, 57.375)) -> int:
    """The marker value of a preprocessed (C, H, W) frame."""
    mean = frame.new_tensor(list(mean)).view(-1, 1, 1)
    std = frame.new_tensor(list(std)).view(-1, 1, 1)
    raw = frame[:, :2, :SIZE] * std + mean
    return int(round(raw.mean().item()))
