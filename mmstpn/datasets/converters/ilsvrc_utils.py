"""Shared helpers of the ILSVRC (ImageNet VID / DET) -> CocoVID converters."""
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional

from mmstpn.datasets import IMAGENET_VID_CLASSES, IMAGENET_VID_WNIDS

#: WordNet id -> CocoVID category id (1..30, VID devkit order).
WNID_TO_CAT_ID = {w: i for i, w in enumerate(IMAGENET_VID_WNIDS, 1)}


def vid_categories() -> List[dict]:
    """The 30 CocoVID categories.

    Returns:
        list[dict]: ``id`` (1..30, VID devkit order), ``name`` and
        ``encode_name`` (the WordNet id).
    """
    return [
        dict(id=i, name=name, encode_name=wnid) for i, (name, wnid) in
        enumerate(zip(IMAGENET_VID_CLASSES, IMAGENET_VID_WNIDS), 1)
    ]


def _text(node: ET.Element, tag: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None:
        raise ValueError(f'missing <{tag}>')
    return child.text.strip()


def _parse_xml(path: str) -> dict:
    root = ET.parse(path).getroot()
    size = root.find('size')
    if size is None:
        raise ValueError('missing <size>')
    out = dict(
        width=int(_text(size, 'width')),
        height=int(_text(size, 'height')),
        objects=[])
    for obj in root.findall('object'):
        box = obj.find('bndbox')
        if box is None:
            raise ValueError('<object> without <bndbox>')
        x1, y1, x2, y2 = (int(float(_text(box, t)))
                          for t in ('xmin', 'ymin', 'xmax', 'ymax'))
        item = dict(wnid=_text(obj, 'name'), bbox=[x1, y1, x2 - x1, y2 - y1])
        if obj.find('trackid') is not None:
            item['trackid'] = _text(obj, 'trackid')
        for flag in ('occluded', 'generated'):
            if obj.find(flag) is not None:
                item[flag] = _text(obj, flag) == '1'
        out['objects'].append(item)
    return out


def parse_ilsvrc_xml(path: str) -> dict:
    """Read one ILSVRC annotation XML.

    Args:
        path (str): The .xml file.

    Returns:
        dict: ``width``, ``height`` and ``objects``, a list of dicts with
        ``wnid``, ``bbox`` ([x, y, w, h], w = xmax - xmin as MMTracking),
        and, when present, ``trackid`` (str), ``occluded`` and ``generated``
        (bool).

    Raises:
        FileNotFoundError: the file does not exist (names it).
        ValueError: naming ``path`` when the file is not valid XML or lacks a
            field.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        return _parse_xml(path)
    except (ET.ParseError, ValueError, TypeError) as e:
        raise ValueError(f'malformed annotation file {path}: {e}') from e


def read_list(path: str) -> List[List[str]]:
    """Read a list file.

    Args:
        path (str): The file.

    Returns:
        list[list[str]]: Its non-empty lines, split on whitespace.

    Raises:
        FileNotFoundError: The file does not exist (names it).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'list file not found: {path}')
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def make_annotation(obj: dict, ann_id: int, image_id: int,
                    extra: Optional[Dict] = None) -> dict:
    """A CocoVID annotation of a VID-class object.

    Args:
        obj (dict): An object of :func:`parse_ilsvrc_xml` with a VID
            ``wnid``.
        ann_id (int): The annotation id.
        image_id (int): Its image.
        extra (dict, optional): Further fields (e.g. ``instance_id``).

    Returns:
        dict: ``id``, ``image_id``, ``category_id``, ``bbox`` (xywh),
        ``area``, ``iscrowd`` and the object's ``occluded`` / ``generated``
        flags, plus ``extra``.
    """
    x, y, w, h = obj['bbox']
    ann = dict(
        id=ann_id,
        image_id=image_id,
        category_id=WNID_TO_CAT_ID[obj['wnid']],
        bbox=[x, y, w, h],
        area=w * h,
        iscrowd=False)
    for flag in ('occluded', 'generated'):
        if flag in obj:
            ann[flag] = obj[flag]
    ann.update(extra or {})
    return ann
