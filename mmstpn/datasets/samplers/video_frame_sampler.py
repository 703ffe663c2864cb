"""TrackImgSampler that indexes concatenated video datasets globally."""
from typing import Optional, Sized

from mmdet.datasets.samplers import TrackImgSampler
from mmdet.registry import DATA_SAMPLERS
from mmengine.dataset import ConcatDataset


@DATA_SAMPLERS.register_module()
class VideoFrameSampler(TrackImgSampler):
    """mmdet's ``TrackImgSampler`` whose ``(video_idx, frame_idx)`` indices
    are global over a ConcatDataset.

    For a single video dataset it is ``TrackImgSampler`` (in test mode: each
    rank gets whole videos, frames in order). For a ConcatDataset (training
    only, e.g. ImageNet VID + DET) ``TrackImgSampler`` yields video indices
    local to each sub-dataset, which collide; here they are offset by the
    sizes of the preceding datasets, as :class:`VideoConcatDataset` expects.

    Args:
        dataset (Sized): A video dataset or a VideoConcatDataset of them.
        seed (int, optional): Shuffling seed, shared by all ranks.
    """

    def __init__(self, dataset: Sized, seed: Optional[int] = None) -> None:
        super().__init__(dataset, seed=seed)
        if isinstance(dataset, ConcatDataset):
            self.indices = []
            offset = 0
            for sub in dataset.datasets:
                for video_idx in range(len(sub)):
                    self.indices.extend(
                        (offset + video_idx, frame_idx)
                        for frame_idx in range(sub.get_len_per_video(
                            video_idx)))
                offset += len(sub)
