# Copyright (c) OpenMMLab. All rights reserved.
"""Checks of YouTube-VIS / MOT annotation files with errors that name the
file, the video and the field at fault.

Two formats are checked:

* the official YouTube-VIS json (``videos[*].file_names``, one
  ``annotations[*].segmentations`` / ``bboxes`` / ``areas`` entry per frame),
  before mmdet's ``youtubevis2coco`` converter reads it
  (:func:`check_youtube_vis_json`);
* the CocoVID json that mmdet's ``youtubevis2coco`` / ``mot2coco``
  converters write and ``YouTubeVISDataset`` / ``MOTChallengeDataset`` read
  (:func:`check_cocovid_json`).
"""
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence

from mmengine.logging import print_log

from .annotation_rules import (box_kinds, check_cocovid_layout,
                               check_frame_ids, load_json)


def _rle_error(segm: Any, height: int, width: int) -> Optional[str]:
    """Why ``segm`` is not a mask of ``height x width`` (None if it is).

    Polygons (lists) carry no size and pass; an RLE dict must have
    ``size == [height, width]`` and, when uncompressed (``counts`` a list of
    run lengths), runs summing to ``height * width``.
    """
    if isinstance(segm, list):
        return None
    if not isinstance(segm, dict) or 'counts' not in segm \
            or 'size' not in segm:
        return (f'is neither a polygon list nor an RLE dict with counts '
                f'and size (got {type(segm).__name__})')
    size = list(segm['size'])
    if size != [height, width]:
        return (f'is an RLE of size {size} (height, width), the frame is '
                f'[{height}, {width}]')
    counts = segm['counts']
    if isinstance(counts, list) and sum(counts) != height * width:
        return (f'is an uncompressed RLE whose runs sum to {sum(counts)}, '
                f'not height*width = {height * width}')
    return None


def check_youtube_vis_json(path: str, data: Optional[dict] = None) -> dict:
    """Check an official YouTube-VIS 2019 / 2021 annotation json.

    Every video needs a non-empty ``file_names`` and ``height`` / ``width``;
    every annotation a known ``video_id`` and ``segmentations``, ``bboxes``
    and ``areas`` with one entry per frame of its video; a frame's
    segmentation and box are both None or both set; an RLE must have the
    video's size. Files without ``annotations`` (valid / test) get only the
    video checks.

    Args:
        path (str): The json file (loaded when ``data`` is None; named in
            every error).
        data (dict, optional): Its already loaded content.

    Returns:
        dict: The json content.

    Raises:
        ValueError: Naming the file, the video (id and name), the
            annotation id, the frame and the field at fault.
    """
    if data is None:
        data = load_json(path)
    if not isinstance(data, dict) or 'videos' not in data:
        raise ValueError(f'{path}: not a YouTube-VIS json (no "videos")')
    videos = {}
    for i, video in enumerate(data['videos']):
        vid = video.get('id')
        names = video.get('file_names')
        if not names:
            raise ValueError(
                f'{path}: videos[{i}] (id {vid}) has no frames: its '
                f'"file_names" is {names!r}')
        for key in ('height', 'width'):
            if not isinstance(video.get(key), int):
                raise ValueError(f'{path}: video {vid} has no integer '
                                 f'"{key}" (got {video.get(key)!r})')
        if vid in videos:
            raise ValueError(f'{path}: duplicate video id {vid}')
        videos[vid] = video
    for ann in data.get('annotations') or []:
        vid = ann.get('video_id')
        if vid not in videos:
            raise ValueError(
                f'{path}: annotation {ann.get("id")} has video_id {vid!r}, '
                'which is not in "videos"')
        video = videos[vid]
        where = (f'{path}: video {vid} '
                 f'("{video["file_names"][0].split("/")[0]}"), annotation '
                 f'{ann.get("id")}')
        num_frames = len(video['file_names'])
        for key in ('segmentations', 'bboxes', 'areas'):
            value = ann.get(key)
            if not isinstance(value, list) or len(value) != num_frames:
                got = f'{len(value)} entries' if isinstance(
                    value, list) else repr(value)
                raise ValueError(
                    f'{where}: "{key}" has {got}, the video has '
                    f'{num_frames} frames ("file_names")')
        for f, (segm, bbox) in enumerate(
                zip(ann['segmentations'], ann['bboxes'])):
            if (segm is None) != (bbox is None):
                raise ValueError(
                    f'{where}, frame {f}: "segmentations" is '
                    f'{"None" if segm is None else "set"} but "bboxes" is '
                    f'{"None" if bbox is None else "set"}')
            if segm is not None:
                err = _rle_error(segm, video['height'], video['width'])
                if err:
                    raise ValueError(
                        f'{where}, frame {f}: "segmentations[{f}]" {err}')
    return data


def check_cocovid_json(path: str,
                       data: Optional[dict] = None,
                       required_ann_keys: Sequence[str] = (),
                       check_masks: bool = True) -> dict:
    """Check a CocoVID json (mmdet's ``youtubevis2coco`` / ``mot2coco``).

    Every video of ``videos`` needs at least one image; the images of a
    video, in file order, must have ``frame_id`` 0, 1, 2, ... (mmdet's video
    datasets and ``YouTubeVISMetric`` index frames by their position);
    annotations need a known ``image_id``, the ``required_ann_keys`` and,
    with ``check_masks``, a ``segmentation`` RLE of their image's size, a
    ``bbox`` of 4 finite numbers and a ``category_id`` of ``categories``;
    the boxes that mmdet's loader drops (below 1 pixel, outside the image)
    are counted in the log (:mod:`~mmstpn.datasets.annotation_rules`). An
    official (unconverted) YouTube-VIS json is recognised and named.

    Args:
        path (str): The json file (loaded when ``data`` is None).
        data (dict, optional): Its already loaded content.
        required_ann_keys (Sequence[str]): Keys every annotation must have,
            e.g. ``('instance_id', 'mot_conf', 'visibility')`` for MOT.
        check_masks (bool): Check ``segmentation`` sizes. Defaults to True.

    Returns:
        dict: The json content.

    Raises:
        ValueError: Naming the file, the video, image / annotation id and
            the field at fault.
    """
    if data is None:
        data = load_json(path)
    if not isinstance(data, dict):
        raise ValueError(f'{path}: not a CocoVID json (a '
                         f'{type(data).__name__}, not an object)')
    anns = data.get('annotations') or []
    if anns and 'segmentations' in anns[0] and 'image_id' not in anns[0]:
        raise ValueError(
            f'{path}: this is an official YouTube-VIS json (annotations '
            'with per-video "segmentations"); convert it first with '
            'tools/dataset_converters/youtubevis2coco.py')
    for key in ('videos', 'images'):
        if key not in data:
            raise ValueError(f'{path}: not a CocoVID json (no "{key}")')
    check_cocovid_layout(data, path)
    check_frame_ids(data['images'], path)
    frames: Dict[Any, List[dict]] = defaultdict(list)
    for img in data['images']:
        frames[img.get('video_id')].append(img)
    for video in data['videos']:
        vid = video.get('id')
        imgs = frames.get(vid, [])
        if not imgs:
            raise ValueError(
                f'{path}: video {vid} ("{video.get("name")}") has no frames '
                f'(no image has video_id {vid})')
        ids = [img.get('frame_id') for img in imgs]
        if ids != list(range(len(imgs))):
            bad = next(i for i, f in enumerate(ids) if f != i)
            raise ValueError(
                f'{path}: video {vid} ("{video.get("name")}"): image '
                f'{imgs[bad].get("id")} has frame_id {ids[bad]!r} at '
                f'position {bad}; frames must be listed in order with '
                'frame_id 0, 1, 2, ...')
    known = {v.get('id') for v in data['videos']}
    stray = [v for v in frames if v not in known]
    if stray:
        raise ValueError(f'{path}: images with video_id {stray[0]!r}, which '
                         'is not in "videos"')
    images = {img['id']: img for img in data['images']}
    for ann in anns:
        img = images.get(ann.get('image_id'))
        if img is None:
            raise ValueError(
                f'{path}: annotation {ann.get("id")} refers to image id '
                f'{ann.get("image_id")!r}, which is not in "images"')
        where = (f'{path}: video {img.get("video_id")}, image {img["id"]} '
                 f'(frame {img.get("frame_id")}), annotation {ann.get("id")}')
        for key in required_ann_keys:
            if key not in ann:
                raise ValueError(f'{where} has no "{key}"')
        segm = ann.get('segmentation')
        if check_masks and segm:
            err = _rle_error(segm, img['height'], img['width'])
            if err:
                raise ValueError(f'{where}: "segmentation" {err}')
    box_kinds(data, path)
    return data


class CheckedJsonMixin:
    """Runs :func:`check_cocovid_json` on ``ann_file`` before mmdet loads
    it (the file is parsed twice: once here, once by mmdet's COCO API),
    and makes a training set whose frames are all filtered out an error
    naming the file (instead of mmengine's ``need at least one array to
    concatenate``)."""

    required_ann_keys: tuple = ()
    check_masks: bool = True

    def load_data_list(self) -> List[dict]:
        """Check ``ann_file``, then load it with mmdet's code.

        Returns:
            list[dict]: One dict per video, as mmdet's
            ``BaseVideoDataset.load_data_list``.
        """
        check_cocovid_json(
            self.ann_file,
            data=load_json(self.ann_file, self.backend_args),
            required_ann_keys=self.required_ann_keys,
            check_masks=self.check_masks)
        return super().load_data_list()

    def filter_data(self) -> List[dict]:
        """mmdet's filter; an empty result is an error naming the file.

        Returns:
            list[dict]: The kept videos.
        """
        kept = super().filter_data()
        num = sum(len(v.get('images', [])) for v in kept)
        if not num:
            total = sum(len(v.get('images', [])) for v in self.data_list)
            raise ValueError(
                f'{self.ann_file}: no frame left after filtering ({total} '
                f'frames before; filter_cfg={self.filter_cfg}, '
                f'test_mode={self.test_mode})')
        if num != sum(len(v.get('images', [])) for v in self.data_list):
            print_log(
                f'{self.ann_file}: {num} frames kept by filter_cfg='
                f'{self.filter_cfg}', 'current')
        return kept
