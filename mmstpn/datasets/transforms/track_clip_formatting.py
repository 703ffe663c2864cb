"""Pack track samples (key + reference frames, each with its own support
frames) for STPN trackers."""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import PackTrackInputs
from mmdet.registry import TRANSFORMS

from .formatting import PackClipInputs


@TRANSFORMS.register_module()
class PackTrackClipInputs(BaseTransform):
    """mmdet's ``PackTrackInputs`` for the clip frames, plus every clip
    frame's support frames.

    Input: a dict of per-frame lists, one entry per LOADED frame, in one of
    three layouts:

    - ``RefSupportFrameSample`` (training): ``clip_index`` (position in the
      clip, -1 for a support frame) and ``support_of`` (the clip index a
      support frame belongs to);
    - ``VideoSupportFrameSample`` (test, a video-level item): every frame is
      a clip frame and ``support_inds[j]`` lists the loaded frames that are
      frame ``j``'s support frames;
    - neither (e.g. a frame-level test item in online mode): every frame is a
      clip frame without support frames.

    Output: ``inputs``, a uint8 tensor ``(F, C, H, W)`` of every loaded frame
    once, in loading order, and ``data_samples``, the ``TrackDataSample`` that
    mmdet's ``PackTrackInputs`` builds from the clip frames alone (so
    ``key_frames_inds`` / ``ref_frames_inds`` index clip frames, as
    ``MaskTrackRCNN`` / ``QDTrack`` expect). Each clip frame's
    ``DetDataSample`` also carries ``input_index`` (its index in ``inputs``),
    ``support_input_indices`` (those of its support frames) and
    ``num_support``.

    Args:
        meta_keys (tuple[str], optional): Extra meta keys (see
            ``PackTrackInputs``).
    """

    def __init__(self, meta_keys: Optional[Tuple[str, ...]] = None) -> None:
        self.meta_keys = meta_keys
        self.track_packer = PackTrackInputs(meta_keys=meta_keys)

    @staticmethod
    def clip_structure(results: dict,
                       num: int) -> Tuple[List[int], List[List[int]]]:
        """Loaded-frame indices of the clip frames (in clip order) and of
        each clip frame's support frames.

        Args:
            results (dict): The per-frame lists.
            num (int): The number of loaded frames.

        Returns:
            tuple[list[int], list[list[int]]]: Clip frames, supports.
        """
        video = results.get('video_id')
        video = video[0] if isinstance(video, (list, tuple)) else video
        if 'clip_index' in results:
            clip_index = list(results['clip_index'])
            support_of = list(results['support_of'])
            order = sorted((c, j) for j, c in enumerate(clip_index) if c >= 0)
            if [c for c, _ in order] != list(range(len(order))):
                raise ValueError(
                    f'video {video!r}: clip_index {clip_index} does not '
                    'number the clip frames 0..T-1 exactly once')
            clip = [j for _, j in order]
            supports: List[List[int]] = [[] for _ in clip]
            for j, c in enumerate(support_of):
                if c >= 0:
                    if c >= len(clip):
                        raise ValueError(
                            f'video {video!r}: support frame {j} belongs to '
                            f'clip frame {c}, but the clip has {len(clip)}')
                    supports[c].append(j)
            return clip, supports
        if 'support_inds' in results:
            supports = [list(s) for s in results['support_inds']]
            bad = [s for s in supports if any(not 0 <= j < num for j in s)]
            if len(supports) != num or bad:
                raise ValueError(
                    f'video {video!r}: support_inds {supports} do not index '
                    f'the {num} loaded frames')
            return list(range(num)), supports
        return list(range(num)), [[] for _ in range(num)]

    def transform(self, results: dict) -> Dict[str, Any]:
        """Pack ``results`` (see the class docstring).

        Args:
            results (dict): Per-frame lists.

        Returns:
            dict: ``inputs`` (Tensor) and ``data_samples``
            (TrackDataSample).
        """
        imgs = results['img']
        if not isinstance(imgs, (list, tuple)):
            raise ValueError('PackTrackClipInputs expects per-frame lists '
                             '(put the loading transforms inside '
                             'TransformBroadcaster)')
        num = len(imgs)
        imgs = [img if img.ndim == 3 else img[..., None] for img in imgs]
        PackClipInputs._check_shapes(results, imgs,
                                     list(results.get('frame_id')
                                          or [None] * num))
        clip, supports = self.clip_structure(results, num)
        sub = {
            k: [v[j] for j in clip]
            if isinstance(v, (list, tuple)) and len(v) == num else v
            for k, v in results.items() if k != 'img'
        }
        packed = self.track_packer.transform(sub)
        track_sample = packed['data_samples']
        for t, (j, sup) in enumerate(zip(clip, supports)):
            track_sample[t].set_metainfo(
                dict(
                    input_index=j,
                    support_input_indices=list(sup),
                    num_support=len(sup)))
        frames = np.ascontiguousarray(np.stack(imgs).transpose(0, 3, 1, 2))
        return dict(inputs=torch.from_numpy(frames), data_samples=track_sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


