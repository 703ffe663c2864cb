"""Support-frame sampling for STPN (MMTracking's option names)."""
import random
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmdet.datasets.transforms.frame_sampling import BaseFrameSample
from mmdet.registry import TRANSFORMS

from mmstpn.structures import SupportPolicy

TEST_METHODS = ('test_with_adaptive_stride', 'test_with_fix_stride', 'online')
SAMPLING_METHODS = ('uniform', 'bilateral_uniform', 'from_model') + \
    TEST_METHODS


def _draw(pool: List[int], num: int) -> List[int]:
    """``num`` items of ``pool``, without repetition when it is big enough,
    else all of it plus random repeats. Sorted."""
    if not pool or num <= 0:
        return []
    if len(pool) >= num:
        return sorted(random.sample(pool, num))
    return sorted(pool + random.choices(pool, k=num - len(pool)))


@TRANSFORMS.register_module()
class SupportFrameSample(BaseFrameSample):
    """Sample a key frame's support frames from its video.

    Input: a whole video (``images``, ``video_id``, ...) with
    ``key_frame_id`` (the key frame's position in ``images``; random when
    absent), as :class:`~mmstpn.datasets.CocoVIDDataset` provides. Output:
    the sampled frames as a dict of lists, KEY FRAME FIRST then the support
    frames (ready for ``TransformBroadcaster``), plus, also as one entry per
    frame so that ``TransformBroadcaster`` can scatter them:
    ``key_frame_flags``, ``num_support`` and ``support_mode`` ('frames' |
    'offline' | 'online': what was loaded, for later pipeline steps such as
    ``ClipCorrupt``; it is not packed and never reaches the model, whose
    test-time policy is ``model.backbone.test_support``).
    ``video_length`` is the real length of the video.

    Positions, ranges and strides count frames of the video in
    ``frame_id`` order (equal to ``frame_id`` offsets for contiguous ids).
    With ``K = num_ref_imgs`` and key position ``t`` in a video of ``N``
    frames:

    - ``'uniform'``: K frames drawn at random from
      ``[t + lo, t + hi]`` (``frame_range``), on the grid ``t + stride*j``,
      without ``t`` when ``filter_key_img``.
    - ``'bilateral_uniform'`` (released training, K=2, frame_range=9):
      K/2 frames from ``[t + lo, t)`` and K/2 from ``(t, t + hi]`` (``t``
      included on both sides when not ``filter_key_img``); K must be even.
    - ``'test_with_adaptive_stride'`` (released test, K=14): the key frame
      at position 0 carries K frames at ``round(i*(N-1)/(K-1))``,
      ``i=0..K-1``, spread over the WHOLE video (``N-1`` over 2 for K=1);
      every other frame carries none and reuses the video's prompts
      (mode 'offline').
    - ``'test_with_fix_stride'``: frames ``t + stride*j`` for
      ``j = -K//2..-1, 1..K-K//2``, clipped to ``[0, N-1]``; recomputed for
      every frame (mode 'frames').
    - ``'online'``: causal; loads no support frames (the backbone keeps
      every stride-th frame's embedding and uses the K latest before ``t``).
    - ``'from_model'`` (test pipelines of mmstpn's configs): the method, K
      and stride of the model's ``test_support`` policy, handed over by
      ``VideoContextHook`` before val / test (``offline`` ->
      'test_with_adaptive_stride', ``online`` -> 'online', ``frames`` ->
      'test_with_fix_stride'). Used before that, it raises an error.

    Edge rules (never an error): a window with fewer than the wanted frames
    is sampled with repetition from what it has; when one side of
    'bilateral_uniform' is empty (key at an end) both halves come from the
    other side; when no candidate exists, e.g. a one-frame video (ImageNet
    DET), the key frame gets 0 support frames and the backbone uses the key
    frame as its own support, which equals K copies of it for all DVP
    predictors (they are invariant to duplicated frames). At test, K larger
    than the video repeats frames in the spread (a one-frame video under
    'test_with_adaptive_stride' carries K copies of its frame, since offline
    mode needs frame 0 to carry supports).

    Args:
        num_ref_imgs (int): K, the number of support frames. Defaults to 2.
        frame_range (int | Sequence[int]): Window ``[lo, hi]`` around the
            key frame for the training methods; an int r means ``[-r, r]``.
            Defaults to 9.
        stride (int): Grid step for 'uniform' / 'bilateral_uniform' /
            'test_with_fix_stride', S for 'online'. Defaults to 1.
        filter_key_img (bool): Keep the key frame out of the training
            windows. Defaults to True.
        method (str): One of ``SAMPLING_METHODS``. Defaults to
            'bilateral_uniform'.
        collect_video_keys (Sequence[str]): Video-level keys copied to every
            frame. Defaults to ('video_id', 'video_length').
    """

    def __init__(self,
                 num_ref_imgs: int = 2,
                 frame_range: Union[int, Sequence[int]] = 9,
                 stride: int = 1,
                 filter_key_img: bool = True,
                 method: str = 'bilateral_uniform',
                 collect_video_keys: Sequence[str] = ('video_id',
                                                      'video_length')):
        if method not in SAMPLING_METHODS:
            raise ValueError(f'method must be one of {SAMPLING_METHODS}, '
                             f'got {method!r}')
        if not isinstance(num_ref_imgs, int) or num_ref_imgs < 0:
            raise ValueError(f'num_ref_imgs must be an int >= 0, got '
                             f'{num_ref_imgs!r}')
        if method == 'bilateral_uniform' and num_ref_imgs % 2:
            raise ValueError('bilateral_uniform needs an even num_ref_imgs, '
                             f'got {num_ref_imgs}')
        if method in TEST_METHODS:
            if num_ref_imgs < 1:
                raise ValueError(f'{method} needs num_ref_imgs >= 1')
        if isinstance(frame_range, int):
            frame_range = [-frame_range, frame_range]
        frame_range = list(frame_range)
        if len(frame_range) != 2 or frame_range[0] > 0 or frame_range[1] < 0:
            raise ValueError('frame_range must be an int >= 0 or [lo, hi] '
                             f'with lo <= 0 <= hi, got {frame_range}')
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f'stride must be an int >= 1, got {stride!r}')
        self.num_ref_imgs = num_ref_imgs
        self.frame_range = frame_range
        self.stride = stride
        self.filter_key_img = filter_key_img
        self.method = method
        self.policy: Optional[SupportPolicy] = None
        super().__init__(collect_video_keys=list(collect_video_keys))

    # ------------------------------------------------------------- policy
    def set_test_policy(self, policy: SupportPolicy) -> None:
        """Take the model's test-time policy (``VideoContextHook``).

        A ``'from_model'`` transform samples as the policy says; a transform
        with an explicit test method must agree with it; a training method
        ignores it.

        Args:
            policy (SupportPolicy): The model's policy.

        Raises:
            ValueError: An explicit test method, K or stride that disagrees
                with the policy (the message names both settings).
        """
        if self.method == 'from_model':
            self.policy = policy
            return
        if self.method not in TEST_METHODS:
            return  # a training pipeline: nothing to derive
        mine = (self.method, self.num_ref_imgs,
                self.stride if self.method != 'test_with_adaptive_stride'
                else 1)
        wanted = (policy.pipeline_method, policy.num_support,
                  policy.stride if policy.mode != 'offline' else 1)
        if mine != wanted:
            raise ValueError(
                f'the test pipeline has SupportFrameSample(method='
                f'{self.method!r}, num_ref_imgs={self.num_ref_imgs}, stride='
                f'{self.stride}) but the model has {policy.describe()}, '
                f'which needs method={policy.pipeline_method!r}, '
                f'num_ref_imgs={policy.num_support}, stride={policy.stride}'
                ". Use SupportFrameSample(method='from_model') to derive it")

    def _effective(self) -> Tuple[str, int, int]:
        """(method, K, stride) this transform samples with."""
        if self.method != 'from_model':
            return self.method, self.num_ref_imgs, self.stride
        if self.policy is None:
            raise RuntimeError(
                "SupportFrameSample(method='from_model') got no test policy: "
                "add custom_hooks=[dict(type='VideoContextHook')] to the "
                'config so it is read from model.backbone.test_support '
                'before val / test (or call set_test_policy)')
        return (self.policy.pipeline_method, self.policy.num_support,
                self.policy.stride)

    # ------------------------------------------------------------- sampling
    def sample_support(self, num_frames: int,
                       key: int) -> Tuple[List[int], str]:
        """Support positions of key position ``key`` in a video.

        Args:
            num_frames (int): N, the frames of the video.
            key (int): t, the key frame's position.

        Returns:
            tuple[list[int], str]: Support positions and the support mode.
        """
        method, k, stride = self._effective()
        if method == 'online':
            return [], 'online'
        if method == 'test_with_adaptive_stride':
            if key != 0:
                return [], 'offline'
            if k == 1:
                return [(num_frames - 1) // 2], 'offline'
            step = (num_frames - 1) / (k - 1)
            return [round(i * step) for i in range(k)], 'offline'
        if num_frames == 1:
            return [], 'frames'
        if method == 'test_with_fix_stride':
            left = k // 2
            offsets = list(range(-left, 0)) + list(range(1, k - left + 1))
            return [
                min(max(key + j * stride, 0), num_frames - 1)
                for j in offsets
            ], 'frames'
        lo, hi = self.frame_range
        if method == 'uniform':
            return _draw(self._window(num_frames, key, lo, hi), k), 'frames'
        # bilateral_uniform
        left = self._window(num_frames, key, lo, 0)
        right = self._window(num_frames, key, 0, hi)
        if left and right:
            return _draw(left, k // 2) + _draw(right, k // 2), 'frames'
        return _draw(left or right, k), 'frames'

    def _window(self, num_frames: int, key: int, lo: int,
                hi: int) -> List[int]:
        """Positions in ``[key+lo, key+hi]`` on the grid ``key + stride*j``,
        without the key frame when ``filter_key_img``."""
        start, stop = max(0, key + lo), min(num_frames - 1, key + hi)
        return [
            p for p in range(start, stop + 1)
            if (p - key) % self.stride == 0 and not (
                self.filter_key_img and p == key)
        ]

    # ------------------------------------------------------------- packing
    def prepare_data(self, video_infos: dict,
                     sampled_inds: List[int]) -> Dict[str, List]:
        """Frames ``sampled_inds`` of the video as a dict of lists.

        Unlike ``BaseFrameSample.prepare_data``, leaves the input untouched,
        keeps ``video_length`` the real video length and fills keys that some
        frames lack with None (so every list has one entry per frame).

        Args:
            video_infos (dict): The whole video.
            sampled_inds (list[int]): Positions, key frame first.

        Returns:
            dict[str, list]: One entry per sampled frame for every key.
        """
        frames = [video_infos['images'][i] for i in sampled_inds]
        keys = list(dict.fromkeys(k for f in frames for k in f))
        results = {k: [f.get(k) for f in frames] for k in keys}
        for key in self.collect_video_keys:
            results[key] = [video_infos[key]] * len(frames)
        if 'video_length' in self.collect_video_keys:
            results['ori_video_length'] = results['video_length']
        return results

    def transform(self, video_infos: dict) -> Dict[str, List]:
        """Sample the key frame's clip (see the class docstring).

        Args:
            video_infos (dict): The whole video, optionally ``key_frame_id``.

        Returns:
            dict[str, list]: The clip, key frame first.
        """
        num_frames = len(video_infos['images'])
        key = video_infos.get('key_frame_id')
        if key is None:
            key = random.randrange(num_frames)
        if not 0 <= key < num_frames:
            raise ValueError(
                f'video {video_infos.get("video_id")!r}: key_frame_id {key} '
                f'is outside its {num_frames} frames')
        support, mode = self.sample_support(num_frames, key)
        results = self.prepare_data(video_infos, [key] + support)
        n = 1 + len(support)
        results['key_frame_flags'] = [True] + [False] * len(support)
        results['support_mode'] = [mode] * n
        results['num_support'] = [len(support)] * n
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_ref_imgs={self.num_ref_imgs}, '
                f'frame_range={self.frame_range}, stride={self.stride}, '
                f'filter_key_img={self.filter_key_img}, '
                f'method={self.method!r}, '
                f'collect_video_keys={self.collect_video_keys})')
