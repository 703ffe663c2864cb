"""Checks the data preprocessors run on the pixels they receive."""
from typing import Optional

import torch
from torch import Tensor


def first_non_finite_frame(frames: Tensor) -> Optional[int]:
    """Index of the first frame of ``frames`` (``(T, ...)``) holding a NaN
    or an infinity, or None.

    Integer tensors (decoded images) cannot hold either and are not read;
    floating tensors cost one ``isfinite`` pass.

    Args:
        frames (Tensor): ``(T, ...)`` frames.

    Returns:
        int | None: The frame index, None when all values are finite.
    """
    if not frames.is_floating_point():
        return None
    ok = torch.isfinite(frames).flatten(1).all(dim=1)
    if bool(ok.all()):
        return None
    return int((~ok).nonzero()[0, 0])


def describe_frame(metainfo: dict) -> str:
    """Name a frame in an error message.

    Args:
        metainfo (dict): A data sample's metainfo.

    Returns:
        str: ``video V, frame F, image P`` (the fields that are present),
        ``'no metainfo'`` when none is.
    """
    video = metainfo.get('video_id', metainfo.get('video_name'))
    parts = []
    if video is not None:
        parts.append(f'video {video!r}')
    if metainfo.get('frame_id') is not None:
        parts.append(f'frame {metainfo["frame_id"]}')
    if metainfo.get('img_path') is not None:
        parts.append(f'image {metainfo["img_path"]}')
    return ', '.join(parts) if parts else 'no metainfo'


def non_finite_error(owner: str, item: int, what: str) -> ValueError:
    """The error for a NaN / inf pixel.

    Args:
        owner (str): The data preprocessor's class name.
        item (int): Batch item index.
        what (str): Which frame of the item (:func:`describe_frame` and its
            role).

    Returns:
        ValueError: To be raised.
    """
    return ValueError(
        f'{owner}: batch item {item} has NaN / inf pixels in {what}; '
        'check the image file and the transforms that produced it')


def check_std(owner: str, std: Tensor) -> None:
    """Refuse a zero ``std``, which would turn every pixel into inf / NaN.

    Args:
        owner (str): The data preprocessor's class name.
        std (Tensor): Its ``std`` (a meta tensor is not checked).

    Raises:
        ValueError: Naming the config key ``data_preprocessor.std``.
    """
    if std.is_meta:  # a model built without data (torch.device('meta'))
        return
    values = std.flatten().tolist()
    if any(v == 0 for v in values):
        raise ValueError(f'{owner}: data_preprocessor.std={values} has a '
                         'zero; normalisation would divide by it')
