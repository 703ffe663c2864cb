"""YouTube-VIS 2019 / 2021 -> CocoVID json with mmdet's converter, checked
first, plus an optional held-out split of train for local AP.

mmdet's ``tools/dataset_converters/youtubevis2coco.py`` (shipped inside the
mmdet package) does the conversion; this wrapper

1. checks each official json with
   :func:`mmstpn.datasets.check_youtube_vis_json` (per-frame lists of the
   video's length, RLE sizes, videos with frames; errors name the file,
   video, annotation, frame and field),
2. calls mmdet's ``convert_vis`` for each split present (mmdet's own
   ``main`` needs all of train / valid / test),
3. with ``--holdout-videos N`` or ``--holdout-fraction F``, splits the
   converted train json by video into ``youtube_vis_<v>_train_sub.json``
   and ``youtube_vis_<v>_holdout.json`` (videos drawn with
   ``random.Random(seed)`` from the sorted video ids: the same files for the
   same input and seed). The val / test annotations of YouTube-VIS are not
   public, so train on ``train_sub`` and measure AP on ``holdout`` with
   ``YouTubeVISMetricNp2`` (images of both are under ``train/JPEGImages``).

Layout read (as mmdet's converter): 2019: ``<input>/{train,valid,test}.json``;
2021: ``<input>/{train,valid,test}/instances.json``. Output:
``<output>/youtube_vis_<version>_<split>.json``.

Example::

    python tools/dataset_converters/youtubevis2coco.py \\
        -i data/youtube_vis_2019/annotations \\
        -o data/youtube_vis_2019/annotations --version 2019 \\
        --holdout-videos 200 --seed 0
"""
import argparse
import os.path as osp
import random
from typing import List, Optional, Sequence, Tuple

import mmengine

from mmstpn.datasets import check_youtube_vis_json
from mmstpn.datasets.converters.mmdet_converters import load_mmdet_converter

SPLITS = ('train', 'valid', 'test')


def raw_json_path(ann_dir: str, version: str, split: str) -> str:
    """Where mmdet's converter reads ``split`` of ``version``."""
    if version == '2019':
        return osp.join(ann_dir, f'{split}.json')
    return osp.join(ann_dir, split, 'instances.json')


def out_json_path(out_dir: str, version: str, split: str) -> str:
    """Where mmdet's converter writes ``split`` (and the split names
    ``train_sub`` / ``holdout`` of this wrapper)."""
    return osp.join(out_dir, f'youtube_vis_{version}_{split}.json')


def choose_holdout(video_ids: Sequence[int],
                   num: Optional[int] = None,
                   fraction: Optional[float] = None,
                   seed: int = 0) -> List[int]:
    """Video ids held out of train, drawn reproducibly.

    Args:
        video_ids (Sequence[int]): All train video ids.
        num (int, optional): How many to hold out.
        fraction (float, optional): Or which fraction (rounded, >= 1).
        seed (int): Seed of ``random.Random``. Defaults to 0.

    Returns:
        list[int]: The held-out ids, sorted.
    """
    ids = sorted(video_ids)
    if (num is None) == (fraction is None):
        raise ValueError('give exactly one of --holdout-videos and '
                         '--holdout-fraction')
    if fraction is not None:
        if not 0 < fraction < 1:
            raise ValueError(
                f'--holdout-fraction must be in (0, 1), got {fraction}')
        num = max(1, round(fraction * len(ids)))
    if not 0 < num < len(ids):
        raise ValueError(f'--holdout-videos must be in [1, {len(ids) - 1}] '
                         f'for {len(ids)} train videos, got {num}')
    return sorted(random.Random(seed).sample(ids, num))


def split_cocovid(data: dict, holdout_ids: Sequence[int]) -> Tuple[dict,
                                                                    dict]:
    """Split a CocoVID dict by video into (kept, held out); ids unchanged.

    Args:
        data (dict): A converted json (videos / images / annotations /
            categories).
        holdout_ids (Sequence[int]): Video ids of the second part.

    Returns:
        tuple[dict, dict]: Two CocoVID dicts with the same categories.
    """
    held = set(holdout_ids)
    parts = []
    for keep in (lambda v: v not in held, lambda v: v in held):
        videos = [v for v in data['videos'] if keep(v['id'])]
        images = [i for i in data['images'] if keep(i['video_id'])]
        anns = [a for a in data.get('annotations', [])
                if keep(a['video_id'])]
        part = {k: v for k, v in data.items()
                if k not in ('videos', 'images', 'annotations')}
        part.update(videos=videos, images=images, annotations=anns)
        parts.append(part)
    return parts[0], parts[1]


def check_categories(src: str, data: dict) -> None:
    """What mmdet's converter assumes of a train json: category ids are
    1..N in file order and every category has objects (it ends with a
    per-class count indexed that way, a bare KeyError otherwise)."""
    ids = [c['id'] for c in data['categories']]
    if ids != list(range(1, len(ids) + 1)):
        raise ValueError(
            f'{src}: "categories" ids are {ids}; mmdet\'s youtubevis2coco '
            'converter needs 1..N in order')
    used = {a['category_id'] for a in data.get('annotations') or []}
    unused = [c['name'] for c in data['categories'] if c['id'] not in used]
    if unused:
        raise ValueError(
            f'{src}: categories {unused} have no annotation; mmdet\'s '
            'youtubevis2coco converter needs every category of a train '
            'json to have objects')


def convert(ann_dir: str,
            out_dir: str,
            version: str,
            splits: Optional[Sequence[str]] = None,
            holdout_videos: Optional[int] = None,
            holdout_fraction: Optional[float] = None,
            seed: int = 0) -> List[str]:
    """Check, convert (mmdet) and optionally split; returns written files.

    Args:
        ann_dir (str): Official annotation root (see the module docstring).
        out_dir (str): Output folder.
        version (str): '2019' or '2021'.
        splits (Sequence[str], optional): Splits to convert; default: those
            whose json exists.
        holdout_videos (int, optional): Videos of train to hold out.
        holdout_fraction (float, optional): Or the fraction to hold out.
        seed (int): Seed of the held-out draw. Defaults to 0.

    Returns:
        list[str]: The json files written.
    """
    if version not in ('2019', '2021'):
        raise ValueError(f'--version must be 2019 or 2021, got {version!r}')
    if splits is None:
        splits = [s for s in SPLITS
                  if osp.isfile(raw_json_path(ann_dir, version, s))]
        if not splits:
            raise FileNotFoundError(
                f'{ann_dir}: none of ' + ', '.join(
                    raw_json_path(ann_dir, version, s) for s in SPLITS))
    holdout = holdout_videos is not None or holdout_fraction is not None
    if holdout and 'train' not in splits:
        raise ValueError('a held-out split needs the train split')
    convert_vis = load_mmdet_converter('youtubevis2coco.py')['convert_vis']
    written = []
    for split in splits:
        src = raw_json_path(ann_dir, version, split)
        if not osp.isfile(src):
            raise FileNotFoundError(f'{src}: no such file ({split} split '
                                    f'of YouTube-VIS {version})')
        data = check_youtube_vis_json(src)
        if split == 'train':
            check_categories(src, data)
        del data
        convert_vis(ann_dir, out_dir, version, split)
        written.append(out_json_path(out_dir, version, split))
    if holdout:
        train = mmengine.load(out_json_path(out_dir, version, 'train'))
        ids = choose_holdout([v['id'] for v in train['videos']],
                             holdout_videos, holdout_fraction, seed)
        for name, part in zip(('train_sub', 'holdout'),
                              split_cocovid(train, ids)):
            path = out_json_path(out_dir, version, name)
            mmengine.dump(part, path)
            written.append(path)
            print(f'{path}: {len(part["videos"])} videos, '
                  f'{len(part["images"])} images, '
                  f'{len(part["annotations"])} annotations')
    return written


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='YouTube-VIS to CocoVID json (mmdet converter, checked)'
        ', with an optional held-out split of train')
    parser.add_argument('-i', '--input', required=True,
                        help='root of the official YouTube-VIS annotations')
    parser.add_argument('-o', '--output', required=True,
                        help='folder of the converted json files')
    parser.add_argument('--version', required=True, choices=['2019', '2021'])
    parser.add_argument('--splits', nargs='+', choices=SPLITS,
                        help='splits to convert (default: those present)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--holdout-videos', type=int,
                       help='hold out this many train videos')
    group.add_argument('--holdout-fraction', type=float,
                       help='hold out this fraction of the train videos')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the held-out draw (default 0)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    convert(args.input, args.output, args.version, args.splits,
            args.holdout_videos, args.holdout_fraction, args.seed)


if __name__ == '__main__':
    main()
