"""Data preprocessor of the one-stream tracker (template, search,
supports)."""
from typing import List

import torch
from mmdet.models.data_preprocessors import TrackDataPreprocessor
from mmdet.registry import MODELS
from torch import Tensor

from mmstpn.structures import ClipBatch, ClipMeta
from .input_checks import (describe_frame, first_non_finite_frame,
                           non_finite_error)


@MODELS.register_module()
class SOTDataPreprocessor(TrackDataPreprocessor):
    """Normalise and batch single-object-tracking inputs.

    Training input (``PackSOTInputs`` after ``SOTPairSample`` +
    ``SOTCropRegion``), per item::

        inputs = dict(template=(1, C, Ht, Wt) uint8 crop,
                      search=(1 + K_i, C, Hs, Ws): the search crop, then its
                             K_i support search crops (earlier frames))
        data_samples = TrackDataSample(video_data_samples=[template, search,
                                       support_1, ...]) with metainfo
                       frame_role, frame_id, video_id / video_name, and
                       gt_instances.bboxes in each crop's pixels

    Output: ``inputs=dict(template=(N, C, Ht, Wt), search=ClipBatch)``: the
    search crops are the key frames of a :class:`~mmstpn.structures.
    ClipBatch` (``(N, 1 + K_max, C, Hs, Ws)``, zero padded) with one
    ``ClipMeta(video_key, frame_id of the search frame, K_i)`` per item
    (``K_i = 0``: the search crop is its own support). Crops of one role
    must share their size (no padding: the crop sizes are fixed).

    Test input (mmdet's ``PackTrackInputs``: a list of ``(1, C, H, W)``
    whole frames): :class:`~mmdet.models.TrackDataPreprocessor`'s output,
    ``(N, 1, C, H, W)``.

    Floating-point crops are checked for NaN / inf pixels (an error names
    the batch item, the crop and its video / frame / image).

    Args:
        **kwargs: See :class:`mmdet.models.TrackDataPreprocessor` (mean,
            std, bgr_to_rgb, pad_size_divisor, ...).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch (see the class docstring).

        Args:
            data (dict): ``inputs`` and ``data_samples`` (pseudo_collate).
            training (bool): Training step.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        if not isinstance(data.get('inputs'), dict):
            return super().forward(data, training)
        data = self.cast_data(data)
        inputs, samples = data['inputs'], data.get('data_samples')
        for key in ('template', 'search'):
            if key not in inputs:
                raise KeyError(f'SOTDataPreprocessor: inputs has no {key!r} '
                               f'(keys {sorted(inputs)}); pack with '
                               'PackSOTInputs')
        for key in ('template', 'search'):
            self._check_finite(key, inputs[key], samples)
        templates = self._stack('template',
                                [self._norm(t) for t in inputs['template']])
        searches = [self._norm(s) for s in inputs['search']]
        if templates.shape[1] != 1:
            raise ValueError('SOTDataPreprocessor: each item needs exactly '
                             'one template crop, got '
                             f'{templates.shape[1]}')
        key = self._stack('search', [s[:1] for s in searches])
        counts = [s.shape[0] - 1 for s in searches]
        frames = key.new_zeros(key.shape[0], 1 + max(counts),
                               *key.shape[2:])
        for i, s in enumerate(searches):
            frames[i, :s.shape[0]] = s
        metas = [
            self._meta(samples, i, k) for i, k in enumerate(counts)
        ]
        return dict(
            inputs=dict(
                template=templates[:, 0].contiguous(),
                search=ClipBatch(frames.contiguous(), metas)),
            data_samples=samples)

    def _norm(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError('SOTDataPreprocessor: expected (T, C, H, W) '
                             f'crops per item, got {tuple(x.shape)}')
        if self._channel_conversion and x.shape[1] == 3:
            x = x[:, [2, 1, 0]]
        x = x.float()
        if self._enable_normalize:
            x = (x - self.mean) / self.std
        return x

    def _check_finite(self, role: str, crops: List[Tensor],
                      samples) -> None:
        """NaN / inf pixels are an error naming the item and the crop
        (template, search or its k-th support crop)."""
        for i, x in enumerate(crops):
            t = first_non_finite_frame(x)
            if t is None:
                continue
            frames = samples[i].video_data_samples if samples else []
            pos = 0 if role == 'template' else 1 + t
            info = frames[pos].metainfo if pos < len(frames) else {}
            what = f'{role} crop' if role == 'template' or t == 0 else \
                f'support search crop {t}'
            raise non_finite_error(type(self).__name__, i,
                                   f'the {what} ({describe_frame(info)})')

    @staticmethod
    def _stack(role: str, crops: List[Tensor]) -> Tensor:
        shapes = {tuple(c.shape[-2:]) for c in crops}
        if len(shapes) != 1:
            raise ValueError(f'SOTDataPreprocessor: {role} crops of one '
                             f'batch differ in size: {sorted(shapes)}')
        return torch.stack(crops)

    @staticmethod
    def _meta(samples, index: int, num_support: int) -> ClipMeta:
        if samples is None:
            return ClipMeta(index, 0, num_support)
        frames = samples[index].video_data_samples
        roles = [f.metainfo.get('frame_role') for f in frames]
        pos = roles.index('search') if 'search' in roles else 1
        meta = frames[min(pos, len(frames) - 1)].metainfo
        video = meta.get('video_id', meta.get('video_name', index))
        return ClipMeta(video, int(meta.get('frame_id', 0) or 0),
                        num_support)
