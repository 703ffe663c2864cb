"""ConcatDataset that accepts (video_idx, frame_idx) indices."""
from typing import Any, Tuple, Union

from mmdet.registry import DATASETS
from mmengine.dataset import ConcatDataset

Index = Union[int, Tuple[int, int]]


@DATASETS.register_module()
class VideoConcatDataset(ConcatDataset):
    """mmengine's ConcatDataset of video datasets, indexable by
    ``(video_idx, frame_idx)`` with a GLOBAL ``video_idx``.

    mmengine's ConcatDataset only takes int indices, and mmdet's
    ``TrackImgSampler`` yields per-dataset video indices for a concatenation,
    so the two do not compose (VID + DET training). Use this wrapper with
    :class:`~mmstpn.datasets.VideoFrameSampler`.

    Args:
        See :class:`mmengine.dataset.ConcatDataset`.
    """

    def _get_ori_dataset_idx(self, idx: Index) -> Tuple[int, Any]:
        """Global index -> (dataset index, index inside that dataset)."""
        if isinstance(idx, tuple):
            dataset_idx, video_idx = super()._get_ori_dataset_idx(idx[0])
            return dataset_idx, (video_idx, idx[1])
        return super()._get_ori_dataset_idx(idx)

    def get_len_per_video(self, idx: int) -> int:
        """Number of key frames of a video.

        Args:
            idx (int): The GLOBAL video index over the datasets.

        Returns:
            int: Its sub-dataset's ``get_len_per_video``.
        """
        dataset_idx, video_idx = self._get_ori_dataset_idx(idx)
        return self.datasets[dataset_idx].get_len_per_video(video_idx)
