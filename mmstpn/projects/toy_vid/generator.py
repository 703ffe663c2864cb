"""A small synthetic deteriorated-video data set in CocoVID format (the
generator behind ``tools/misc/generate_toy_vid.py`` and
``tools/misc/toy_vid_experiment.py``).

Built for one experiment: a detector that gets spatio-temporal prompts
from clean neighbouring frames (STPN) should beat the same detector without
prompts on the deteriorated frames. Every design choice serves that:

* **Classes differ only in fine texture** (period 6-7.5 px, luminance
  only, zero mean, equal energy): horizontal stripes, vertical stripes,
  checkerboard (both diagonals) and diagonal stripes (one diagonal). All
  four share one radial frequency ``1/P``, the same silhouette family
  (superellipses ``|u/a|^n + |v/b|^n <= 1``, ``n`` in [2, 5]), the same
  sizes and the same base-colour distribution, so neither shape, size,
  brightness, colour nor texture energy tells the class; only the
  orientation structure of the texture does.
* **One class per video** (1 or 2 objects, same class), so a video's clean
  frames tell the class of every frame: what global prompts can carry.
* **Smooth backgrounds** (a linear gradient plus a few wide Gaussian blobs,
  no fine texture), class-independent, in a luminance range that contrasts
  with the objects (dark background and bright objects or the reverse), so
  the silhouette stays detectable in every frame.
* **Deteriorated frames** (``deteriorated_ratio`` of the frames, never two
  adjacent ones, so both temporal neighbours of a deteriorated frame are
  clean) get one of five kinds, each of which removes the texture band
  (the residual texture amplitude is ~1% or less) while keeping the
  silhouette. The strengths below are the reference ones for a 3.7 px
  grating; every blur sigma, kernel size and the down-sampling factor is
  multiplied by ``_STRENGTH`` (6.75 / 3.7, the ratio of the mean periods)
  so the coarser texture is removed just as well:

  - ``motion_blur``: a streak of 7-13 px along the object's direction of
    motion combined with camera shake (Gaussian, sigma 2.0-2.4);
  - ``defocus``: a disc of radius 3-4.5 px combined with a Gaussian
    (sigma 1.7-2.1);
  - ``noise``: low light, i.e. the camera's denoising blur (sigma 2.0-2.4)
    plus strong grain (Gaussian noise, sigma 18-28 grey levels);
  - ``occlusion``: a flat bar (random colour) across the middle 35-55% of
    each object, extending beyond it, with the frame out of focus
    (sigma 2.0-2.4) as when the camera focuses on the near occluder; the
    object's ends stay visible so its box is still well defined (the
    annotation keeps the full box and gets ``occluded: true``);
  - ``low_res``: anti-aliasing blur (sigma 1.6) then down-sampling by 4-5
    (area) and bilinear up-sampling.

* **Motion**: each video gets a speed tier (slow / medium / fast, balanced
  over the videos) chosen so that the FGFA/MEGA motion split (mean IoU of a
  box with the same instance's boxes in frames t-10..t+10, t excluded;
  slow > 0.9, medium 0.7-0.9, fast < 0.7; measured by
  ``mmstpn.evaluation.functional.compute_motion_ious``) is populated in all
  three splits. Objects follow smooth curved paths and bounce off the borders:
  they always stay entirely inside the frame.

All frames get mild sensor noise (sigma 2.5) and are stored as JPEG
(quality 92), which keeps the clean texture intact.

File layout (``out_dir``)::

    train.json, val.json                 CocoVID annotations
    frames/<split>/<video>/<frame:06d>.jpg

``file_name`` in the json is relative to ``out_dir/frames``, so a config
uses ``data_root=out_dir, ann_file='train.json',
data_prefix=dict(img_path='frames/')``. Box coordinates follow the
continuous COCO convention (``x2 = x + w``).

Generation is deterministic for a seed: every video draws from its own
generator seeded by ``(seed, split, video index)``, so enlarging a split
appends videos without changing the earlier ones. The images of the json
carry ``deteriorated`` (bool) and ``deterioration`` (kind or None), train
images also ``is_vid_train_frame`` (True); the json's ``info`` records the
generator's arguments.

Only numpy and OpenCV are needed; nothing here imports torch or mmdet.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'TEXTURE_CLASSES', 'DETERIORATION_KINDS', 'LAYOUTS',
    'DISTRACTOR_TEXTURES', 'generate_deteriorated_vid', 'generate_split',
    'render_texture'
]

#: Class names, in label order (``num_classes=3`` uses the first three).
TEXTURE_CLASSES = ('hstripes', 'vstripes', 'checker', 'dstripes')
#: Deterioration kinds, see the module docstring.
DETERIORATION_KINDS = ('motion_blur', 'defocus', 'noise', 'occlusion',
                       'low_res')
MOTION_TIERS = ('slow', 'medium', 'fast')
#: Video layouts: ``'single'`` (1-2 objects of one class per video) and
#: ``'multi'`` (2-3 objects of different classes plus 0-2 distractors).
LAYOUTS = ('single', 'multi')
#: Textures of the never-labelled distractors of the ``'multi'`` layout:
#: concentric rings at the classes' radial frequency (isotropic, so none of
#: the classes' orientation structures; same energy) or no texture.
DISTRACTOR_TEXTURES = ('rings', 'plain')

# Speed (px / frame) as a fraction of the object's size sqrt(w * h), per
# tier; with 16-20 frames these land in the motion split of the same name
# (the split itself is measured on the boxes, by the evaluation's
# compute_motion_ious).
_SPEED_RANGES = dict(
    slow=(0.0, 0.006), medium=(0.014, 0.024), fast=(0.055, 0.10))
_TEXTURE_AMPLITUDE = 36.0      # grey levels, peak of a single grating
_TEXTURE_PERIOD = (6.0, 7.5)   # px, measured across the stripes
# Deterioration strength (blur sigmas, kernel sizes, down-sampling factor)
# relative to the kinds' reference strengths, which leave ~1% of a 3.7 px
# grating: scaled with the period so the texture is gone just as well.
_STRENGTH = 6.75 / 3.7
_OBJECT_SIZE = (0.2, 0.36)     # side as a fraction of min(H, W)
# 'multi' layout: up to 5 objects that never overlap in any frame need a
# smaller size range and more placement attempts
_MULTI_OBJECT_SIZE = (0.16, 0.28)
_PLACE_ATTEMPTS = dict(single=30, multi=200)
_MULTI_OBJECTS = (2, 3)        # labelled objects per video (inclusive)
_MULTI_DISTRACTORS = (0, 2)    # never-labelled distractors per video
_MAX_ASPECT = 1.6
_CLEAN_NOISE = 2.5
_SPLIT_CODES = dict(train=0, val=1, test=2)


# --------------------------------------------------------------- geometry
def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the x1y1x2y2 boxes ``a[t]`` and ``b[t]`` (both (T, 4))
    intersect, frame by frame."""
    wh = np.clip(
        np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0,
        None)
    return wh[:, 0] * wh[:, 1] > 0


def _fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect an unbounded 1-D path into [lo, hi] (bouncing off walls)."""
    span = hi - lo
    if span <= 0:
        return np.full_like(x, (lo + hi) / 2)
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y > span, 2 * span - y, y)


def _trajectory(rng: np.random.Generator, num_frames: int, half: np.ndarray,
                tier: str, img_hw: Tuple[int, int]) -> np.ndarray:
    """Centers (T, 2) of a smooth, bouncing path that keeps the box inside.

    ``half`` is (T, 2): the half width / height of the box in each frame.
    """
    h, w = img_hw
    size = 2 * math.sqrt(half[0, 0] * half[0, 1])
    speed = rng.uniform(*_SPEED_RANGES[tier]) * size
    theta0 = rng.uniform(0, 2 * math.pi)
    omega = rng.uniform(-0.12, 0.12)            # rad / frame: curved paths
    t = np.arange(num_frames)
    theta = theta0 + omega * t
    speeds = speed * (1 + 0.15 * np.sin(rng.uniform(0, 6.3) + 0.4 * t))
    steps = np.stack([np.cos(theta), np.sin(theta)], 1) * speeds[:, None]
    path = np.cumsum(steps, 0) - steps[0]
    hmax = half.max(0)
    start = np.array([rng.uniform(hmax[0], w - hmax[0]),
                      rng.uniform(hmax[1], h - hmax[1])])
    path = path + start
    path[:, 0] = _fold(path[:, 0], hmax[0], w - hmax[0])
    path[:, 1] = _fold(path[:, 1], hmax[1], h - hmax[1])
    return path


# ---------------------------------------------------------------- drawing
def render_texture(cls_name: str, u: np.ndarray, v: np.ndarray,
                   period: float, phase: Tuple[float, float]) -> np.ndarray:
    """Zero-mean, unit-energy-matched texture of a class at (u, v).

    All classes have radial frequency ``1 / period`` and the same mean
    power (a checkerboard is scaled by sqrt(2) to match one grating), so
    only the orientation structure differs.

    Args:
        cls_name: One of :data:`TEXTURE_CLASSES` or of
            :data:`DISTRACTOR_TEXTURES` (never labelled).
        u, v: Coordinates (px) relative to the object's center.
        period: Period across the stripes (px).
        phase: Two phases (rad).

    Returns:
        np.ndarray: Texture in [-sqrt(2), sqrt(2)], same shape as ``u``.
    """
    k = 2 * math.pi / period
    p0, p1 = phase
    if cls_name == 'hstripes':
        return np.sin(k * v + p0)
    if cls_name == 'vstripes':
        return np.sin(k * u + p0)
    if cls_name == 'dstripes':
        return np.sin(k * (u + v) / math.sqrt(2) + p0)
    if cls_name == 'checker':
        kk = k / math.sqrt(2)
        return math.sqrt(2) * np.sin(kk * u + p0) * np.sin(kk * v + p1)
    if cls_name == 'rings':       # distractors only: isotropic
        return np.sin(k * np.hypot(u, v) + p0)
    if cls_name == 'plain':       # distractors only: no texture
        return np.zeros_like(u)
    raise ValueError(f'unknown texture class {cls_name!r}; expected one of '
                     f'{TEXTURE_CLASSES + DISTRACTOR_TEXTURES}')


def _background(rng: np.random.Generator, img_hw: Tuple[int, int],
                dark: bool) -> np.ndarray:
    """Smooth float32 (H, W, 3) background: gradient + wide blobs."""
    h, w = img_hw
    lo, hi = (10.0, 90.0) if dark else (165.0, 245.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(lo, hi, 3), rng.uniform(lo, hi, 3)
    ang = rng.uniform(0, 2 * math.pi)
    proj = (xx * math.cos(ang) + yy * math.sin(ang))
    proj = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
    img = c0[None, None] + proj[..., None] * (c1 - c0)[None, None]
    scale = min(h, w)
    for _ in range(int(rng.integers(2, 5))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        sig = rng.uniform(0.12, 0.3) * scale
        col = rng.uniform(lo, hi, 3)
        a = rng.uniform(0.3, 0.7) * np.exp(-((xx - cx)**2 + (yy - cy)**2) /
                                           (2 * sig**2))
        img = img * (1 - a[..., None]) + col[None, None] * a[..., None]
    return np.clip(img, lo - 5, hi + 5).astype(np.float32)


def _draw_object(img: np.ndarray, obj: dict, t: int) -> np.ndarray:
    """Alpha-blend object ``obj`` at frame ``t`` into float image ``img``.

    Returns the box (x1, y1, x2, y2) that was drawn.
    """
    h, w = img.shape[:2]
    cx, cy = obj['centers'][t]
    a, b = obj['half'][t]
    x1, y1, x2, y2 = cx - a, cy - b, cx + a, cy + b
    j0, j1 = max(int(math.floor(x1)) - 1, 0), min(int(math.ceil(x2)) + 1, w)
    i0, i1 = max(int(math.floor(y1)) - 1, 0), min(int(math.ceil(y2)) + 1, h)
    yy, xx = np.mgrid[i0:i1, j0:j1].astype(np.float64)
    u, v = xx + 0.5 - cx, yy + 0.5 - cy
    n = obj['exponent']
    f = (np.abs(u / a)**n + np.abs(v / b)**n)**(1.0 / n)
    # ~1 px anti-aliased edge: signed distance to the outline ~ (1 - f) * r
    alpha = np.clip((1.0 - f) * min(a, b) + 0.5, 0.0, 1.0)[..., None]
    tex = render_texture(obj['cls_name'], u, v, obj['period'], obj['phase'])
    col = obj['colour'][None, None] + _TEXTURE_AMPLITUDE * tex[..., None]
    patch = img[i0:i1, j0:j1]
    img[i0:i1, j0:j1] = patch * (1 - alpha) + col * alpha
    return np.array([x1, y1, x2, y2])


def _gauss(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT)


def _deteriorate(rng: np.random.Generator, img: np.ndarray, kind: str,
                 boxes: List[np.ndarray], motion_dir: float) -> np.ndarray:
    """Apply one deterioration ``kind`` to a float32 image (in place ok)."""
    h, w = img.shape[:2]
    if kind == 'motion_blur':
        length = int(rng.integers(7, 14) * _STRENGTH)
        size = length + 2 - length % 2 + 1
        k = np.zeros((size, size), np.float32)
        c = size // 2
        dx, dy = math.cos(motion_dir), math.sin(motion_dir)
        for s in np.linspace(-length / 2, length / 2, 4 * length):
            k[int(round(c + s * dy)), int(round(c + s * dx))] = 1.0
        k /= k.sum()
        img = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)
        return _gauss(img, rng.uniform(2.0, 2.4) * _STRENGTH)
    if kind == 'defocus':
        r = rng.uniform(3.0, 4.5) * _STRENGTH
        rr = int(math.ceil(r))
        yy, xx = np.mgrid[-rr:rr + 1, -rr:rr + 1]
        k = np.clip(r + 0.5 - np.sqrt(xx**2 + yy**2), 0, 1).astype(np.float32)
        k /= k.sum()
        img = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)
        return _gauss(img, rng.uniform(1.7, 2.1) * _STRENGTH)
    if kind == 'noise':
        img = _gauss(img, rng.uniform(2.0, 2.4) * _STRENGTH)
        sigma = rng.uniform(18.0, 28.0)
        return img + rng.normal(0, sigma, img.shape).astype(np.float32)
    if kind == 'occlusion':
        for x1, y1, x2, y2 in boxes:
            bw, bh = x2 - x1, y2 - y1
            frac = rng.uniform(0.35, 0.55)
            col = rng.uniform(20, 235, 3).astype(np.float32)
            ext = rng.uniform(0.15, 0.4)
            if rng.random() < 0.5:     # vertical bar over the middle
                cx = (x1 + x2) / 2 + rng.uniform(-0.05, 0.05) * bw
                xa, xb = cx - frac * bw / 2, cx + frac * bw / 2
                ya, yb = y1 - ext * bh, y2 + ext * bh
            else:                      # horizontal bar over the middle
                cy = (y1 + y2) / 2 + rng.uniform(-0.05, 0.05) * bh
                ya, yb = cy - frac * bh / 2, cy + frac * bh / 2
                xa, xb = x1 - ext * bw, x2 + ext * bw
            xa, xb = int(round(max(xa, 0))), int(round(min(xb, w)))
            ya, yb = int(round(max(ya, 0))), int(round(min(yb, h)))
            img[ya:yb, xa:xb] = col[None, None]
        return _gauss(img, rng.uniform(2.0, 2.4) * _STRENGTH)
    if kind == 'low_res':
        factor = rng.uniform(4.0, 5.0) * _STRENGTH
        small = (max(1, int(round(w / factor))),
                 max(1, int(round(h / factor))))
        img = cv2.resize(
            _gauss(img, 1.6 * _STRENGTH), small, interpolation=cv2.INTER_AREA)
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    raise ValueError(f'unknown deterioration kind {kind!r}; expected one of '
                     f'{DETERIORATION_KINDS}')


# ----------------------------------------------------------------- videos
def _isolated_frames(rng: np.random.Generator, num_frames: int,
                     ratio: float) -> List[int]:
    """Random frame indices, about ``ratio`` of them, no two adjacent."""
    want = ratio * num_frames
    k = int(math.floor(want)) + int(rng.random() < want - math.floor(want))
    k = min(k, (num_frames + 1) // 2)
    if k == 0:
        return []
    # uniform over the non-adjacent k-subsets: pick k of T-k+1 slots, then
    # shift the i-th chosen slot by i
    slots = np.sort(rng.choice(num_frames - k + 1, size=k, replace=False))
    return [int(s) + i for i, s in enumerate(slots)]


def _balanced(seed: int, code: int, salt: int, num: int,
              num_values: int) -> List[int]:
    """``num`` values in 0..num_values-1, each block of ``num_values``
    consecutive items a random permutation (independent of ``num``)."""
    out: List[int] = []
    for block in range(-(-num // num_values)):
        rng = np.random.default_rng([seed, code, 1 << 20, salt, block])
        out.extend(int(v) for v in rng.permutation(num_values))
    return out[:num]


def _make_objects(rng: np.random.Generator, textures: Sequence[str],
                  tier: str, num_frames: int, img_hw: Tuple[int, int],
                  dark_bg: bool,
                  size_range: Tuple[float, float] = _OBJECT_SIZE,
                  attempts: int = 30,
                  labelled: Optional[int] = None) -> List[dict]:
    """Objects of one video: shape, texture, colour and path per frame.

    ``textures`` holds one texture (class name or distractor texture) per
    object, in drawing order; the first ``labelled`` (default: all) are
    labelled objects, the others distractors. Each object gets ``attempts``
    tries to be placed apart from the earlier ones in every frame; when one
    cannot be placed, it and the later ones are left out.
    """
    h, w = img_hw
    side = min(h, w)
    labelled = len(textures) if labelled is None else labelled
    objects: List[dict] = []
    for index, cls_name in enumerate(textures):
        for _attempt in range(attempts):
            s = rng.uniform(*size_range) * side
            aspect = math.exp(rng.uniform(-math.log(_MAX_ASPECT),
                                          math.log(_MAX_ASPECT)))
            root = math.sqrt(aspect)
            half0 = np.array([s * root, s / root]) / 2
            half0 = np.minimum(half0, np.array([w, h]) * 0.45)
            drift = rng.uniform(-0.08, 0.08)   # slow scale change over video
            scale = 1 + drift * np.arange(num_frames) / max(num_frames - 1, 1)
            half = half0[None] * scale[:, None]
            centers = _trajectory(rng, num_frames, half, tier, img_hw)
            boxes = np.concatenate([centers - half, centers + half], 1)
            if not any(_overlap(boxes, o['boxes']).any() for o in objects):
                break
        else:
            break   # could not place it apart from the others: fewer objects
        lo, hi = (130.0, 195.0) if dark_bg else (60.0, 125.0)
        motion = np.diff(centers, axis=0)
        objects.append(
            dict(
                cls_name=cls_name,
                labelled=index < labelled,
                half=half,
                centers=centers,
                boxes=boxes,
                exponent=float(rng.uniform(2.0, 5.0)),
                period=float(rng.uniform(*_TEXTURE_PERIOD)),
                phase=(float(rng.uniform(0, 2 * math.pi)),
                       float(rng.uniform(0, 2 * math.pi))),
                colour=rng.uniform(lo, hi, 3).astype(np.float32),
                motion=np.concatenate([motion, motion[-1:]], 0)
                if num_frames > 1 else np.zeros((1, 2))))
    return objects


def _multi_objects(rng: np.random.Generator, name: str,
                   classes: Sequence[str], first_cls: str,
                   distractor_texture: str, tier: str, num_frames: int,
                   img_hw: Tuple[int, int], dark_bg: bool) -> List[dict]:
    """Objects of one video of the ``'multi'`` layout: 2-3 labelled objects
    of different classes (the first is ``first_cls``, the balanced one; the
    others are drawn from the remaining classes), then 0-2 never-labelled
    distractors with ``distractor_texture``. The size range is smaller than
    in the ``'single'`` layout and each object gets more placement attempts
    (``_MULTI_OBJECT_SIZE``, ``_PLACE_ATTEMPTS``); a labelled object that
    cannot be placed drops it and the distractors, fewer than 2 labelled
    objects is an error."""
    lo, hi = _MULTI_OBJECTS
    num = min(int(rng.integers(lo, hi + 1)), len(classes))
    others = [c for c in classes if c != first_cls]
    picked = [others[int(i)] for i in
              rng.choice(len(others), num - 1, replace=False)]
    num_dis = int(rng.integers(_MULTI_DISTRACTORS[0],
                               _MULTI_DISTRACTORS[1] + 1))
    objects = _make_objects(
        rng, [first_cls] + picked + [distractor_texture] * num_dis, tier,
        num_frames, img_hw, dark_bg, _MULTI_OBJECT_SIZE,
        _PLACE_ATTEMPTS['multi'], labelled=num)
    if sum(o['labelled'] for o in objects) < 2:
        raise RuntimeError(
            f'video {name}: could not place 2 labelled objects apart in '
            f'{_PLACE_ATTEMPTS["multi"]} attempts (img_size {img_hw} too '
            'small?)')
    return objects


def _render_video(rng: np.random.Generator, objects: List[dict],
                  num_frames: int, img_hw: Tuple[int, int], dark_bg: bool,
                  deteriorated: Dict[int, str]) -> List[np.ndarray]:
    """Render the uint8 BGR frames of one video."""
    bg = _background(rng, img_hw, dark_bg)
    frames = []
    for t in range(num_frames):
        img = bg.copy()
        boxes = [_draw_object(img, obj, t) for obj in objects]
        kind = deteriorated.get(t)
        if kind is not None:
            mv = objects[0]['motion'][t] if objects else np.zeros(2)
            direction = math.atan2(mv[1], mv[0]) if np.any(mv) else \
                rng.uniform(0, math.pi)
            img = _deteriorate(rng, img, kind, boxes, direction)
        img = img + rng.normal(0, _CLEAN_NOISE, img.shape).astype(np.float32)
        frames.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    return frames


def generate_split(out_dir: str,
                   split: str,
                   num_videos: int,
                   frames_per_video: int = 16,
                   img_size: Tuple[int, int] = (128, 128),
                   seed: int = 0,
                   num_classes: int = 4,
                   deteriorated_ratio: float = 0.3,
                   deterioration_kinds: Sequence[str] = DETERIORATION_KINDS,
                   two_object_prob: float = 0.35,
                   jpeg_quality: int = 92,
                   write_images: bool = True,
                   layout: str = 'single',
                   distractor_texture: str = 'rings') -> dict:
    """Generate one split; write its frames and return its CocoVID dict.

    See :func:`generate_deteriorated_vid` for the arguments. The json is
    NOT written here (the caller does it).
    """
    if not 1 <= num_classes <= len(TEXTURE_CLASSES):
        raise ValueError(f'num_classes must be in 1..{len(TEXTURE_CLASSES)}, '
                         f'got {num_classes}')
    if not 0.0 <= deteriorated_ratio <= 0.5:
        raise ValueError('deteriorated_ratio must be in [0, 0.5] (frames '
                         f'are isolated), got {deteriorated_ratio}')
    if frames_per_video < 1 or num_videos < 0:
        raise ValueError('frames_per_video must be >= 1 and num_videos >= 0')
    kinds = tuple(deterioration_kinds)
    bad = [k for k in kinds if k not in DETERIORATION_KINDS]
    if bad or not kinds:
        raise ValueError(f'deterioration_kinds {kinds} must be a non-empty '
                         f'subset of {DETERIORATION_KINDS}')
    h, w = int(img_size[0]), int(img_size[1])
    if min(h, w) < 32:
        raise ValueError(f'img_size {img_size} is too small (min 32)')
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    if layout == 'multi' and num_classes < 2:
        raise ValueError("layout='multi' needs objects of different "
                         f'classes: num_classes >= 2, got {num_classes}')
    if distractor_texture not in DISTRACTOR_TEXTURES:
        raise ValueError('distractor_texture must be one of '
                         f'{DISTRACTOR_TEXTURES}, got {distractor_texture!r}')
    classes = TEXTURE_CLASSES[:num_classes]
    code = _SPLIT_CODES.get(split, sum(map(ord, split)) + 3)

    # balanced classes and speed tiers: each block of num_classes (3)
    # consecutive videos holds every class (tier) once, in a random order
    # that does not depend on num_videos
    video_cls = _balanced(seed, code, 1, num_videos, num_classes)
    video_tier = _balanced(seed, code, 2, num_videos, len(MOTION_TIERS))

    out = dict(
        info=dict(
            description='mmstpn synthetic deteriorated-video data set',
            split=split, seed=seed, img_size=[h, w],
            frames_per_video=frames_per_video,
            deteriorated_ratio=deteriorated_ratio,
            deterioration_kinds=list(kinds),
            two_object_prob=two_object_prob, jpeg_quality=jpeg_quality),
        categories=[dict(id=i + 1, name=c) for i, c in enumerate(classes)],
        videos=[], images=[], annotations=[])
    if layout != 'single':
        # absent means 'single': the default layout's json has no
        # ``layout`` key
        out['info'].update(
            layout=layout, distractor_texture=distractor_texture,
            num_labelled_objects=list(_MULTI_OBJECTS),
            num_distractors=list(_MULTI_DISTRACTORS),
            object_size=list(_MULTI_OBJECT_SIZE))
    img_id = ann_id = inst_id = 0
    for vi in range(num_videos):
        rng = np.random.default_rng([seed, code, vi])
        cls_name = classes[video_cls[vi]]
        tier = MOTION_TIERS[video_tier[vi]]
        dark_bg = bool(rng.random() < 0.5)
        if layout == 'single':
            num_obj = 2 if rng.random() < two_object_prob else 1
            objects = _make_objects(rng, [cls_name] * num_obj, tier,
                                    frames_per_video, (h, w), dark_bg)
        else:
            objects = _multi_objects(rng, f'{split}_{vi:04d}', classes,
                                     cls_name, distractor_texture, tier,
                                     frames_per_video, (h, w), dark_bg)
        det_frames = _isolated_frames(rng, frames_per_video,
                                      deteriorated_ratio)
        deteriorated = {
            t: kinds[int(rng.integers(len(kinds)))] for t in det_frames
        }
        name = f'{split}_{vi:04d}'
        video_id = vi + 1
        video = dict(id=video_id, name=name)
        if layout != 'single':
            video['num_distractors'] = sum(not o['labelled']
                                           for o in objects)
        out['videos'].append(video)
        frames = _render_video(rng, objects, frames_per_video, (h, w),
                               dark_bg, deteriorated) if write_images else None
        if write_images:
            vdir = osp.join(out_dir, 'frames', split, name)
            os.makedirs(vdir, exist_ok=True)
        labelled = [o for o in objects if o['labelled']]
        inst_ids = list(range(inst_id + 1, inst_id + 1 + len(labelled)))
        inst_id += len(labelled)
        for t in range(frames_per_video):
            img_id += 1
            file_name = f'{split}/{name}/{t:06d}.jpg'
            if write_images:
                ok = cv2.imwrite(
                    osp.join(out_dir, 'frames', file_name), frames[t],
                    [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)])
                if not ok:
                    raise OSError(f'could not write {file_name} in '
                                  f'{out_dir}/frames')
            image = dict(
                id=img_id, video_id=video_id, frame_id=t,
                file_name=file_name, height=h, width=w)
            if split == 'train':
                image['is_vid_train_frame'] = True
            image.update(
                deteriorated=t in deteriorated,
                deterioration=deteriorated.get(t))
            out['images'].append(image)
            for obj, iid in zip(labelled, inst_ids):
                x1, y1, x2, y2 = (float(c) for c in obj['boxes'][t])
                x1, y1 = max(x1, 0.0), max(y1, 0.0)
                x2, y2 = min(x2, float(w)), min(y2, float(h))
                bw, bh = round(x2 - x1, 2), round(y2 - y1, 2)
                ann_id += 1
                out['annotations'].append(
                    dict(
                        id=ann_id, image_id=img_id, video_id=video_id,
                        instance_id=iid,
                        category_id=classes.index(obj['cls_name']) + 1,
                        bbox=[round(x1, 2), round(y1, 2), bw, bh],
                        area=round(bw * bh, 2), iscrowd=0,
                        occluded=deteriorated.get(t) == 'occlusion'))
    return out


def generate_deteriorated_vid(
        out_dir: str,
        num_train_videos: int = 480,
        num_val_videos: int = 48,
        frames_per_video: int = 16,
        img_size: Tuple[int, int] = (128, 128),
        seed: int = 0,
        num_classes: int = 4,
        deteriorated_ratio: float = 0.3,
        deterioration_kinds: Sequence[str] = DETERIORATION_KINDS,
        two_object_prob: float = 0.35,
        jpeg_quality: int = 92,
        val_seed: Optional[int] = None,
        write_images: bool = True,
        layout: str = 'single',
        distractor_texture: str = 'rings') -> Dict[str, str]:
    """Write the synthetic deteriorated-video data set (CocoVID + JPEGs).

    Args:
        out_dir: Output folder (created). Existing files are overwritten,
            nothing is deleted.
        num_train_videos: Videos of the train split (480: 120 per class;
            why that many: docs/toy_vid.md).
        num_val_videos: Videos of the val split (48: 12 per class).
        frames_per_video: Frames per video (16, as ImageNet VID's 15 train
            frames per video; >= 11 keeps the whole +-10 motion window
            meaningful).
        img_size: (H, W) of the frames.
        seed: Seed; the same arguments give byte-identical files.
        num_classes: 1..4 classes, the first ones of
            :data:`TEXTURE_CLASSES`.
        deteriorated_ratio: Expected fraction of deteriorated frames
            (<= 0.5, since no two deteriorated frames are adjacent).
        deterioration_kinds: Kinds to draw from, uniformly.
        two_object_prob: Probability that a video has two objects (they
            never overlap; same class).
        jpeg_quality: JPEG quality of the frames.
        val_seed: Seed of the val split (default: ``seed``; the splits
            never share videos, their generators differ by split).
        write_images: False writes only the json files (for quick tests).
        layout: ``'single'`` (default: 1-2 objects of one class per video,
            ``two_object_prob``) or ``'multi'`` (2-3 labelled objects of
            different classes plus 0-2 never-labelled distractors per video,
            smaller objects; ``two_object_prob`` unused; needs
            ``num_classes >= 2``). See the module docstring.
        distractor_texture: Texture of the ``'multi'`` layout's distractors:
            ``'rings'`` (default) or ``'plain'``, see
            :data:`DISTRACTOR_TEXTURES`.

    Returns:
        dict: ``root`` (out_dir), ``train_ann`` / ``val_ann`` (json paths),
        ``img_prefix`` (``out_dir/frames``, what ``file_name`` is relative
        to).
    """
    os.makedirs(out_dir, exist_ok=True)
    common = dict(
        frames_per_video=frames_per_video, img_size=img_size,
        num_classes=num_classes, deteriorated_ratio=deteriorated_ratio,
        deterioration_kinds=deterioration_kinds,
        two_object_prob=two_object_prob, jpeg_quality=jpeg_quality,
        write_images=write_images, layout=layout,
        distractor_texture=distractor_texture)
    paths = dict(root=out_dir, img_prefix=osp.join(out_dir, 'frames'))
    for split, num, s in (('train', num_train_videos, seed),
                          ('val', num_val_videos,
                           seed if val_seed is None else val_seed)):
        data = generate_split(out_dir, split, num, seed=s, **common)
        path = osp.join(out_dir, f'{split}.json')
        with open(path, 'w') as f:
            json.dump(data, f)
        paths[f'{split}_ann'] = path
    return paths
