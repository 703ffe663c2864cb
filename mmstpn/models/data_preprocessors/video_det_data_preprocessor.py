"""Data preprocessor that hands a stock detector (N, 1+K, C, H, W) clips."""
from typing import List, Optional, Sequence

import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.models.data_preprocessors.track_data_preprocessor import \
    stack_track_batch
from mmdet.models.utils.misc import samplelist_boxtype2tensor
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from torch import Tensor

from mmstpn.structures import ClipBatch, ClipMeta
from .input_checks import (check_std, describe_frame, first_non_finite_frame,
                           non_finite_error)


@MODELS.register_module()
class VideoDetDataPreprocessor(DetDataPreprocessor):
    """Normalise, pad and batch clips of a key frame and its support frames.

    Input ``inputs``: a list of ``(T_i, C, H_i, W_i)`` (key frame first, as
    ``PackClipInputs`` packs) or ``(C, H_i, W_i)`` tensors (a stacked
    ``(N, T, C, H, W)`` / ``(N, C, H, W)`` tensor also works). All frames
    get the same BGR->RGB conversion and normalisation, are padded at the
    bottom / right to one batch size (``pad_size_divisor``), and every item
    is padded to ``T_max`` frames with zero frames. Output ``inputs``: a
    :class:`~mmstpn.structures.ClipBatch` of ``(N, T_max, C, H, W)`` frames
    with one :class:`~mmstpn.structures.ClipMeta` per item (``video_id``,
    ``frame_index`` or ``frame_id`` of the sample's metainfo and
    ``num_support = T_i - 1``; an item without ``video_id`` is a one-frame
    video keyed by its image). Stock detectors hand it to the backbone
    untouched. ``data_samples`` stay the key frames' ``DetDataSample``s with
    ``batch_input_shape`` and ``pad_shape`` set and, when asked, gt masks /
    semantic maps padded by the parent's helpers.

    Floating-point inputs are checked for NaN / inf pixels (an error names
    the batch item, the video, the key frame's image and which frame of the
    clip: the key frame or support frame ``frame_id``); decoded uint8
    frames need no check. A zero in ``std`` is an error.

    Args:
        batch_augments (list[dict], optional): Not supported (they would
            transform key frames but not their support frames); must be
            None.
        **kwargs: See :class:`mmdet.models.DetDataPreprocessor` (mean, std,
            pad_size_divisor, pad_value, pad_mask, mask_pad_value, pad_seg,
            seg_pad_value, bgr_to_rgb, rgb_to_bgr, boxtype2tensor,
            non_blocking).
    """

    def __init__(self,
                 batch_augments: Optional[List[dict]] = None,
                 **kwargs) -> None:
        if batch_augments:
            raise NotImplementedError(
                'VideoDetDataPreprocessor does not support batch_augments: '
                'they would change the key frames but not their support '
                'frames. Put the augmentation in the data pipeline inside '
                'TransformBroadcaster(share_random_params=True) instead.')
        super().__init__(batch_augments=None, **kwargs)
        if self._enable_normalize:
            check_std(type(self).__name__, self.std)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch of clips.

        Args:
            data (dict): ``inputs`` and optionally ``data_samples`` from the
                dataloader (``pseudo_collate``).
            training (bool): Whether this is a training step (pads masks).

        Returns:
            dict: ``inputs`` (:class:`~mmstpn.structures.ClipBatch`) and
            ``data_samples``.
        """
        data = self.cast_data(data)
        data_samples = data.get('data_samples')
        clips = self._as_clips(data['inputs'])
        self._check_finite(clips, data_samples)
        clips = [self._normalize(c) for c in clips]
        pad_shapes = self._get_pad_shape({'inputs': [c[0] for c in clips]})
        num_frames = [c.shape[0] for c in clips]
        t_max = max(num_frames)
        clips = [
            torch.cat([c, c.new_zeros(t_max - c.shape[0], *c.shape[1:])])
            if c.shape[0] < t_max else c for c in clips
        ]
        inputs = stack_track_batch(clips, self.pad_size_divisor,
                                   self.pad_value).contiguous()
        if data_samples is not None:
            batch_input_shape = tuple(inputs.shape[-2:])
            for sample, pad_shape in zip(data_samples, pad_shapes):
                sample.set_metainfo({
                    'batch_input_shape': batch_input_shape,
                    'pad_shape': pad_shape
                })
            if self.boxtype2tensor:
                samplelist_boxtype2tensor(data_samples)
            if self.pad_mask and training:
                self.pad_gt_masks(data_samples)
            if self.pad_seg and training:
                self.pad_gt_sem_seg(data_samples)
        metas = self.clip_metas(data_samples, num_frames)
        return dict(
            inputs=ClipBatch(inputs, metas), data_samples=data_samples)

    @staticmethod
    def clip_metas(data_samples: Optional[Sequence[DetDataSample]],
                   num_frames: Sequence[int]) -> List[ClipMeta]:
        """One ClipMeta per item from its metainfo (see the class doc).

        Args:
            data_samples (Sequence[DetDataSample], optional): Key frames.
            num_frames (Sequence[int]): T_i of each item.

        Returns:
            list[ClipMeta]: The metadata for the backbone.
        """
        samples = data_samples if data_samples is not None else \
            [None] * len(num_frames)
        metas = []
        for i, (sample, t) in enumerate(zip(samples, num_frames)):
            info = sample.metainfo if sample is not None else {}
            if info.get('video_id') is None:
                key = ('image', info.get('img_id', info.get('img_path', i)))
                metas.append(ClipMeta(key, 0, t - 1))
                continue
            frame = info.get('frame_index', info.get('frame_id', 0))
            metas.append(ClipMeta(info['video_id'], int(frame), t - 1))
        return metas

    # ------------------------------------------------------------ internals
    def _check_finite(self, clips: Sequence[Tensor],
                      data_samples: Optional[Sequence[DetDataSample]]
                      ) -> None:
        """NaN / inf pixels are an error naming the item and the frame."""
        for i, clip in enumerate(clips):
            t = first_non_finite_frame(clip)
            if t is None:
                continue
            info = data_samples[i].metainfo if data_samples else {}
            support = list(info.get('support_frame_ids') or [])
            if t == 0:
                what = f'its key frame ({describe_frame(info)})'
            else:
                frame = support[t - 1] if t - 1 < len(support) else '?'
                what = (f'support frame {t} of the clip (frame_id {frame}; '
                        f'key frame: {describe_frame(info)})')
            raise non_finite_error(type(self).__name__, i, what)

    @staticmethod
    def _as_clips(inputs) -> List[Tensor]:
        """Collated inputs -> list of (T, C, H, W) tensors."""
        if isinstance(inputs, Tensor):
            inputs = list(inputs)
        clips = []
        for i, x in enumerate(inputs):
            if not isinstance(x, Tensor) or x.dim() not in (3, 4):
                shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
                raise ValueError(
                    'VideoDetDataPreprocessor expects (T, C, H, W) or '
                    f'(C, H, W) tensors, got {shape} for batch item {i}')
            clips.append(x if x.dim() == 4 else x.unsqueeze(0))
        channels = {c.shape[1] for c in clips}
        if len(channels) > 1:
            raise ValueError(
                f'batch items have different channel counts: {channels}')
        return clips

    def _normalize(self, clip: Tensor) -> Tensor:
        """Channel conversion (3-channel frames), float, normalisation."""
        if self._channel_conversion and clip.shape[1] == 3:
            clip = clip[:, [2, 1, 0]]
        clip = clip.float()
        if self._enable_normalize:
            if self.mean.shape[0] not in (1, clip.shape[1]):
                raise ValueError(
                    f'mean/std have {self.mean.shape[0]} values but the '
                    f'frames have {clip.shape[1]} channels')
            clip = (clip - self.mean) / self.std
        return clip

