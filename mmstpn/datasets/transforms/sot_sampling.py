"""Template / search / support frame sampling for single-object tracking."""
import random
from typing import Dict, List, Optional, Sequence, Union

from mmdet.datasets.transforms.frame_sampling import BaseFrameSample
from mmdet.registry import TRANSFORMS

SOT_ROLES = ('template', 'search', 'support')


def _as_range(value: Union[int, Sequence[int]], name: str) -> List[int]:
    rng = [-value, value] if isinstance(value, int) else list(value)
    if len(rng) != 2 or rng[0] > 0 or rng[1] < 0:
        raise ValueError(f'{name} must be an int >= 0 or [lo, hi] with '
                         f'lo <= 0 <= hi, got {value!r}')
    return rng


@TRANSFORMS.register_module()
class SOTPairSample(BaseFrameSample):
    """Sample a template frame, a search frame and its support frames.

    Input: a whole sequence as :class:`~mmstpn.datasets.GOT10kDataset`
    gives it (``images`` with ``visible`` per frame, ``key_frame_id``
    optional: the template position, else a random visible frame). Output:
    the frames as a dict of lists in the order ``[template, search,
    support_1, ..., support_K]`` (ready for ``TransformBroadcaster``), plus
    one entry per frame of ``frame_role`` ('template' | 'search' |
    'support'), ``num_support`` (K of this sample) and the video keys.

    Only visible frames are sampled (``visible`` true; a frame without the
    key counts as visible):

    - template ``t``: ``key_frame_id``, else ``template_frame`` (e.g. 0:
      the first frame, whose box a tracker gets at test), else a random
      visible frame;
    - search ``s``: a random visible frame in ``[t + lo, t + hi]``
      (``frame_range``), other than ``t`` when ``filter_template_img`` and
      another exists; ``t`` itself when no other visible frame is in range;
    - supports: ``num_support`` visible frames strictly before ``s`` in
      ``[s + support_range[0], s)`` on the grid ``s - stride * j``, the
      most recent ones first drawn without repetition then, if fewer exist,
      repeated at random; sorted in time. Zero supports when ``s`` has no
      visible frame before it in range (STPN then uses the search frame as
      its own support, as for a one-frame video).

    Args:
        frame_range (int | Sequence[int]): Search window around the
            template. Defaults to 100.
        filter_template_img (bool): Avoid ``s == t``. Defaults to True.
        num_support (int): K. Defaults to 0.
        support_range (int): How far back supports may lie. Defaults to 10.
        stride (int): Support grid step. Defaults to 1.
        support_sampling (str): 'recent' (the K latest candidates) or
            'uniform' (K random candidates). Defaults to 'recent'.
        collect_video_keys (Sequence[str]): Video keys copied to every
            frame. Defaults to ('video_id', 'video_name', 'video_length').
        template_frame (int, optional): Fixed template position when the
            item has no ``key_frame_id`` (must be a visible frame of every
            sequence). Defaults to None (random).
    """

    def __init__(self,
                 frame_range: Union[int, Sequence[int]] = 100,
                 filter_template_img: bool = True,
                 num_support: int = 0,
                 support_range: int = 10,
                 stride: int = 1,
                 support_sampling: str = 'recent',
                 collect_video_keys: Sequence[str] = ('video_id',
                                                      'video_name',
                                                      'video_length'),
                 template_frame: Optional[int] = None):
        if template_frame is not None and (
                not isinstance(template_frame, int) or template_frame < 0):
            raise ValueError('template_frame must be None or an int >= 0, '
                             f'got {template_frame!r}')
        self.template_frame = template_frame
        self.frame_range = _as_range(frame_range, 'frame_range')
        if not isinstance(num_support, int) or num_support < 0:
            raise ValueError(f'num_support must be an int >= 0, got '
                             f'{num_support!r}')
        if not isinstance(support_range, int) or support_range < 1:
            raise ValueError(f'support_range must be an int >= 1, got '
                             f'{support_range!r}')
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f'stride must be an int >= 1, got {stride!r}')
        if support_sampling not in ('recent', 'uniform'):
            raise ValueError("support_sampling must be 'recent' or "
                             f"'uniform', got {support_sampling!r}")
        self.filter_template_img = filter_template_img
        self.num_support = num_support
        self.support_range = support_range
        self.stride = stride
        self.support_sampling = support_sampling
        super().__init__(collect_video_keys=list(collect_video_keys))

    @staticmethod
    def _visible(frames: List[dict]) -> List[int]:
        return [
            i for i, f in enumerate(frames)
            if f.get('visible', True) is not False
        ]

    def sample(self, frames: List[dict],
               template: Optional[int]) -> List[int]:
        """Positions ``[t, s, supports...]`` (see the class docstring).

        Args:
            frames (list[dict]): The sequence's frames.
            template (int, optional): Template position.

        Returns:
            list[int]: The sampled positions.
        """
        visible = self._visible(frames)
        if not visible:
            raise ValueError('no visible frame to sample from')
        if template is None:
            template = random.choice(visible)
        lo, hi = self.frame_range
        cands = [p for p in visible if template + lo <= p <= template + hi]
        if self.filter_template_img:
            cands = [p for p in cands if p != template] or [template]
        search = random.choice(cands or [template])
        supports: List[int] = []
        if self.num_support:
            vis = set(visible)
            pool = [
                search - self.stride * j for j in range(
                    1, self.support_range // self.stride + 1)
                if search - self.stride * j >= 0
                and search - self.stride * j in vis
            ]  # most recent first
            k = self.num_support
            if pool:
                if self.support_sampling == 'recent':
                    supports = pool[:k]
                else:
                    supports = random.sample(pool, min(k, len(pool)))
                supports += random.choices(pool, k=k - len(supports))
            supports.sort()
        return [template, search] + supports

    def transform(self, video_infos: dict) -> Dict[str, List]:
        """Sample one training item of the sequence.

        Args:
            video_infos (dict): The whole sequence.

        Returns:
            dict[str, list]: One entry per sampled frame for every key.
        """
        frames = video_infos['images']
        template = video_infos.get('key_frame_id')
        what = 'key_frame_id'
        if template is None and self.template_frame is not None:
            template, what = self.template_frame, 'template_frame'
        if template is not None and not 0 <= template < len(frames):
            raise ValueError(
                f'sequence {video_infos.get("video_name")!r}: {what} '
                f'{template} is outside its {len(frames)} frames')
        if template is not None and frames[template].get('visible') is False:
            raise ValueError(
                f'sequence {video_infos.get("video_name")!r}: template '
                f'frame {template}'
                f'{" (template_frame)" if what == "template_frame" else ""}'
                ' is not visible')
        try:
            inds = self.sample(frames, template)
        except ValueError as e:
            raise ValueError(f'sequence {video_infos.get("video_name")!r}: '
                             f'{e}') from None
        picked = [frames[i] for i in inds]
        keys = list(dict.fromkeys(k for f in picked for k in f))
        results = {k: [f.get(k) for f in picked] for k in keys}
        for key in self.collect_video_keys:
            results[key] = [video_infos.get(key)] * len(picked)
        results['frame_role'] = ['template', 'search'
                                 ] + ['support'] * (len(inds) - 2)
        results['num_support'] = [len(inds) - 2] * len(inds)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(frame_range={self.frame_range}, '
                f'filter_template_img={self.filter_template_img}, '
                f'num_support={self.num_support}, '
                f'support_range={self.support_range}, stride={self.stride}, '
                f'support_sampling={self.support_sampling!r}, '
                f'template_frame={self.template_frame})')
