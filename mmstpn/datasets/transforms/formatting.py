"""Pack a key frame and its support frames for a stock mmdet detector."""
from typing import Any, Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS

CLIP_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                  'scale_factor', 'flip', 'flip_direction', 'frame_id',
                  'frame_index', 'video_id', 'video_length', 'num_support',
                  'support_frame_ids')


@TRANSFORMS.register_module()
class PackClipInputs(BaseTransform):
    """Pack a clip (key frame first, then its support frames).

    Output: ``inputs``, a uint8 tensor ``(1+K, C, H, W)`` with the key frame
    first, and ``data_samples``, ONE ordinary ``DetDataSample`` of the key
    frame, packed by mmdet's ``PackDetInputs`` (``gt_instances``,
    ``ignored_instances``, masks, ...), so that stock detectors work
    unchanged. Its metainfo also carries ``support_frame_ids`` (the
    ``frame_id`` of each support frame) and ``num_support`` (K).

    Input: the dict of per-frame lists that ``SupportFrameSample`` +
    ``TransformBroadcaster`` produce; a plain single-image result (``img``
    an array) packs as a clip of one frame.

    Args:
        meta_keys (Sequence[str]): Keys of the key frame copied to the
            metainfo (those present). Defaults to ``CLIP_META_KEYS``.
        pack_instance_ids (bool): Also put ``gt_instances_ids`` (from
            ``LoadTrackAnnotations``) into ``gt_instances.instances_ids``.
            Defaults to False.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = CLIP_META_KEYS,
                 pack_instance_ids: bool = False) -> None:
        self.meta_keys = tuple(meta_keys)
        self.pack_instance_ids = pack_instance_ids
        self.det_packer = PackDetInputs(meta_keys=self.meta_keys)

    def transform(self, results: dict) -> Dict[str, Any]:
        """Pack ``results``.

        Args:
            results (dict): Per-frame lists (key frame first) or one frame.

        Returns:
            dict: ``inputs`` (Tensor) and ``data_samples`` (DetDataSample).
        """
        imgs = results['img']
        if isinstance(imgs, (list, tuple)):
            num = len(imgs)
            key = {
                k: v[0] if isinstance(v, (list, tuple)) and len(v) == num
                else v
                for k, v in results.items()
            }
            frame_ids = list(results.get('frame_id') or [None] * num)
        else:
            imgs, num, key = [imgs], 1, dict(results)
            frame_ids = [key.get('frame_id')]
        imgs = [img if img.ndim == 3 else img[..., None] for img in imgs]
        self._check_shapes(results, imgs, frame_ids)

        key['support_frame_ids'] = frame_ids[1:]
        key['num_support'] = num - 1
        packed = self.det_packer.transform(key)
        clip = np.ascontiguousarray(np.stack(imgs).transpose(0, 3, 1, 2))
        packed['inputs'] = torch.from_numpy(clip)
        if self.pack_instance_ids and 'gt_instances_ids' in key:
            ids = np.asarray(key['gt_instances_ids'])
            if 'gt_ignore_flags' in key:
                ids = ids[~np.asarray(key['gt_ignore_flags'], dtype=bool)]
            packed['data_samples'].gt_instances.instances_ids = \
                torch.from_numpy(ids)
        return packed

    @staticmethod
    def _check_shapes(results: dict, imgs: list, frame_ids: list) -> None:
        """Raise a ValueError when the frames of the clip differ in shape."""
        if len({img.shape for img in imgs}) <= 1:
            return
        video = results.get('video_id')
        video = video[0] if isinstance(video, (list, tuple)) else video
        paths = results.get('img_path')
        paths = paths if isinstance(paths, (list, tuple)) else [paths]
        frames = ', '.join(
            f'frame {fid} ({path}): {img.shape[:2]}'
            for fid, path, img in zip(frame_ids, paths, imgs))
        raise ValueError(
            f'video {video!r}: the frames of one clip have different shapes '
            f'after the pipeline ({frames}); all frames of a clip must share '
            'one size (share_random_params=True, same source size)')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(meta_keys={self.meta_keys}, '
                f'pack_instance_ids={self.pack_instance_ids})')
