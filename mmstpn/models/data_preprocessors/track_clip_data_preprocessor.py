"""Data preprocessor for STPN trackers (MaskTrack R-CNN, QDTrack,
ByteTrack): every clip frame with its own support frames."""
from typing import List, Optional, Sequence

import torch
from mmdet.models.data_preprocessors import TrackDataPreprocessor
from mmdet.models.data_preprocessors.track_data_preprocessor import \
    stack_track_batch
from mmdet.registry import MODELS
from mmdet.structures import TrackDataSample
from torch import Tensor

from mmstpn.structures import ClipMeta, TrackClips
from .input_checks import (describe_frame, first_non_finite_frame,
                           non_finite_error)
from .video_det_data_preprocessor import VideoDetDataPreprocessor


@MODELS.register_module()
class TrackClipDataPreprocessor(VideoDetDataPreprocessor):
    """``TrackDataPreprocessor`` for samples packed by
    ``PackTrackClipInputs``.

    Input ``inputs``: per item a ``(F_i, C, H, W)`` tensor of every loaded
    frame (clip frames and support frames); ``data_samples``: the
    ``TrackDataSample`` of the clip frames, whose ``DetDataSample``s carry
    ``input_index`` / ``support_input_indices`` (without them, e.g. packed by
    mmdet's ``PackTrackInputs``, clip frame ``t`` is frame ``t`` and has no
    support frames). All frames get the same normalisation and are padded
    at the bottom / right to one batch size; items are padded to ``F_max``
    with zero frames. Output ``inputs``: a
    :class:`~mmstpn.structures.TrackClips` whose ``clip_batch(t)`` /
    ``gather(...)`` is the ``ClipBatch`` of clip position ``t`` with one
    ``ClipMeta(video_id, frame_id, num_support)`` per item; ``data_samples``
    as mmdet's ``TrackDataPreprocessor`` leaves them (``batch_input_shape``,
    ``pad_shape``, padded gt masks in training when ``pad_mask``).

    Args:
        use_det_processor (bool): In training, the inputs are
            ``PackClipInputs`` clips with ``DetDataSample``s (ByteTrack trains
            its detector on frames, as mmdet's option of the same name); they
            are processed as :class:`VideoDetDataPreprocessor` does and
            ``inputs`` is a ``ClipBatch``. Defaults to False.
        **kwargs: See :class:`VideoDetDataPreprocessor`.
    """

    def __init__(self, use_det_processor: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.use_det_processor = use_det_processor

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch of track samples.

        Args:
            data (dict): ``inputs`` and ``data_samples`` (``pseudo_collate``).
            training (bool): Whether this is a training step.

        Returns:
            dict: ``inputs`` (:class:`~mmstpn.structures.TrackClips`, or a
            ``ClipBatch`` with ``use_det_processor`` in training) and
            ``data_samples``.
        """
        if self.use_det_processor and training:
            return super().forward(data, training)
        data = self.cast_data(data)
        items = data['inputs']
        if isinstance(items, Tensor):
            items = list(items)
        for i, x in enumerate(items):
            if not isinstance(x, Tensor) or x.dim() != 4:
                shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
                raise ValueError(
                    'TrackClipDataPreprocessor expects one (F, C, H, W) '
                    f'tensor per item (PackTrackClipInputs), got {shape} for '
                    f'batch item {i}')
        self._check_finite_items(items, data.get('data_samples'))
        items = [self._normalize(x) for x in items]
        pad_shapes = self._get_pad_shape({'inputs': [x[0] for x in items]})
        f_max = max(x.shape[0] for x in items)
        items = [
            torch.cat([x, x.new_zeros(f_max - x.shape[0], *x.shape[1:])])
            if x.shape[0] < f_max else x for x in items
        ]
        frames = stack_track_batch(items, self.pad_size_divisor,
                                   self.pad_value).contiguous()
        data_samples = data.get('data_samples')
        if data_samples is not None:
            batch_input_shape = tuple(frames.shape[-2:])
            for track_sample, pad_shape in zip(data_samples, pad_shapes):
                for t in range(len(track_sample)):
                    track_sample[t].set_metainfo(
                        dict(
                            batch_input_shape=batch_input_shape,
                            pad_shape=pad_shape))
            if self.pad_mask and training:
                TrackDataPreprocessor.pad_track_gt_masks(self, data_samples)
        clips = self.track_clips(frames, data_samples)
        return dict(inputs=clips, data_samples=data_samples)

    def _check_finite_items(
            self, items: Sequence[Tensor],
            data_samples: Optional[Sequence[TrackDataSample]]) -> None:
        """NaN / inf pixels are an error naming the item and the frame (a
        clip frame, or a support frame of one)."""
        for i, item in enumerate(items):
            j = first_non_finite_frame(item)
            if j is None:
                continue
            what = f'loaded frame {j}'
            for t in range(len(data_samples[i]) if data_samples else 0):
                info = data_samples[i][t].metainfo
                if info.get('input_index', t) == j:
                    what = f'clip frame {t} ({describe_frame(info)})'
                    break
                if j in list(info.get('support_input_indices', [])):
                    what = (f'loaded frame {j}, a support frame of clip '
                            f'frame {t} ({describe_frame(info)})')
                    break
            raise non_finite_error(type(self).__name__, i, what)

    @staticmethod
    def track_clips(frames: Tensor,
                    data_samples: Optional[Sequence[TrackDataSample]]
                    ) -> TrackClips:
        """The clip structure of each item from its data sample.

        Args:
            frames (Tensor): ``(N, F, C, H, W)`` preprocessed frames.
            data_samples (Sequence[TrackDataSample], optional): The items.

        Returns:
            TrackClips: Frames with every clip frame's support indices.
        """
        n, f = frames.shape[:2]
        frame_inds: List[List[int]] = []
        support_inds: List[List[List[int]]] = []
        metas: List[List[ClipMeta]] = []
        for i in range(n):
            if data_samples is None:  # every frame a clip frame
                frame_inds.append(list(range(f)))
                support_inds.append([[] for _ in range(f)])
                metas.append([ClipMeta(('item', i), t, 0) for t in range(f)])
                continue
            inds, sups, item_metas = [], [], []
            for t in range(len(data_samples[i])):
                info = data_samples[i][t].metainfo
                index = info.get('input_index', t)
                sup = list(info.get('support_input_indices', []))
                video = info.get('video_id')
                frame = info.get('frame_id', t)
                key = video if video is not None else \
                    ('image', info.get('img_id', info.get('img_path', i)))
                inds.append(int(index))
                sups.append([int(j) for j in sup])
                item_metas.append(ClipMeta(key, int(frame), len(sup)))
            frame_inds.append(inds)
            support_inds.append(sups)
            metas.append(item_metas)
        return TrackClips(frames, frame_inds, support_inds, metas)
