# Copyright (c) OpenMMLab. All rights reserved.
"""Key + reference frames (mmdet's rule), each with its own support frames
(``SupportFrameSample``'s rules), for VIS / MOT trackers on STPN."""
import random
from typing import Dict, List, Optional, Sequence, Union

from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import UniformRefFrameSample
from mmdet.registry import TRANSFORMS

from .frame_sampling import SupportFrameSample


@TRANSFORMS.register_module()
class RefSupportFrameSample(BaseTransform):
    """Sample a clip of key + reference frames, then support frames for
    EACH clip frame.

    1. The clip: exactly mmdet's ``UniformRefFrameSample`` (``num_ref_imgs``
       reference positions drawn from ``[t + lo, t + hi]`` of the key
       position ``t``, the key excluded when ``filter_key_img``, repeated
       when the window is short, key copies in a one-frame video; the clip
       sorted by position), so a MaskTrack R-CNN / QDTrack clip is the one
       mmdet would sample.
    2. For every clip frame ``c``: ``SupportFrameSample(**support)
       .sample_support(N, c)`` (its methods and edge rules: e.g.
       'bilateral_uniform' with K=2, one-frame videos get 0 supports).

    Input: a whole video (``images``, ``video_id``, ``video_length``,
    optionally ``key_frame_id``), as mmdet's ``BaseVideoDataset`` /
    ``YouTubeVISDataset`` / ``MOTChallengeDataset`` give it. Positions count
    in ``images`` (in training mmdet's video datasets keep only the frames
    that pass ``filter_cfg`` there).

    Output: a dict of lists with one entry per loaded frame, grouped by clip
    frame: ``[clip 0, its supports..., clip 1, its supports..., ...]``
    (ready for ``TransformBroadcaster(share_random_params=True)``, which
    then gives every frame of the sample the same flip / resize), plus per
    frame:

    - ``key_frame_flags``: True for the key frame only (mmdet's key);
    - ``clip_index``: the frame's position in the clip (0..T-1), -1 for a
      support frame;
    - ``support_of``: the clip index a support frame belongs to, -1 for a
      clip frame;
    - ``num_support``: how many supports its clip frame has;
    - ``support_mode``: what ``sample_support`` returned for its clip frame;
    - ``video_length`` / ``ori_video_length``: the real video length.

    Args:
        num_ref_imgs (int): Reference frames of the clip (mmdet's
            ``UniformRefFrameSample``). Defaults to 1.
        frame_range (int | list[int]): Their window. Defaults to 10.
        filter_key_img (bool): Keep the key out of the reference window.
            Defaults to True.
        support (dict, optional): Arguments of
            :class:`~mmstpn.datasets.transforms.SupportFrameSample` (its
            ``num_ref_imgs`` is K, the supports per clip frame). Defaults to
            ``dict(num_ref_imgs=2, frame_range=9,
            method='bilateral_uniform')``.
        collect_video_keys (Sequence[str]): Video-level keys copied to every
            frame. Defaults to ('video_id', 'video_length').
    """

    def __init__(self,
                 num_ref_imgs: int = 1,
                 frame_range: Union[int, List[int]] = 10,
                 filter_key_img: bool = True,
                 support: Optional[dict] = None,
                 collect_video_keys: Sequence[str] = ('video_id',
                                                      'video_length')):
        support = dict(num_ref_imgs=2, frame_range=9,
                       method='bilateral_uniform') if support is None \
            else dict(support)
        if not isinstance(num_ref_imgs, int) or num_ref_imgs < 0:
            raise ValueError(f'num_ref_imgs must be an int >= 0, got '
                             f'{num_ref_imgs!r}')
        self.ref_sampler = UniformRefFrameSample(
            num_ref_imgs=num_ref_imgs,
            frame_range=frame_range,
            filter_key_img=filter_key_img)
        self.support_sampler = SupportFrameSample(
            collect_video_keys=collect_video_keys, **support)
        self.support = support
        self.collect_video_keys = list(collect_video_keys)

    def sample(self, num_frames: int, key: int) -> Dict[str, List]:
        """Positions of the clip and of every clip frame's supports.

        Args:
            num_frames (int): N, the frames of the video.
            key (int): The key frame's position.

        Returns:
            dict[str, list]: ``positions`` (loading order), ``clip_index``,
            ``support_of``, ``num_support``, ``support_mode`` and
            ``key_frame_flags``, one entry per loaded frame.
        """
        clip, flags = self.ref_sampler.sampling_frames(num_frames, key)
        out: Dict[str, List] = {
            k: []
            for k in ('positions', 'clip_index', 'support_of', 'num_support',
                      'support_mode', 'key_frame_flags')
        }
        for c, (pos, is_key) in enumerate(zip(clip, flags)):
            support, mode = self.support_sampler.sample_support(
                num_frames, pos)
            n = 1 + len(support)
            out['positions'] += [pos] + support
            out['clip_index'] += [c] + [-1] * len(support)
            out['support_of'] += [-1] + [c] * len(support)
            out['num_support'] += [len(support)] * n
            out['support_mode'] += [mode] * n
            out['key_frame_flags'] += [is_key] + [False] * len(support)
        return out

    def transform(self, video_infos: dict) -> Dict[str, List]:
        """Sample the clip and the supports (see the class docstring).

        Args:
            video_infos (dict): The whole video, optionally ``key_frame_id``.

        Returns:
            dict[str, list]: One entry per loaded frame.
        """
        num_frames = len(video_infos['images'])
        if num_frames == 0:
            raise ValueError(
                f'video {video_infos.get("video_id")!r} has no frames')
        key = video_infos.get('key_frame_id')
        if key is None:
            key = random.randrange(num_frames)
        if not isinstance(key, int) or not 0 <= key < num_frames:
            raise ValueError(
                f'video {video_infos.get("video_id")!r}: key_frame_id {key!r}'
                f' is outside its {num_frames} frames')
        sampled = self.sample(num_frames, key)
        results = self.support_sampler.prepare_data(video_infos,
                                                    sampled.pop('positions'))
        results.update(sampled)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}('
                f'num_ref_imgs={self.ref_sampler.num_ref_imgs}, '
                f'frame_range={self.ref_sampler.frame_range}, '
                f'filter_key_img={self.ref_sampler.filter_key_img}, '
                f'support={self.support}, '
                f'collect_video_keys={self.collect_video_keys})')
