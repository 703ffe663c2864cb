"""A small synthetic deteriorated single-object-tracking set in the GOT-10k
layout (the generator behind ``tools/misc/toy_sot_experiment.py``).

Built for one experiment: a tracker that gets spatio-temporal prompts from
the clean search crops of past frames (STPN) should beat the same tracker
without prompts on the deteriorated frames. The textures, backgrounds and
deteriorations are those of :mod:`mmstpn.projects.toy_vid.generator`
(imported from it):

* **The target** is a textured square (one of the texture classes, random
  per sequence; luminance texture of period 6-7.5 px) of side 18-28 px in
  a 128 x 128 frame, moving fast (0.45-0.75 of its side per frame) along a
  smooth path that bounces off the borders.
* **Distractors** are squares of the SAME size with the OTHER textures and
  (``distractor_hue``, default) other hues of the SAME luminance as the
  target's colour (else the target's colour): a *follower* runs the
  target's own path 1.1-1.4 sides behind it (in the search crop it sits on
  the far side of the center, as close to the center as the target), and
  1-2 *wanderers* move on their own paths. The target is drawn on top.
* **Deteriorated frames** (``deteriorated_ratio`` of the frames, never
  frame 0 nor two adjacent frames, so both neighbours of a deteriorated
  frame are clean) get one of the toy VID deteriorations (motion blur,
  defocus, low light, an occluding bar + defocus, low resolution) on the
  whole frame and (``desaturate``, default) lose their colour (luminance
  only): every texture and hue is gone and the target looks exactly like
  the distractors; only where it was in the previous (clean) frames tells
  it.

Why hues: the tiny tracker of the toy experiment does not learn to match
textures from scratch, but it does learn to match colours (docs/sot.md);
isoluminant hues keep every deteriorated frame exactly as ambiguous as with
one colour.

Layout (GOT-10k's, read by ``GOT10kDataset``)::

    out_dir/{train,val}/list.txt
    out_dir/{train,val}/<seq>/00000001.jpg ...
        groundtruth.txt (x,y,w,h), absence.label, cover.label,
        cut_by_image.label, meta_info.ini (resolution),
        deteriorated.label (1: deteriorated frame), deterioration.txt (kind
        or 'none' per frame)

``cover.label`` is 8 on clean frames; an occluding bar over the target's
middle makes it 5 (the frame still counts in AO, whose rule is
``cover > 0``). Deterministic for a seed: each sequence draws from its own
generator seeded by ``(seed, split, index)``.
"""
import math
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from mmstpn.projects.toy_vid.generator import (DETERIORATION_KINDS,
                                               TEXTURE_CLASSES, _CLEAN_NOISE,
                                               _TEXTURE_PERIOD, _background,
                                               _deteriorate, _draw_object,
                                               _fold, _isolated_frames)

__all__ = ['generate_toy_sot', 'generate_sot_split', 'read_flags']

_SIDE = (18.0, 28.0)             # px
_SPEED = (0.45, 0.75)            # px / frame, fraction of the side
_FOLLOW_GAP = (1.1, 1.4)         # follower distance, in sides
_WANDER_SPEED = (0.1, 0.5)
_SQUARE_EXPONENT = 12.0          # superellipse exponent: a square
#: luminance weights of BGR pixels (ITU-R BT.601, cv2's BGR2GRAY)
_LUMA_BGR = np.array([0.114, 0.587, 0.299], np.float32)
_HUE_MIN_DIFF = 50.0             # a distractor hue: a channel 50 apart
_SPLIT_CODES = dict(train=0, val=1, test=2)


def _path(rng: np.random.Generator, times: np.ndarray, speed: float,
          half: float, img_hw: Tuple[int, int]) -> np.ndarray:
    """Centers (len(times), 2) of a smooth curved path at ``speed`` px per
    frame, evaluated at (possibly fractional, negative) ``times`` and folded
    into the frame (bouncing) so a box of half side ``half`` stays
    inside."""
    h, w = img_hw
    theta0 = rng.uniform(0, 2 * math.pi)
    omega = rng.uniform(-0.1, 0.1)
    start = np.array(
        [rng.uniform(half, w - half), rng.uniform(half, h - half)])
    # integrate the heading on a fine grid, then interpolate at ``times``
    grid = np.linspace(times.min(), times.max(),
                       int(8 * (times.max() - times.min())) + 2)
    theta = theta0 + omega * grid
    step = np.diff(grid, prepend=grid[0])
    xy = np.cumsum(np.stack([np.cos(theta), np.sin(theta)], 1) *
                   (speed * step)[:, None], 0)
    xy -= np.array([np.interp(0.0, grid, xy[:, 0]),
                    np.interp(0.0, grid, xy[:, 1])])
    xy += start
    out = np.stack([np.interp(times, grid, xy[:, i]) for i in range(2)], 1)
    out[:, 0] = _fold(out[:, 0], half, w - half)
    out[:, 1] = _fold(out[:, 1], half, h - half)
    return out


def _square(cls_name: str, centers: np.ndarray, half: float,
            colour: np.ndarray, rng: np.random.Generator) -> dict:
    """An object dict of ``mmstpn.projects.toy_vid.generator._draw_object``."""
    num = len(centers)
    return dict(
        cls_name=cls_name,
        half=np.full((num, 2), half),
        centers=centers,
        exponent=_SQUARE_EXPONENT,
        period=float(rng.uniform(*_TEXTURE_PERIOD)),
        phase=(float(rng.uniform(0, 2 * math.pi)),
               float(rng.uniform(0, 2 * math.pi))),
        colour=colour)


def _isoluminant(rng: np.random.Generator, ref: np.ndarray) -> np.ndarray:
    """A random BGR colour with the luminance of ``ref`` and a channel at
    least ``_HUE_MIN_DIFF`` away from it (a grey shift keeps the
    luminance: the weights sum to 1)."""
    luma = float(ref @ _LUMA_BGR)
    for _ in range(1000):
        col = rng.uniform(0, 255, 3).astype(np.float32)
        col += luma - float(col @ _LUMA_BGR)
        if col.min() >= 20 and col.max() <= 235 and \
                np.abs(col - ref).max() >= _HUE_MIN_DIFF:
            return col
    raise RuntimeError(f'no isoluminant colour for {ref.tolist()}')


def _sequence(rng: np.random.Generator, num_frames: int,
              img_hw: Tuple[int, int], num_wanderers: int,
              distractor_hue: bool = True) -> dict:
    """Objects of one sequence: the target first, then the distractors."""
    h, w = img_hw
    side = rng.uniform(*_SIDE)
    half = side / 2
    dark_bg = bool(rng.random() < 0.5)
    lo, hi = (130.0, 195.0) if dark_bg else (60.0, 125.0)
    colour = rng.uniform(lo, hi, 3).astype(np.float32)
    textures = list(rng.permutation(len(TEXTURE_CLASSES)))
    speed = rng.uniform(*_SPEED) * side
    gap = rng.uniform(*_FOLLOW_GAP) * side
    lag = gap / speed
    times = np.arange(num_frames, dtype=np.float64)
    # the follower runs the target's path ``lag`` frames behind
    both = _path(rng, np.concatenate([times, times - lag]), speed, half,
                 img_hw)
    target = _square(TEXTURE_CLASSES[textures[0]], both[:num_frames], half,
                     colour, rng)
    def other() -> np.ndarray:
        return _isoluminant(rng, colour) if distractor_hue else colour

    follower = _square(TEXTURE_CLASSES[textures[1]], both[num_frames:], half,
                       other(), rng)
    wanderers = [
        _square(TEXTURE_CLASSES[textures[2 + i]],
                _path(rng, times, rng.uniform(*_WANDER_SPEED) * side, half,
                      img_hw), half, other(), rng)
        for i in range(num_wanderers)
    ]
    return dict(objects=[target, follower] + wanderers, dark_bg=dark_bg,
                background=_background(rng, img_hw, dark_bg))


def _render(rng: np.random.Generator, seq: dict, num_frames: int,
            deteriorated: Dict[int, str],
            desaturate: bool = True) -> List[np.ndarray]:
    """uint8 BGR frames; the target (objects[0]) is drawn last (on top)."""
    frames = []
    target = seq['objects'][0]
    for t in range(num_frames):
        img = seq['background'].copy()
        boxes = [_draw_object(img, obj, t) for obj in seq['objects'][1:]]
        boxes.insert(0, _draw_object(img, target, t))
        kind = deteriorated.get(t)
        if kind is not None:
            nxt = target['centers'][min(t + 1, num_frames - 1)]
            prv = target['centers'][max(t - 1, 0)]
            mv = nxt - prv
            direction = math.atan2(mv[1], mv[0]) if np.any(mv) else 0.0
            img = _deteriorate(rng, img, kind, boxes, direction)
            if desaturate:
                img = np.repeat((img @ _LUMA_BGR)[..., None], 3, axis=2)
        img = img + rng.normal(0, _CLEAN_NOISE, img.shape).astype(np.float32)
        frames.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    return frames


def _write_lines(path: str, values: Sequence) -> None:
    with open(path, 'w') as f:
        f.write('\n'.join(str(v) for v in values) + '\n')


def generate_sot_split(out_dir: str,
                       split: str,
                       num_sequences: int,
                       frames_per_sequence: int = 24,
                       img_size: int = 128,
                       seed: int = 0,
                       deteriorated_ratio: float = 0.3,
                       deterioration_kinds: Sequence[str] = (
                           DETERIORATION_KINDS),
                       num_wanderers: Tuple[int, int] = (1, 2),
                       jpeg_quality: int = 92,
                       distractor_hue: bool = True,
                       desaturate: bool = True) -> List[str]:
    """Write one split (see the module docstring); returns its sequence
    names.

    Args:
        out_dir (str): Data root.
        split (str): 'train' / 'val' / 'test' (folder name).
        num_sequences (int): Sequences to write.
        frames_per_sequence (int): Frames per sequence (>= 3).
        img_size (int): Frame side (>= 96).
        seed (int): Seed.
        deteriorated_ratio (float): Fraction of deteriorated frames (in
            [0, 0.5]: they are isolated, frame 0 excluded).
        deterioration_kinds (Sequence[str]): Subset of
            ``generator.DETERIORATION_KINDS`` of ``toy_vid``.
        num_wanderers (tuple[int, int]): Min / max wandering distractors
            (0-2; the follower comes on top).
        jpeg_quality (int): JPEG quality.
        distractor_hue (bool): Distractors get other hues of the target's
            luminance (else the target's colour).
        desaturate (bool): Deteriorated frames lose their colour.
    """
    if frames_per_sequence < 3 or num_sequences < 0:
        raise ValueError('frames_per_sequence must be >= 3 and '
                         'num_sequences >= 0')
    if img_size < 96:
        raise ValueError(f'img_size must be >= 96, got {img_size}')
    if not 0.0 <= deteriorated_ratio <= 0.5:
        raise ValueError('deteriorated_ratio must be in [0, 0.5] (frames '
                         f'are isolated), got {deteriorated_ratio}')
    kinds = tuple(deterioration_kinds)
    bad = [k for k in kinds if k not in DETERIORATION_KINDS]
    if bad or not kinds:
        raise ValueError(f'deterioration_kinds {kinds} must be a non-empty '
                         f'subset of {DETERIORATION_KINDS}')
    lo, hi = num_wanderers
    if not 0 <= lo <= hi <= len(TEXTURE_CLASSES) - 2:
        raise ValueError(f'num_wanderers {num_wanderers} must satisfy 0 <= '
                         f'min <= max <= {len(TEXTURE_CLASSES) - 2}')
    code = _SPLIT_CODES.get(split, sum(map(ord, split)) + 3)
    split_dir = osp.join(out_dir, split)
    os.makedirs(split_dir, exist_ok=True)
    names = []
    for si in range(num_sequences):
        rng = np.random.default_rng([seed, code, si])
        seq = _sequence(rng, frames_per_sequence, (img_size, img_size),
                        int(rng.integers(lo, hi + 1)), distractor_hue)
        # isolated deteriorated frames among 1..F-1 (frame 0 gives the box)
        det = [1 + t for t in _isolated_frames(
            rng, frames_per_sequence - 1, deteriorated_ratio)]
        deteriorated = {t: kinds[int(rng.integers(len(kinds)))] for t in det}
        frames = _render(rng, seq, frames_per_sequence, deteriorated,
                         desaturate)
        name = f'TOY_{split}_{si:04d}'
        seq_dir = osp.join(split_dir, name)
        os.makedirs(seq_dir, exist_ok=True)
        for t, frame in enumerate(frames):
            path = osp.join(seq_dir, '%08d.jpg' % (t + 1))
            if not cv2.imwrite(path, frame,
                               [int(cv2.IMWRITE_JPEG_QUALITY),
                                int(jpeg_quality)]):
                raise OSError(f'could not write {path}')
        target = seq['objects'][0]
        boxes = np.concatenate(
            [target['centers'] - target['half'], 2 * target['half']], 1)
        _write_lines(osp.join(seq_dir, 'groundtruth.txt'),
                     [','.join(f'{v:.4f}' for v in b) for b in boxes])
        num = frames_per_sequence
        _write_lines(osp.join(seq_dir, 'absence.label'), [0] * num)
        _write_lines(osp.join(seq_dir, 'cut_by_image.label'), [0] * num)
        _write_lines(osp.join(seq_dir, 'cover.label'), [
            5 if deteriorated.get(t) == 'occlusion' else 8
            for t in range(num)
        ])
        _write_lines(osp.join(seq_dir, 'deteriorated.label'),
                     [int(t in deteriorated) for t in range(num)])
        _write_lines(osp.join(seq_dir, 'deterioration.txt'),
                     [deteriorated.get(t, 'none') for t in range(num)])
        with open(osp.join(seq_dir, 'meta_info.ini'), 'w') as f:
            f.write('[METAINFO]\nobject_class: '
                    f'{target["cls_name"]}\nmotion_class: toy\n'
                    f'resolution: ({img_size}, {img_size})\n')
        names.append(name)
    _write_lines(osp.join(split_dir, 'list.txt'), names)
    return names


def generate_toy_sot(out_dir: str,
                     num_train: int = 300,
                     num_val: int = 40,
                     seed: int = 0,
                     **kwargs) -> Dict[str, object]:
    """Write the train and val splits; returns the root and the names.

    Args:
        out_dir (str): Data root (``GOT10kDataset(data_root=out_dir,
            ann_file='train/list.txt', data_prefix=dict(img_path='train'))``).
        num_train, num_val (int): Sequences per split.
        seed (int): Seed.
        **kwargs: See :func:`generate_sot_split`.
    """
    out = dict(root=out_dir)
    for split, num in (('train', num_train), ('val', num_val)):
        out[split] = generate_sot_split(out_dir, split, num, seed=seed,
                                        **kwargs)
    return out


def read_flags(seq_dir: str, name: str = 'deteriorated.label') -> np.ndarray:
    """The per-frame 0/1 flags of a sequence folder (``deteriorated.label``),
    with an error naming the file on a bad line."""
    path = osp.join(seq_dir, name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: missing (toy SOT sequence)')
    values = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.strip() not in ('0', '1'):
                raise ValueError(f'{path} line {i}: expected 0 or 1, got '
                                 f'{line.strip()!r}')
            values.append(int(line))
    return np.array(values, dtype=bool)
