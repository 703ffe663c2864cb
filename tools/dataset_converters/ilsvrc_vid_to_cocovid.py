"""Convert ILSVRC2015 VID annotations to CocoVID json (MMTracking format).

Reads ``<root>/Annotations/VID/<split>/<video>/<frame>.xml`` for the videos
listed in ``<root>/ImageSets/VID`` (``train_*.txt`` for train, ``<split>.txt``
otherwise; without them every video folder is taken) and writes
``<out_dir>/imagenet_vid_<split>.json`` with the 30 VID categories (ids
1..30), ``file_name`` relative to ``Data/VID``
(``train/<video>/<frame>.JPEG``),
``instance_id`` from ``trackid`` (unique over the file, from 1) and the
``occluded`` / ``generated`` flags. With ``--train-frame-list`` (FGFA's
``VID_train_15frames.txt``: ``train/<video> <i> <frame> <num_frames>`` per
line) each image gets ``is_vid_train_frame``.

Example::

    python tools/dataset_converters/ilsvrc_vid_to_cocovid.py \\
        -i data/ILSVRC -o data/ILSVRC/annotations --splits train val \\
        --train-frame-list data/ILSVRC/Lists/VID_train_15frames.txt
"""
import argparse
import glob
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Set

import mmengine

from mmstpn.datasets.converters.ilsvrc_utils import (WNID_TO_CAT_ID,
                                                     make_annotation,
                                                     parse_ilsvrc_xml,
                                                     read_list,
                                                     vid_categories)


def list_videos(root: str, split: str) -> List[str]:
    """Video folders of ``split`` (relative to Annotations/VID/<split>).

    Args:
        root (str): ILSVRC root.
        split (str): 'train', 'val' or 'test'.

    Returns:
        list[str]: Sorted, unique video paths.
    """
    sets = osp.join(root, 'ImageSets', 'VID')
    if split == 'train':
        files = sorted(glob.glob(osp.join(sets, 'train_*.txt')))
        videos = [line[0] for f in files for line in read_list(f)]
    elif osp.isfile(osp.join(sets, f'{split}.txt')):
        videos = [
            osp.dirname(line[0])
            for line in read_list(osp.join(sets, f'{split}.txt'))
        ]
    else:
        videos = []
    if not videos:  # no image sets: every folder that holds annotations
        ann_dir = osp.join(root, 'Annotations', 'VID', split)
        videos = [
            osp.relpath(osp.dirname(p), ann_dir) for p in glob.glob(
                osp.join(ann_dir, '**', '*.xml'), recursive=True)
        ]
    if not videos:
        raise FileNotFoundError(
            f'no {split} videos under {root} (ImageSets/VID or '
            f'Annotations/VID/{split})')
    return sorted(set(videos))


def parse_train_frame_list(path: str,
                           one_based: bool = False) -> Dict[str, Set[int]]:
    """FGFA's ``VID_train_15frames.txt`` -> {video: frame ids}.

    Args:
        path (str): The list file.
        one_based (bool): The third field counts from 1 (MMTracking's
            reading, which subtracts 1); default: it is the frame's number
            in its file name, as FGFA uses it.

    Returns:
        dict[str, set[int]]: Video path (without 'train/') -> train frames.
    """
    frames: Dict[str, Set[int]] = {}
    for line in read_list(path):
        if len(line) < 3:
            raise ValueError(f'{path}: expected "<video> <i> <frame> <n>" '
                             f'lines, got {" ".join(line)!r}')
        video = line[0][len('train/'):] if line[0].startswith('train/') \
            else line[0]
        frames.setdefault(video, set()).add(int(line[2]) - int(one_based))
    return frames


def convert_vid(root: str,
                split: str,
                train_frame_list: Optional[str] = None,
                list_one_based: bool = False) -> dict:
    """Build the CocoVID dict of one split.

    Args:
        root (str): ILSVRC root (holding Annotations/, ImageSets/).
        split (str): 'train' or 'val'.
        train_frame_list (str, optional): FGFA's 15-frames list; sets
            ``is_vid_train_frame``.
        list_one_based (bool): See :func:`parse_train_frame_list`.

    Returns:
        dict: ``categories``, ``videos``, ``images``, ``annotations``.
    """
    train_frames = None if train_frame_list is None else \
        parse_train_frame_list(train_frame_list, list_one_based)
    out: dict = dict(
        categories=vid_categories(), videos=[], images=[], annotations=[])
    ann_dir = osp.join(root, 'Annotations', 'VID', split)
    next_instance = 1
    for video in list_videos(root, split):
        video_dir = osp.join(ann_dir, video)
        xmls = sorted(glob.glob(osp.join(video_dir, '*.xml')))
        if not xmls:
            raise FileNotFoundError(f'no annotation files in {video_dir}')
        video_id = len(out['videos']) + 1
        name = f'{split}/{video}'
        video_info = dict(id=video_id, name=name)
        if train_frames is not None:
            video_info['vid_train_frames'] = sorted(
                train_frames.get(video, ()))
        out['videos'].append(video_info)
        tracks: Dict[str, int] = {}
        for xml in xmls:
            stem = osp.splitext(osp.basename(xml))[0]
            if not stem.isdigit():
                raise ValueError(f'{xml}: frame file names must be numbers')
            info = parse_ilsvrc_xml(xml)
            image = dict(
                id=len(out['images']) + 1,
                file_name=f'{name}/{stem}.JPEG',
                height=info['height'],
                width=info['width'],
                frame_id=int(stem),
                video_id=video_id)
            if train_frames is not None:
                image['is_vid_train_frame'] = \
                    int(stem) in train_frames.get(video, ())
            out['images'].append(image)
            for obj in info['objects']:
                if obj['wnid'] not in WNID_TO_CAT_ID:
                    continue
                track = obj.get('trackid', f'__{len(tracks)}')
                if track not in tracks:
                    tracks[track], next_instance = \
                        next_instance, next_instance + 1
                out['annotations'].append(
                    make_annotation(
                        obj,
                        len(out['annotations']) + 1, image['id'],
                        dict(video_id=video_id, instance_id=tracks[track])))
    return out


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='ILSVRC2015 VID annotations -> CocoVID json')
    parser.add_argument('-i', '--input', required=True, help='ILSVRC root')
    parser.add_argument(
        '-o', '--output', required=True, help='output directory')
    parser.add_argument(
        '--splits', nargs='+', default=['train', 'val'], help='splits')
    parser.add_argument(
        '--train-frame-list',
        help='FGFA VID_train_15frames.txt (sets is_vid_train_frame)')
    parser.add_argument(
        '--list-one-based',
        action='store_true',
        help='the list counts frames from 1 (MMTracking\'s reading)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    for split in args.splits:
        frame_list = args.train_frame_list if split == 'train' else None
        coco = convert_vid(args.input, split, frame_list,
                           args.list_one_based)
        out_file = osp.join(args.output, f'imagenet_vid_{split}.json')
        mmengine.dump(coco, out_file)
        print(f'{split}: {len(coco["videos"])} videos, '
              f'{len(coco["images"])} images, '
              f'{len(coco["annotations"])} objects -> {out_file}')


if __name__ == '__main__':
    main()
