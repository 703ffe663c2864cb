"""Tiny CocoVID datasets written to a temporary folder."""
import json
import os.path as osp
from typing import Dict, Optional, Sequence

import mmcv
import numpy as np

from mmstpn.datasets import IMAGENET_VID_CLASSES

CATEGORIES = [
    dict(id=i, name=name) for i, name in enumerate(IMAGENET_VID_CLASSES, 1)
]


def frame_image(value: int, size=(64, 64)) -> np.ndarray:
    """A BGR frame: left half ``value``, right half ``value + 100``; the
    channels differ (B, G, R = v, v+1, v+2) so colour order is visible."""
    h, w = size
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :w // 2] = value
    img[:, w // 2:] = value + 100
    img += np.arange(3, dtype=np.uint8)
    return img


def write_cocovid(root: str,
                  videos: Dict[int, int],
                  det_images: int = 0,
                  size=(64, 64),
                  train_frames: Optional[Dict[int, Sequence[int]]] = None,
                  frame_id_order: str = 'sorted',
                  sizes: Optional[Dict[tuple, tuple]] = None,
                  write_images: bool = True,
                  name: str = 'ann.json') -> str:
    """Write JPEGs under ``root/img`` and a CocoVID json; return its path.

    Args:
        root (str): Folder.
        videos (dict): video_id -> number of frames.
        det_images (int): Still images (no video_id) to add.
        size (tuple): (h, w) of every frame.
        train_frames (dict, optional): video_id -> frame ids with
            ``is_vid_train_frame`` true (others false).
        frame_id_order (str): 'sorted' or 'reversed' order of the images
            in the json.
        sizes (dict, optional): (video_id, frame_id) -> (h, w) override.
        write_images (bool): Write the JPEG files.
        name (str): json file name.
    """
    data = dict(
        videos=[dict(id=v, name=f'vid{v}') for v in videos],
        images=[],
        annotations=[],
        categories=CATEGORIES)
    for vid, num in videos.items():
        order = range(num) if frame_id_order == 'sorted' else \
            reversed(range(num))
        for fid in order:
            h, w = (sizes or {}).get((vid, fid), size)
            img = dict(
                id=len(data['images']) + 1,
                file_name=f'vid{vid}/{fid:06d}.jpg',
                height=h,
                width=w,
                frame_id=fid,
                video_id=vid)
            if train_frames is not None:
                img['is_vid_train_frame'] = fid in train_frames.get(vid, ())
            data['images'].append(img)
            if write_images:
                mmcv.imwrite(
                    frame_image(10 * fid % 120, (h, w)),
                    osp.join(root, 'img', img['file_name']))
            data['annotations'].append(
                dict(
                    id=len(data['annotations']) + 1,
                    image_id=img['id'],
                    video_id=vid,
                    category_id=1 + vid % 30,
                    instance_id=vid * 10,
                    bbox=[4, 4, 20 + fid, 24],
                    area=(20 + fid) * 24,
                    iscrowd=False,
                    occluded=fid % 2 == 1,
                    generated=False))
    for k in range(det_images):
        img = dict(
            id=len(data['images']) + 1,
            file_name=f'det/{k}.jpg',
            height=size[0],
            width=size[1])
        data['images'].append(img)
        if write_images:
            mmcv.imwrite(
                frame_image(5, size), osp.join(root, 'img',
                                               img['file_name']))
        data['annotations'].append(
            dict(
                id=len(data['annotations']) + 1,
                image_id=img['id'],
                category_id=2,
                bbox=[2, 2, 30, 30],
                area=900,
                iscrowd=False))
    path = osp.join(root, name)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path
