"""Convert ILSVRC DET train annotations to CocoVID json (30 VID classes).

Reads the images listed in ``<root>/ImageSets/DET/train_*.txt`` (lines
``<path> 1``; ``-1`` lines are negatives and skipped) or in ``--img-list``
(e.g. FGFA's ``DET_train_30classes.txt``; a leading ``train/`` is allowed),
parses ``<root>/Annotations/DET/train/<path>.xml`` and keeps only objects of
the 30 ImageNet VID classes and only images with at least one of them
(``--keep-empty`` keeps the others). Images have no ``video_id``: mmstpn's
datasets load each as a one-frame video. ``file_name`` is relative to
``Data/DET`` (``train/<path>.JPEG``).

Example::

    python tools/dataset_converters/ilsvrc_det_to_cocovid.py \\
        -i data/ILSVRC -o data/ILSVRC/annotations/imagenet_det_30cls.json
"""
import argparse
import glob
import os
import os.path as osp
from typing import List, Optional, Sequence

import mmengine

from mmstpn.datasets.converters.ilsvrc_utils import (WNID_TO_CAT_ID,
                                                     make_annotation,
                                                     parse_ilsvrc_xml,
                                                     read_list,
                                                     vid_categories)


def list_det_images(root: str, img_list: Optional[str] = None) -> List[str]:
    """Image paths relative to ``Annotations/DET/train``, listed once.

    Args:
        root (str): ILSVRC root.
        img_list (str, optional): Explicit list file instead of ImageSets.

    Returns:
        list[str]: Paths without extension, in list order.
    """
    if img_list is not None:
        files = [img_list]
    else:
        files = sorted(
            glob.glob(osp.join(root, 'ImageSets', 'DET', 'train_*.txt')))
        if not files:
            raise FileNotFoundError(
                f'no ImageSets/DET/train_*.txt under {root}; pass --img-list')
    names = []
    for f in files:
        for line in read_list(f):
            if len(line) > 1 and line[1] == '-1':
                continue
            name = line[0]
            names.append(name[len('train/'):] if name.startswith('train/')
                         else name)
    return list(dict.fromkeys(names))


def convert_det(root: str,
                img_list: Optional[str] = None,
                keep_empty: bool = False) -> dict:
    """Build the CocoVID dict of ImageNet DET train.

    Args:
        root (str): ILSVRC root.
        img_list (str, optional): See :func:`list_det_images`.
        keep_empty (bool): Keep images without any VID-class object.

    Returns:
        dict: ``categories``, ``videos`` (empty), ``images``,
        ``annotations``.
    """
    out: dict = dict(
        categories=vid_categories(), videos=[], images=[], annotations=[])
    for name in list_det_images(root, img_list):
        info = parse_ilsvrc_xml(
            osp.join(root, 'Annotations', 'DET', 'train', f'{name}.xml'))
        objects = [o for o in info['objects'] if o['wnid'] in WNID_TO_CAT_ID]
        if not objects and not keep_empty:
            continue
        image = dict(
            id=len(out['images']) + 1,
            file_name=f'train/{name}.JPEG',
            height=info['height'],
            width=info['width'],
            frame_id=0)
        out['images'].append(image)
        for obj in objects:
            out['annotations'].append(
                make_annotation(obj,
                                len(out['annotations']) + 1, image['id']))
    return out


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='ILSVRC DET train annotations -> CocoVID json')
    parser.add_argument('-i', '--input', required=True, help='ILSVRC root')
    parser.add_argument(
        '-o', '--output', required=True, help='output json file')
    parser.add_argument('--img-list', help='list file instead of ImageSets')
    parser.add_argument(
        '--keep-empty',
        action='store_true',
        help='keep images without VID-class objects')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    coco = convert_det(args.input, args.img_list, args.keep_empty)
    os.makedirs(osp.dirname(osp.abspath(args.output)), exist_ok=True)
    mmengine.dump(coco, args.output)
    print(f'{len(coco["images"])} images, {len(coco["annotations"])} '
          f'objects -> {args.output}')


if __name__ == '__main__':
    main()
