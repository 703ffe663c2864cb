"""Generate the deteriorated toy VIDEO INSTANCE SEGMENTATION set.

The frames, objects, classes (4 textures that only a clean frame shows),
identities and deteriorated frames are those of the toy VID generator
(``generate_split`` of ``deteriorated_vid``), called as it is; this tool
adds what VIS needs: every object's instance mask in every frame, the
alpha >= 0.5 region of the object as the generator draws it (read back
from its own ``_draw_object`` on two constant canvases, so no shape
formula is repeated here). Deteriorated frames keep the object's full
mask (an occluded object is still there).

Writes, per split: ``<split>.json`` (CocoVID, what mmdet's
``YouTubeVISDataset`` reads: images with ``video_id`` / ``frame_id`` /
``deteriorated``, annotations with ``instance_id`` and an RLE
``segmentation``) and ``<split>_youtube_vis.json`` (the official
YouTube-VIS layout: videos with ``file_names``, one annotation per instance
with per-frame ``segmentations`` / ``bboxes`` / ``areas``). Frames are JPEGs
under ``frames/<split>/``.

Example::

    python tools/misc/generate_toy_vis.py data/toy_vis --num-train-videos 240
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List

import numpy as np
import pycocotools.mask as mask_util


def vid_generator():
    """The toy VID generator module
    (:mod:`mmstpn.projects.toy_vid.generator`)."""
    from mmstpn.projects.toy_vid import generator
    return generator


def _encode(mask: np.ndarray) -> dict:
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def generate_split_with_masks(out_dir: str, split: str, num_videos: int,
                              **kwargs) -> dict:
    """``generate_split`` of the VID generator plus one RLE mask per
    annotation (see the module docstring)."""
    gen = vid_generator()
    masks: List[np.ndarray] = []
    draw = gen._draw_object

    def recording_draw(img, obj, t):
        box = draw(img, obj, t)
        h, w = img.shape[:2]
        low = np.zeros((h, w, 3), np.float32)
        high = np.full((h, w, 3), 1000., np.float32)
        draw(low, obj, t)
        draw(high, obj, t)
        # out = bg * (1 - alpha) + colour * alpha  =>  alpha from two bgs
        alpha = 1.0 - (high - low)[..., 0] / 1000.0
        masks.append(alpha >= 0.5)
        return box

    gen._draw_object = recording_draw
    try:
        data = gen.generate_split(out_dir, split, num_videos,
                                  write_images=True, **kwargs)
    finally:
        gen._draw_object = draw
    anns = data['annotations']
    if len(masks) != len(anns):
        raise RuntimeError(f'{split}: {len(masks)} drawn objects for '
                           f'{len(anns)} annotations')
    for ann, mask in zip(anns, masks):
        ann['segmentation'] = _encode(mask)
        ann['area'] = float(mask.sum())
    return data


def to_youtube_vis(data: dict) -> dict:
    """The official YouTube-VIS layout of a CocoVID dict."""
    frames: Dict[int, list] = {}
    for img in sorted(data['images'], key=lambda i: i['frame_id']):
        frames.setdefault(img['video_id'], []).append(img)
    videos = [
        dict(id=v['id'], width=frames[v['id']][0]['width'],
             height=frames[v['id']][0]['height'],
             length=len(frames[v['id']]),
             file_names=[f['file_name'] for f in frames[v['id']]])
        for v in data['videos']
    ]
    pos = {img['id']: img['frame_id'] for img in data['images']}
    length = {v['id']: v['length'] for v in videos}
    tracks: Dict[int, dict] = {}
    for ann in data['annotations']:
        track = tracks.setdefault(ann['instance_id'], dict(
            id=ann['instance_id'], video_id=ann['video_id'],
            category_id=ann['category_id'], iscrowd=0,
            segmentations=[None] * length[ann['video_id']],
            bboxes=[None] * length[ann['video_id']],
            areas=[None] * length[ann['video_id']]))
        t = pos[ann['image_id']]
        track['segmentations'][t] = ann['segmentation']
        track['bboxes'][t] = ann['bbox']
        track['areas'][t] = ann['area']
    return dict(videos=videos, annotations=list(tracks.values()),
                categories=data['categories'])


def generate_toy_vis(out_dir: str,
                     num_train_videos: int = 240,
                     num_val_videos: int = 24,
                     frames_per_video: int = 16,
                     img_size=(128, 128),
                     seed: int = 0,
                     **kwargs) -> Dict[str, str]:
    """Write the toy VIS set; return ``root``, ``train_ann``, ``val_ann``
    (CocoVID), ``train_ytvis`` / ``val_ytvis`` and ``img_prefix``.

    Args:
        out_dir (str): Output folder.
        num_train_videos / num_val_videos (int): Videos per split.
        frames_per_video (int): Frames per video.
        img_size (tuple): (H, W).
        seed (int): Seed (val uses the same seed; the VID generator's
            splits never share videos).
        **kwargs: Further ``generate_split`` arguments (num_classes,
            deteriorated_ratio, ...).
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(root=out_dir, img_prefix=osp.join(out_dir, 'frames'))
    for split, num in (('train', num_train_videos), ('val', num_val_videos)):
        data = generate_split_with_masks(
            out_dir, split, num, seed=seed,
            frames_per_video=frames_per_video, img_size=tuple(img_size),
            **kwargs)
        paths[f'{split}_ann'] = osp.join(out_dir, f'{split}.json')
        paths[f'{split}_ytvis'] = osp.join(out_dir,
                                           f'{split}_youtube_vis.json')
        with open(paths[f'{split}_ann'], 'w') as f:
            json.dump(data, f)
        with open(paths[f'{split}_ytvis'], 'w') as f:
            json.dump(to_youtube_vis(data), f)
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir')
    parser.add_argument('--num-train-videos', type=int, default=240)
    parser.add_argument('--num-val-videos', type=int, default=24)
    parser.add_argument('--frames-per-video', type=int, default=16)
    parser.add_argument('--img-size', type=int, nargs=2, default=[128, 128])
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    paths = generate_toy_vis(args.out_dir, args.num_train_videos,
                             args.num_val_videos, args.frames_per_video,
                             args.img_size, args.seed)
    print(json.dumps(paths, indent=1))


if __name__ == '__main__':
    main()
