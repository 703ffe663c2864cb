# Copyright (c) OpenMMLab. All rights reserved.
"""mmdet's MOTChallenge dataset with a checked json."""
from mmdet.datasets import MOTChallengeDataset
from mmdet.registry import DATASETS

from .video_json_checks import CheckedJsonMixin

MOT_ANN_KEYS = ('instance_id', 'mot_conf', 'visibility')


@DATASETS.register_module()
class CheckedMOTChallengeDataset(CheckedJsonMixin, MOTChallengeDataset):
    """mmdet's ``MOTChallengeDataset`` that first checks its json.

    Besides the video / frame checks of :class:`CheckedYouTubeVISDataset`,
    every annotation must carry ``instance_id``, ``mot_conf`` and
    ``visibility`` (what mmdet's ``mot2coco`` writes and
    ``MOTChallengeDataset.parse_data_info`` reads). Checks of the raw
    MOTChallenge folders (``seqinfo.ini``, ``gt.txt`` lines) run in
    ``tools/dataset_converters/mot2coco.py``.

    Args:
        visibility_thr (float): See mmdet's ``MOTChallengeDataset``.
        *args, **kwargs: See mmdet's ``MOTChallengeDataset``.
    """

    required_ann_keys = MOT_ANN_KEYS
    check_masks = False
