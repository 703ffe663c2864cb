"""What counts as ground truth in a CocoVID-style json: one rule for the
video datasets and :class:`~mmstpn.evaluation.VIDMetric`.

Every annotation of the file gets exactly one *kind*
(:func:`box_kinds`), decided in this order:

====================  ================================================  =====
kind                  when                                              GT?
====================  ================================================  =====
(error)               ``bbox`` not 4 finite numbers; ``category_id``    --
                      not in ``categories`` and not in
                      ``drop_category_ids``; the image has no
                      ``width`` / ``height``
``dropped_category``  ``category_id`` in ``drop_category_ids``          no
``invalid``           width or height below 1 pixel, or an ``area``     no
                      field <= 0 (mmdet's ``CocoDataset`` thresholds;
                      covers zero and negative sizes)
``outside``           no overlap with the image (``x >= width``,        no
                      ``y >= height``, ``x + w <= 0`` or ``y + h <= 0``)
``other_class``       a category of the file that is not among the      no
                      chosen classes (``metainfo=dict(classes=...)``)
``ignored``           ``iscrowd`` or ``ignore`` true                    ignore
``valid``             everything else                                   yes
====================  ================================================  =====

"no": the box is not ground truth anywhere (the dataset leaves it out of
``instances``, the metric out of its ground truth, a detection on it is a
false positive). "ignore": the dataset keeps it with ``ignore_flag=1`` (mmdet
packs it into ``ignored_instances``, which the detectors do not train on),
the metric ignores it (a detection matched to it is neither a true nor a
false positive; ``iscrowd`` boxes match with COCO's crowd IoU). Boxes that
are partly outside the image are kept as they are (not clipped), by both.

Each kind other than ``valid`` is counted and logged once per file:
``N boxes of kind K ignored in FILE`` (a warning for ``dropped_category``,
``invalid`` and ``outside``, which point at broken annotations; an info
line for ``other_class`` and ``ignored``, which are normal).
"""
import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import mmengine
import numpy as np
from mmengine.logging import print_log

VALID, IGNORED, OTHER_CLASS, OUTSIDE, INVALID, DROPPED_CATEGORY = range(6)
KIND_NAMES = ('valid', 'ignored', 'other_class', 'outside', 'invalid',
              'dropped_category')
#: Kinds that are not ground truth at all.
NOT_GT = (OTHER_CLASS, OUTSIDE, INVALID, DROPPED_CATEGORY)
_WHY = {
    IGNORED: ('iscrowd or ignore true: ignore regions, neither true nor '
              'false positives', logging.INFO),
    OTHER_CLASS: ('category not among the chosen classes', logging.INFO),
    OUTSIDE: ('the box does not overlap its image', logging.WARNING),
    INVALID: ('width or height below 1 pixel, or area <= 0',
              logging.WARNING),
    DROPPED_CATEGORY: ('category_id listed in drop_category_ids',
                       logging.WARNING),
}


def load_json(path: str, backend_args: Optional[dict] = None) -> Any:
    """Load a json file; a malformed or empty file is an error naming it.

    Args:
        path (str): The file.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        Any: The parsed content.

    Raises:
        ValueError: The file is empty, truncated or not json (the message
            names the file and the position of the fault).
    """
    try:
        return mmengine.load(
            path, file_format='json', backend_args=backend_args)
    except json.JSONDecodeError as err:
        what = 'is empty' if not err.doc.strip() else \
            f'is not valid json ({err.msg} at line {err.lineno} column ' \
            f'{err.colno}; truncated or not a json file?)'
        raise ValueError(f'{path} {what}') from err
    except UnicodeDecodeError as err:
        raise ValueError(f'{path} is not a text (json) file: {err}') from err


def check_cocovid_layout(data: Any, path: str) -> None:
    """Check the top level of a CocoVID / COCO json.

    Args:
        data (Any): The loaded content.
        path (str): The file (named in errors).

    Raises:
        ValueError: Not a dict, or ``images`` / ``categories`` missing or
            not lists, or ``annotations`` / ``videos`` present but not a
            list, or an entry that is not a dict, or an image without a
            positive ``width`` / ``height`` (naming the image).
    """
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a json object with "images", '
                         f'"annotations" and "categories", got a '
                         f'{type(data).__name__}')
    for key, required in (('images', True), ('categories', True),
                          ('annotations', False), ('videos', False)):
        if key not in data:
            if required:
                raise ValueError(f'{path}: no "{key}" list')
            continue
        if not isinstance(data[key], list):
            raise ValueError(f'{path}: "{key}" must be a list, got '
                             f'{type(data[key]).__name__}')
        bad = [i for i, x in enumerate(data[key]) if not isinstance(x, dict)]
        if bad:
            raise ValueError(f'{path}: {key}[{bad[0]}] is not an object: '
                             f'{data[key][bad[0]]!r}')
    sized = [
        img for img in data['images']
        if not all(
            isinstance(img.get(k), (int, float))
            and not isinstance(img.get(k), bool) and img.get(k) > 0
            for k in ('width', 'height'))
    ]
    if sized:
        img = sized[0]
        raise ValueError(
            f'{path}: image id {img.get("id")} ("{img.get("file_name")}") '
            'needs positive numeric "width" and "height", got '
            f'{img.get("width")!r}, {img.get("height")!r}')


def check_frame_ids(images: Sequence[dict], path: str) -> None:
    """``frame_id`` (where present) must be an int: frames are ordered by
    it, and a string would sort as text ("5" after "25").

    Args:
        images (Sequence[dict]): The ``images`` of the json.
        path (str): The file (named in errors).

    Raises:
        ValueError: Naming the image id, its file name and the value.
    """
    bad = [
        img for img in images
        if 'frame_id' in img and type(img['frame_id']) is not int
    ]
    if bad:
        img = bad[0]
        raise ValueError(
            f'{path}: image id {img.get("id")} ("{img.get("file_name")}", '
            f'video {img.get("video_id")}) has frame_id '
            f'{img["frame_id"]!r} of type {type(img["frame_id"]).__name__}; '
            f'frame_id must be an integer ({len(bad)} image(s) affected)')


def _where(path: str, ann: dict, img: Optional[dict]) -> str:
    if img is None:
        return f'{path}: annotation {ann.get("id")}'
    return (f'{path}: annotation {ann.get("id")} of image {img.get("id")} '
            f'("{img.get("file_name")}", video {img.get("video_id")}, frame '
            f'{img.get("frame_id")})')


def _column(anns: List[dict], key: str, path: str,
            images: Dict[Any, dict]) -> list:
    try:
        return [a[key] for a in anns]
    except KeyError:
        ann = next(a for a in anns if key not in a)
        where = _where(path, ann, images.get(ann.get('image_id')))
        raise ValueError(f'{where} has no "{key}"') from None


def annotation_boxes(data: dict, path: str) -> np.ndarray:
    """The ``bbox`` of every annotation as an ``(N, 4)`` float64 array
    (``x, y, w, h``), checked to be 4 finite numbers each.

    Args:
        data (dict): The json content.
        path (str): The file (named in errors).

    Returns:
        np.ndarray: ``(N, 4)`` boxes in annotation order.

    Raises:
        ValueError: Naming the file, the annotation id and its image (id,
            file name, video, frame) for a missing, malformed or
            non-finite (NaN / inf) ``bbox``.
    """
    anns = data.get('annotations') or []
    images = {img.get('id'): img for img in data.get('images', [])}
    raw = _column(anns, 'bbox', path, images)
    if not raw:
        return np.zeros((0, 4), dtype=np.float64)
    try:
        boxes = np.array(raw, dtype=np.float64).reshape(len(raw), -1)
        ok = boxes.shape[1] == 4
    except (TypeError, ValueError):
        ok = False
    if not ok:
        for ann, box in zip(anns, raw):
            try:
                good = len(np.asarray(box, dtype=np.float64)) == 4
            except (TypeError, ValueError):
                good = False
            if not good:
                raise ValueError(
                    f'{_where(path, ann, images.get(ann.get("image_id")))}: '
                    f'bbox must be 4 numbers [x, y, w, h], got {box!r}')
    bad = np.flatnonzero(~np.isfinite(boxes).all(axis=1))
    if len(bad):
        ann = anns[bad[0]]
        raise ValueError(
            f'{_where(path, ann, images.get(ann.get("image_id")))} has a '
            f'non-finite bbox {ann["bbox"]!r} ({len(bad)} annotation(s) '
            'with NaN / inf coordinates in the file)')
    return boxes


def box_kinds(data: dict,
              path: str,
              cat_ids: Optional[Iterable[int]] = None,
              drop_category_ids: Iterable[int] = (),
              boxes: Optional[np.ndarray] = None,
              log: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Apply the module's rule to every annotation of a CocoVID json.

    Args:
        data (dict): The json content (``images`` with ``width`` /
            ``height``, ``annotations``, ``categories``).
        path (str): The file (named in errors and in the log lines).
        cat_ids (Iterable[int], optional): Category ids of the chosen
            classes; the others are ``other_class``. None: every category.
        drop_category_ids (Iterable[int]): Category ids whose boxes are
            dropped (``dropped_category``), whether or not they are in
            ``categories``.
        boxes (np.ndarray, optional): :func:`annotation_boxes` of ``data``
            when already computed.
        log (bool): Log the counts. Defaults to True.

    Returns:
        tuple[np.ndarray, np.ndarray]: The kind of each annotation (int8,
        indices into :data:`KIND_NAMES`) and the ``(N, 4)`` xywh boxes.

    Raises:
        ValueError: See the module docstring; every message names the file
            and the annotation id.
    """
    anns = data.get('annotations') or []
    images = {img.get('id'): img for img in data.get('images', [])}
    if boxes is None:
        boxes = annotation_boxes(data, path)
    num = len(anns)
    img_ids = _column(anns, 'image_id', path, images)
    cats = np.array(_column(anns, 'category_id', path, images), dtype=object)
    sizes = np.zeros((num, 2), dtype=np.float64)
    for i, img_id in enumerate(img_ids):
        img = images.get(img_id)
        if img is None:
            raise ValueError(f'{path}: annotation {anns[i].get("id")} refers '
                             f'to image id {img_id!r}, which is not in '
                             '"images"')
        try:
            sizes[i] = (img['width'], img['height'])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f'{path}: image id {img_id} ("{img.get("file_name")}") needs '
                f'numeric "width" and "height" (got {img.get("width")!r}, '
                f'{img.get("height")!r})') from None
    known = {c.get('id') for c in data.get('categories', [])}
    drop = set(drop_category_ids)
    is_drop = np.fromiter((c in drop for c in cats), bool, num)
    unknown = np.fromiter((c not in known for c in cats), bool, num) \
        & ~is_drop
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise ValueError(
            f'{_where(path, anns[i], images.get(img_ids[i]))} has '
            f'category_id {cats[i]!r}, which is not in "categories" (ids '
            f'{sorted(known, key=str)}); {int(unknown.sum())} annotation(s) '
            'affected. List it in drop_category_ids to drop such boxes')
    x, y, w, h = boxes.T if num else np.zeros((4, 0))
    kinds = np.full(num, VALID, dtype=np.int8)
    flags = np.fromiter(
        (bool(a.get('iscrowd', False)) or bool(a.get('ignore', False))
         for a in anns), bool, num)
    kinds[flags] = IGNORED
    if cat_ids is not None:
        chosen = set(cat_ids)
        kinds[np.fromiter((c not in chosen for c in cats), bool,
                          num)] = OTHER_CLASS
    kinds[(x >= sizes[:, 0]) | (y >= sizes[:, 1]) | (x + w <= 0)
          | (y + h <= 0)] = OUTSIDE
    area = np.fromiter((a.get('area', 1) for a in anns), np.float64, num)
    kinds[(w < 1) | (h < 1) | ~(area > 0)] = INVALID
    kinds[is_drop] = DROPPED_CATEGORY
    if log:
        log_box_kinds(kinds, path)
    return kinds, boxes


def log_box_kinds(kinds: np.ndarray, path: str) -> Dict[str, int]:
    """Log ``N boxes of kind K ignored in FILE`` for each non-valid kind.

    Args:
        kinds (np.ndarray): Output of :func:`box_kinds`.
        path (str): The file.

    Returns:
        dict[str, int]: kind name -> count (non-valid kinds present).
    """
    counts = np.bincount(kinds.astype(np.int64), minlength=len(KIND_NAMES))
    out = {}
    for kind, (why, level) in _WHY.items():
        if counts[kind]:
            out[KIND_NAMES[kind]] = int(counts[kind])
            print_log(
                f'{counts[kind]} boxes of kind {KIND_NAMES[kind]!r} ignored '
                f'in {path} ({why})',
                logger='current',
                level=level)
    return out
