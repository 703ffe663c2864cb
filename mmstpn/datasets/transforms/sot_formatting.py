"""Pack a template crop, a search crop and its support crops."""
from typing import Sequence

import numpy as np
from mmcv.transforms import to_tensor
from mmdet.datasets.transforms import PackTrackInputs
from mmdet.registry import TRANSFORMS

SOT_META_KEYS = ('video_name', 'frame_role', 'num_support', 'crop_region',
                 'crop_scale')


@TRANSFORMS.register_module()
class PackSOTInputs(PackTrackInputs):
    """Pack one single-object-tracking training item.

    Input: the per-frame lists of ``SOTPairSample`` + ``SOTCropRegion``,
    frames in the order ``[template, search, support_1, ..., support_K]``
    (``frame_role``), ``img`` the crops (template and search crops differ in
    size), ``gt_bboxes`` / ``gt_bboxes_labels`` in each crop's pixels,
    ``img_id`` and the meta keys.

    Output::

        inputs = dict(template=uint8 (1, C, Ht, Wt),
                      search=uint8 (1 + K, C, Hs, Ws))  # search crop first
        data_samples = TrackDataSample(video_data_samples=[one DetDataSample
                                       per frame, in the input order])

    (mmdet's :class:`PackTrackInputs` packs the data samples: gt_instances
    from ``gt_bboxes`` / ``gt_bboxes_labels``, the meta keys per frame.)
    ``SOTDataPreprocessor`` batches it.

    Args:
        meta_keys (Sequence[str]): Added to mmdet's default meta keys.
            Defaults to ``SOT_META_KEYS``.
    """

    def __init__(self, meta_keys: Sequence[str] = SOT_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        """Pack the crops (see the class docstring).

        Args:
            results (dict): Per-frame lists.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        roles = results.get('frame_role')
        name = (results.get('video_name') or [None])[0]
        if roles is None or 'img' not in results:
            raise KeyError('PackSOTInputs needs the per-frame lists img and '
                           'frame_role (SOTPairSample + SOTCropRegion), got '
                           f'keys {sorted(results)}')
        if list(roles[:2]) != ['template', 'search'] or \
                any(r != 'support' for r in roles[2:]):
            raise ValueError(
                f'PackSOTInputs: sequence {name!r}: frames must be [template, '
                f'search, support...], got frame_role {list(roles)}')
        imgs = [np.ascontiguousarray(i) for i in results['img']]
        rest = {k: v for k, v in results.items() if k != 'img'}
        packed = super().transform(rest)
        crops = []
        for part in (imgs[:1], imgs[1:]):
            shapes = {i.shape for i in part}
            if len(shapes) != 1:
                raise ValueError(
                    f'PackSOTInputs: sequence {name!r}: search / support '
                    f'crops differ in shape: {sorted(shapes)}')
            crops.append(
                to_tensor(np.stack(part).transpose(0, 3, 1, 2).copy()))
        packed['inputs'] = dict(template=crops[0], search=crops[1])
        return packed
