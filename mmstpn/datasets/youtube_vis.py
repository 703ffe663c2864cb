# Copyright (c) OpenMMLab. All rights reserved.
"""mmdet's YouTube-VIS dataset with a checked json."""
from mmdet.datasets import YouTubeVISDataset
from mmdet.registry import DATASETS

from .video_json_checks import CheckedJsonMixin


@DATASETS.register_module()
class CheckedYouTubeVISDataset(CheckedJsonMixin, YouTubeVISDataset):
    """mmdet's ``YouTubeVISDataset`` that first checks its json.

    A video without frames, frames out of ``frame_id`` order, an annotation
    of a missing image, a ``segmentation`` RLE whose size is not its
    image's, or an official (unconverted) YouTube-VIS json raise a
    ``ValueError`` naming the file, the video, the image / annotation id and
    the field. Everything else (classes of ``dataset_version``, items,
    filtering) is mmdet's.

    Args:
        dataset_version (str): '2019' or '2021'.
        *args, **kwargs: See mmdet's ``YouTubeVISDataset``.
    """

    required_ann_keys = ('instance_id', )
