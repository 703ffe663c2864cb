"""A tiny GOT-10k tree (published layout) written to a temporary folder."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import mmcv
import numpy as np


def box_image(box_xywh: Sequence[float], size=(48, 64),
              value: int = 200) -> np.ndarray:
    """(h, w) BGR frame, grey 50 with the box filled with ``value``."""
    h, w = size
    img = np.full((h, w, 3), 50, np.uint8)
    x, y, bw, bh = (int(round(v)) for v in box_xywh)
    img[max(y, 0):max(y + bh, 0), max(x, 0):max(x + bw, 0)] = value
    return img


def write_sequence(seq_dir: str,
                   boxes: List[Sequence[float]],
                   absence: Optional[List[int]] = None,
                   cover: Optional[List[int]] = None,
                   cut: Optional[List[int]] = None,
                   resolution: Optional[Sequence[int]] = (64, 48),
                   num_images: Optional[int] = None,
                   write_images: bool = True) -> None:
    """Write one sequence folder.

    Args:
        seq_dir (str): The folder.
        boxes (list): x, y, w, h lines of groundtruth.txt.
        absence, cover, cut (list, optional): Label files (None: not
            written).
        resolution (Sequence[int], optional): (w, h) for meta_info.ini;
            None: no meta_info.ini.
        num_images (int, optional): JPEGs to write (default: one per box).
        write_images (bool): Write the JPEGs at all.
    """
    os.makedirs(seq_dir, exist_ok=True)
    with open(osp.join(seq_dir, 'groundtruth.txt'), 'w') as f:
        f.write('\n'.join(','.join(f'{v:.4f}' for v in b)
                          for b in boxes) + '\n')
    for name, values in (('absence', absence), ('cover', cover),
                         ('cut_by_image', cut)):
        if values is not None:
            with open(osp.join(seq_dir, f'{name}.label'), 'w') as f:
                f.write('\n'.join(str(v) for v in values) + '\n')
    if resolution is not None:
        with open(osp.join(seq_dir, 'meta_info.ini'), 'w') as f:
            f.write('[METAINFO]\nurl: https://example.org/x\n'
                    'object_class: toy\n'
                    f'resolution: ({resolution[0]}, {resolution[1]})\n')
    if write_images:
        size = (resolution[1], resolution[0]) if resolution else (48, 64)
        n = len(boxes) if num_images is None else num_images
        for i in range(n):
            box = boxes[min(i, len(boxes) - 1)]
            mmcv.imwrite(
                box_image(box, size), osp.join(seq_dir, '%08d.jpg' % (i + 1)))


def write_split(root: str, split: str, seqs: Dict[str, dict],
                extra_names: Sequence[str] = ()) -> str:
    """Write ``root/split/list.txt`` and the sequences; returns list.txt.

    Args:
        root (str): Dataset root.
        split (str): 'train' / 'val' / 'test'.
        seqs (dict): name -> keyword arguments of :func:`write_sequence`.
        extra_names (Sequence[str]): Names listed without a folder.
    """
    split_dir = osp.join(root, split)
    os.makedirs(split_dir, exist_ok=True)
    for name, kw in seqs.items():
        write_sequence(osp.join(split_dir, name), **kw)
    with open(osp.join(split_dir, 'list.txt'), 'w') as f:
        f.write('\n'.join(list(seqs) + list(extra_names)) + '\n')
    return osp.join(split_dir, 'list.txt')


def moving_boxes(num: int, start=(5, 6, 12, 10), step=(2, 1)) -> List[list]:
    """Boxes moving by ``step`` per frame."""
    x, y, w, h = start
    return [[x + step[0] * i, y + step[1] * i, w, h] for i in range(num)]


def full_seq(num: int, invisible: Sequence[int] = (), **kw) -> dict:
    """Keyword arguments of a fully annotated (train / val) sequence."""
    absence = [1 if i in invisible else 0 for i in range(num)]
    cover = [0 if i in invisible else 8 - (i % 3) for i in range(num)]
    cut = [0] * num
    out = dict(
        boxes=moving_boxes(num), absence=absence, cover=cover, cut=cut)
    out.update(kw)
    return out
