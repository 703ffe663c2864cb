"""Selective, reproducible image corruptions of a clip (key / support frames).

The video counterpart of mmdet's ``Corrupt``: the 19 corruptions of the
`imagecorruptions <https://github.com/bethgelab/imagecorruptions>`_ module
(install the maintained fork ``imagecorruptions-imaug``; the PyPI package
``imagecorruptions`` 1.1.2 fails on ``glass_blur``, ``fog`` and
``gaussian_blur`` under numpy 2 / scikit-image >= 0.25), applied to the key
frame, to the support frames, or to both.
"""
import hashlib
import inspect
from typing import Dict, List, Optional, Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS

CLIP_CORRUPT_TARGETS = ('key', 'support', 'both')
#: the target of single-object-tracking items only (not a clip position)
SOT_CORRUPT_TARGETS = ('search', )

# imagecorruptions' groups (``get_corruption_names(subset)``), listed here so
# that configs and command lines can be checked without importing it.
CORRUPTION_GROUPS: Dict[str, List[str]] = dict(
    noise=['gaussian_noise', 'shot_noise', 'impulse_noise'],
    blur=['defocus_blur', 'glass_blur', 'motion_blur', 'zoom_blur'],
    weather=['snow', 'frost', 'fog', 'brightness'],
    digital=[
        'contrast', 'elastic_transform', 'pixelate', 'jpeg_compression'
    ],
    holdout=['speckle_noise', 'gaussian_blur', 'spatter', 'saturate'])
# the 15 corruptions of the COCO-C / ImageNet-C benchmark (mmdet's
# 'benchmark' set), then the 4 held-out ones
CORRUPTION_GROUPS['benchmark'] = (
    CORRUPTION_GROUPS['noise'] + CORRUPTION_GROUPS['blur'] +
    CORRUPTION_GROUPS['weather'] + CORRUPTION_GROUPS['digital'])
CORRUPTION_GROUPS['all'] = (
    CORRUPTION_GROUPS['benchmark'] + CORRUPTION_GROUPS['holdout'])
CORRUPTIONS = tuple(CORRUPTION_GROUPS['all'])


def _imagecorruptions():
    try:
        import imagecorruptions
    except ImportError as e:  # pragma: no cover - environment dependent
        raise ImportError(
            'ClipCorrupt needs the `imagecorruptions` module: pip install '
            'imagecorruptions-imaug (the maintained fork; PyPI\'s '
            'imagecorruptions 1.1.2 breaks under numpy 2)') from e
    return imagecorruptions


def frame_seed(key: str, corruption: str, severity: int,
               seed: int = 0) -> int:
    """A 32-bit seed derived from ``(key, corruption, severity, seed)``.

    Uses SHA-256, so the seed does not depend on the process (unlike
    ``hash``, which is salted).

    Args:
        key (str): Identifies the frame (its image path).
        corruption (str): The corruption name.
        severity (int): Its severity.
        seed (int): Mixed in. Defaults to 0.

    Returns:
        int: The seed, in ``[0, 2**32)``.
    """
    text = f'{key}|{corruption}|{int(severity)}|{int(seed)}'
    return int.from_bytes(
        hashlib.sha256(text.encode('utf-8')).digest()[:4], 'little')


@TRANSFORMS.register_module()
class ClipCorrupt(BaseTransform):
    """Corrupt the key frame and/or the support frames of a clip.

    Place it after ``TransformBroadcaster`` and before ``PackClipInputs``,
    where ``results['img']`` is the per-frame list of a clip, KEY FRAME FIRST
    then the support frames (``SupportFrameSample``'s order)::

        test_pipeline = [
            dict(type='SupportFrameSample', num_ref_imgs=14,
                 method='test_with_adaptive_stride'),
            dict(type='TransformBroadcaster', transforms=[...]),
            dict(type='ClipCorrupt', corruption='motion_blur', severity=3,
                 target='support'),
            dict(type='PackClipInputs')
        ]

    There the frames are corrupted at the size the network sees (after
    ``Resize``); to corrupt them at their source size, as mmdet's
    ``test_robustness.py`` does for images, split the broadcaster after
    ``LoadImageFromFile`` and put ``ClipCorrupt`` between the two parts
    (``insert_clip_corrupt(..., stage='loaded')`` of
    ``mmstpn/utils/robustness_utils/pipeline.py``).
    A plain single-image result (``img`` an array) is a clip of one key
    frame.

    ``target`` selects frames by POSITION in the clip:

    * ``'key'``: frame 0, the frame whose detections are evaluated;
    * ``'support'``: frames 1..K, the frames the prompts are computed from;
    * ``'both'``: all of them.

    What that means per test mode (``SupportFrameSample.method``):

    * ``test_with_adaptive_stride`` (offline, released): frame 0 of a video
      carries the K (=14) support frames spread over the video and the
      prompts computed from them serve the whole video; the other frames
      carry none. ``'key'``: every evaluated frame is corrupted, the
      prompts come from clean frames; ``'support'``: every evaluated frame
      is clean, the prompts come from corrupted frames; ``'both'``: all
      corrupted. (A support frame may be the same video frame as a key
      frame, e.g. frame 0: positions decide, not frame ids.)
    * ``test_with_fix_stride``: as above, per frame.
    * ``online`` (causal): a clip holds the key frame only; the backbone
      caches the frame's own (unprompted) pass and later frames use it as
      their support. A frame cannot be clean as key and corrupted as
      support (or vice versa), so ``'support'`` is not definable and
      raises a ValueError; ``'key'`` and ``'both'`` are identical and mean
      "every frame corrupted, for its own pass and for its later use as
      support".
    * a model without support frames (``num_ref_imgs=0``, the single-frame
      baseline): ``'support'`` changes nothing, ``'both'`` equals ``'key'``.
    * a single-object-tracking item of ``SOTPairSample`` (frames
      ``[template, search, supports...]`` with ``results['frame_role']``):
      ``'search'`` corrupts the search frame only (the frame the tracker's
      loss is computed on; template and supports stay as they are); the
      other targets keep their positional meaning.
    * a tracking clip of ``RefSupportFrameSample`` (key + reference frames,
      each followed by its own supports; ``results['clip_index']`` is the
      clip position of every loaded frame, -1 for a support frame): the
      clip frames play the key frame's part, so ``'key'`` corrupts every
      frame with ``clip_index >= 0`` (key AND reference frames, the frames
      a MaskTrack R-CNN / QDTrack loss is computed on) and ``'support'``
      every frame with ``clip_index == -1``.

    Determinism: the random state of each frame's corruption is seeded from
    ``(img_path, corruption, severity, seed)`` (see :func:`frame_seed`), so
    a video frame gets exactly the same corruption whether it is a key or a
    support frame, in every clip, run, process and data-loader worker.
    numpy's global random state is saved and restored around the call;
    ``impulse_noise`` and ``glass_blur``, which take their own seed, get the
    same seed. Frames without ``img_path`` are keyed by their content.

    Colour: ``imagecorruptions`` works on RGB images (e.g. ``frost`` blends
    an RGB texture, ``saturate`` works in HSV) while mmcv loads BGR; with
    ``channel_order='bgr'`` (default) the frames are converted to RGB for
    the corruption and back. (mmdet's ``Corrupt`` passes BGR as is.)

    Args:
        corruption (str): One of :data:`CORRUPTIONS`.
        severity (int): 1..5. The clean test (severity 0) has no
            ``ClipCorrupt``.
        target (str): 'key', 'support', 'both' or 'search' (SOT items).
            Defaults to 'both'.
        channel_order (str): Channel order of the frames, 'bgr' (mmcv's
            ``LoadImageFromFile`` default) or 'rgb'. Defaults to 'bgr'.
        seed (int): Mixed into every frame's seed. Defaults to 0.
        grey (bool): After the corruption, replace each corrupted frame by
            its luminance (``mmcv.bgr2gray`` / ``rgb2gray``, on all 3
            channels): colour gone as well. Defaults to False.
    """

    def __init__(self,
                 corruption: str,
                 severity: int = 1,
                 target: str = 'both',
                 channel_order: str = 'bgr',
                 seed: int = 0,
                 grey: bool = False) -> None:
        if corruption not in CORRUPTIONS:
            raise ValueError(f'unknown corruption {corruption!r}; choose one '
                             f'of {", ".join(CORRUPTIONS)}')
        if isinstance(severity, bool) or not isinstance(
                severity, (int, np.integer)) or not 1 <= severity <= 5:
            raise ValueError(
                f'severity must be an int in 1..5, got {severity!r} '
                '(severity 0 is the clean test: leave ClipCorrupt out)')
        if target not in CLIP_CORRUPT_TARGETS + SOT_CORRUPT_TARGETS:
            raise ValueError(
                'target must be one of '
                f'{CLIP_CORRUPT_TARGETS + SOT_CORRUPT_TARGETS}, got '
                f'{target!r}')
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError("channel_order must be 'bgr' or 'rgb', got "
                             f'{channel_order!r}')
        self.corruption = corruption
        self.severity = int(severity)
        self.target = target
        self.channel_order = channel_order
        self.seed = int(seed)
        self.grey = bool(grey)
        # fail early when the module is missing
        self._corrupt_fn = _imagecorruptions().corrupt
        func = _imagecorruptions().corruption_dict[corruption]
        self._takes_seed = 'seed' in inspect.signature(func).parameters

    # ------------------------------------------------------------------
    def target_indices(self,
                       num_frames: int,
                       support_mode: Optional[str] = None,
                       clip_index: Optional[Sequence[int]] = None,
                       frame_role: Optional[Sequence[str]] = None
                       ) -> List[int]:
        """Positions of the clip that are corrupted.

        Args:
            num_frames (int): 1 + K (or all loaded frames of a tracking
                clip).
            support_mode (str, optional): ``SupportFrameSample``'s mode of
                the clip ('frames' | 'offline' | 'online').
            clip_index (Sequence[int], optional): ``RefSupportFrameSample``'s
                per-frame clip position (-1: a support frame); when given,
                'key' means every clip frame.
            frame_role (Sequence[str], optional): ``SOTPairSample``'s
                per-frame role, needed by ``'search'``.

        Returns:
            list[int]: The positions.
        """
        if self.target == 'search':
            if frame_role is None or len(frame_role) != num_frames:
                raise ValueError(
                    "ClipCorrupt(target='search') needs a single-object-"
                    "tracking item with one frame_role per frame "
                    f"(SOTPairSample), got frame_role={frame_role!r} for "
                    f'{num_frames} frames')
            return [i for i, r in enumerate(frame_role) if r == 'search']
        if clip_index is not None:
            if len(clip_index) != num_frames:
                raise ValueError(
                    f'clip_index has {len(clip_index)} entries for '
                    f'{num_frames} frames')
            if self.target == 'both':
                return list(range(num_frames))
            want_clip = self.target == 'key'
            return [i for i, c in enumerate(clip_index)
                    if (c >= 0) == want_clip]
        if support_mode == 'online' and self.target == 'support':
            raise ValueError(
                "ClipCorrupt(target='support') is not definable in online "
                'mode: the clip holds the key frame only and its cached pass '
                "is the later frames' support. Use target='key' (= 'both' "
                'online: every frame corrupted for its own pass and as '
                'support) or an offline test pipeline')
        if self.target == 'key':
            return [0]
        if self.target == 'support':
            return list(range(1, num_frames))
        return list(range(num_frames))

    def corrupt_frame(self, img: np.ndarray, key: Optional[str]) -> np.ndarray:
        """Corrupt one frame deterministically.

        Args:
            img (np.ndarray): (H, W, 3) or (H, W) image, at least 32x32.
            key (str, optional): What identifies the frame (its path); the
                frame's content when None.

        Returns:
            np.ndarray: The corrupted uint8 frame, same shape.
        """
        if key is None:
            key = 'sha1:' + hashlib.sha1(
                np.ascontiguousarray(img).tobytes()).hexdigest()
        seed = frame_seed(key, self.corruption, self.severity, self.seed)
        src = img.astype(np.uint8)
        gray = src.ndim == 2 or src.shape[-1] == 1
        if not gray and self.channel_order == 'bgr':
            src = src[..., ::-1]
        kwargs = dict(seed=seed) if self._takes_seed else {}
        state = np.random.get_state()
        try:
            np.random.seed(seed)
            out = self._corrupt_fn(
                np.ascontiguousarray(src),
                corruption_name=self.corruption,
                severity=self.severity,
                **kwargs)
        finally:
            np.random.set_state(state)
        out = np.asarray(out, dtype=np.uint8)
        if gray:  # imagecorruptions returns 3 channels
            out = out[..., :1] if img.ndim == 3 else out[..., 0]
            return np.ascontiguousarray(out.reshape(img.shape))
        if self.channel_order == 'bgr':
            out = out[..., ::-1]
        if self.grey:
            to_grey = mmcv.bgr2gray if self.channel_order == 'bgr' else \
                mmcv.rgb2gray
            out = np.repeat(
                to_grey(np.ascontiguousarray(out), keepdim=True), 3, axis=2)
        return np.ascontiguousarray(out)

    def transform(self, results: dict) -> dict:
        """Corrupt the targeted frames of ``results['img']`` in place.

        Args:
            results (dict): A clip (per-frame lists, key frame first) or one
                image.

        Returns:
            dict: ``results`` with the targeted frames corrupted.
        """
        imgs = results['img']
        single = not isinstance(imgs, (list, tuple))
        frames = [imgs] if single else list(imgs)
        num = len(frames)
        paths = results.get('img_path')
        if not isinstance(paths, (list, tuple)):
            paths = [paths] * num if single else [None] * num
        mode = results.get('support_mode')
        if isinstance(mode, (list, tuple)):
            mode = mode[0] if mode else None
        done: Dict[str, np.ndarray] = {}
        clip_index = None if single else results.get('clip_index')
        roles = None if single else results.get('frame_role')
        for i in self.target_indices(num, mode, clip_index, roles):
            path = paths[i] if i < len(paths) else None
            key = None if path is None else str(path)
            if key is not None and key in done \
                    and done[key].shape[:2] == frames[i].shape[:2]:
                frames[i] = done[key].copy()  # a frame repeated in the clip
                continue
            frames[i] = self.corrupt_frame(frames[i], key)
            if key is not None:
                done[key] = frames[i]
        if single:
            results['img'] = frames[0]
        else:
            results['img'] = type(imgs)(frames) if isinstance(
                imgs, tuple) else frames
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, target={self.target!r}, '
                f'channel_order={self.channel_order!r}, seed={self.seed}, '
                f'grey={self.grey})')


def resolve_corruptions(names: Sequence[str]) -> List[str]:
    """Expand group names ('benchmark', 'all', 'noise', 'blur', 'weather',
    'digital', 'holdout') and check single names; keeps the order, drops
    repeats. ``'none'`` gives no corruption.

    Args:
        names (Sequence[str]): Groups and/or corruption names.

    Returns:
        list[str]: Corruption names.
    """
    out: List[str] = []
    for name in names:
        if name.lower() == 'none':
            continue
        if name in CORRUPTION_GROUPS:
            items = CORRUPTION_GROUPS[name]
        elif name in CORRUPTIONS:
            items = [name]
        else:
            raise ValueError(
                f'unknown corruption or group {name!r}; groups: '
                f'{", ".join(CORRUPTION_GROUPS)}; corruptions: '
                f'{", ".join(CORRUPTIONS)}')
        out.extend(i for i in items if i not in out)
    return out
