"""Generate the synthetic deteriorated-video data set (CocoVID + JPEGs).

Writes ``OUT_DIR/train.json``, ``OUT_DIR/val.json``,
``OUT_DIR/frames/<split>/<video>/<frame:06d>.jpg`` and a contact sheet
``OUT_DIR/preview.png`` (per class: a clean frame, a clean close-up and a
close-up of each deterioration kind), then prints a summary: videos, frames,
objects and boxes per class, deteriorated fraction and kinds, and the
FGFA/MEGA motion split of the boxes (mean IoU with the same instance over
frames t-10..t+10: slow > 0.9, medium 0.7-0.9, fast < 0.7).

``--layout multi`` makes the harder set: 2-3 labelled objects of different
classes plus 0-2 never-labelled distractors (ring texture, or
``--distractor-texture plain``) per video, see
:mod:`mmstpn.projects.toy_vid.generator`.

``--probe`` adds a sanity check of the class signal: a softmax regression on
oriented Gabor energies of each box crop, trained on train boxes and tested
on val boxes, clean vs deteriorated (chance = 1 / number of classes).

Example::

    python tools/misc/generate_toy_vid.py data/toy_vid --probe
"""
import argparse
import json
import math
import os.path as osp
import time
from collections import Counter, defaultdict

import cv2
import numpy as np

from mmstpn.evaluation.functional import (compute_motion_ious,
                                          motion_split_masks)
from mmstpn.projects.toy_vid.generator import (DETERIORATION_KINDS,
                                               DISTRACTOR_TEXTURES, LAYOUTS,
                                               generate_deteriorated_vid)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Generate the synthetic deteriorated-video data set')
    p.add_argument('out_dir', help='output folder')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train-videos', type=int, default=480)
    p.add_argument('--num-val-videos', type=int, default=48)
    p.add_argument('--frames-per-video', type=int, default=16)
    p.add_argument('--img-size', type=int, nargs=2, default=(128, 128),
                   metavar=('H', 'W'))
    p.add_argument('--num-classes', type=int, default=4, choices=(1, 2, 3, 4))
    p.add_argument('--deteriorated-ratio', type=float, default=0.3)
    p.add_argument('--kinds', nargs='+', default=list(DETERIORATION_KINDS),
                   choices=DETERIORATION_KINDS,
                   help='deterioration kinds to draw from')
    p.add_argument('--two-object-prob', type=float, default=0.35,
                   help="'single' layout: probability of a second object")
    p.add_argument('--layout', default='single', choices=LAYOUTS,
                   help="'single': 1-2 objects of one class per video; "
                   "'multi': 2-3 objects of different classes plus 0-2 "
                   'never-labelled distractors')
    p.add_argument('--distractor-texture', default='rings',
                   choices=DISTRACTOR_TEXTURES,
                   help="texture of the 'multi' layout's distractors")
    p.add_argument('--no-preview', action='store_true',
                   help='do not write preview.png')
    p.add_argument('--probe', action='store_true',
                   help='also run the texture-classifier sanity check')
    return p.parse_args(argv)


# ----------------------------------------------------------------- summary
def _box_xyxy(ann):
    x, y, w, h = ann['bbox']
    return [x, y, x + w, y + h]


def box_motion_splits(data):
    """Motion split ('slow'/'medium'/'fast') of every annotation id, as
    ``VIDMetric`` computes it."""
    imgs = {i['id']: i for i in data['images']}
    anns = data['annotations']
    mious = compute_motion_ious(
        [a['video_id'] for a in anns], [a['instance_id'] for a in anns],
        [imgs[a['image_id']]['frame_id'] for a in anns],
        np.array([_box_xyxy(a) for a in anns]).reshape(-1, 4))
    return {a['id']: s for a, s in zip(anns, motion_split_names(mious))}


def motion_split_names(mious):
    """'slow' / 'medium' / 'fast' of each motion IoU (VIDMetric's split)."""
    names = [''] * len(mious)
    for name, mask in motion_split_masks(mious).items():
        for i in np.flatnonzero(mask):
            names[i] = name
    return names


def summarise(data, split):
    cats = {c['id']: c['name'] for c in data['categories']}
    imgs = {i['id']: i for i in data['images']}
    vid_cls = defaultdict(set)
    inst_cls = {}
    for ann in data['annotations']:
        vid_cls[ann['video_id']].add(ann['category_id'])
        inst_cls[(ann['video_id'], ann['instance_id'])] = ann['category_id']
    n_det = sum(i['deteriorated'] for i in data['images'])
    kinds = Counter(i['deterioration'] for i in data['images']
                    if i['deteriorated'])
    splits = box_motion_splits(data)
    split_all = Counter(splits.values())
    split_det = Counter(s for a, s in splits.items()
                        if imgs[_ann_by_id(data)[a]['image_id']]
                        ['deteriorated'])
    lines = [f'[{split}] {len(data["videos"])} videos, '
             f'{len(data["images"])} frames, {len(inst_cls)} objects, '
             f'{len(data["annotations"])} boxes, '
             f'{100.0 * n_det / max(len(data["images"]), 1):.1f}% '
             f'deteriorated frames ({n_det})']
    layout = data.get('info', {}).get('layout', 'single')
    if layout != 'single':
        per_video = Counter(len(v) for v in vid_cls.values())
        dis = Counter(v.get('num_distractors', 0) for v in data['videos'])
        lines.append(
            f'  layout {layout}: videos with N classes: ' + ', '.join(
                f'{n}: {per_video[n]}' for n in sorted(per_video)) +
            '; with N distractors (' +
            data['info'].get('distractor_texture', '?') + '): ' +
            ', '.join(f'{n}: {dis[n]}' for n in sorted(dis)))
    lines.append('  per class: ' + ', '.join(
        f'{name}: {sum(cid in v for v in vid_cls.values())} videos / '
        f'{sum(v == cid for v in inst_cls.values())} objects / '
        f'{sum(a["category_id"] == cid for a in data["annotations"])} boxes'
        for cid, name in cats.items()))
    lines.append('  deterioration kinds: ' + ', '.join(
        f'{k}: {kinds.get(k, 0)}' for k in DETERIORATION_KINDS))
    lines.append('  motion split (boxes, all / on deteriorated frames): ' +
                 ', '.join(f'{s}: {split_all.get(s, 0)} / '
                           f'{split_det.get(s, 0)}'
                           for s in ('slow', 'medium', 'fast')))
    return '\n'.join(lines)


_ANN_CACHE = {}


def _ann_by_id(data):
    key = id(data)
    if key not in _ANN_CACHE:
        _ANN_CACHE[key] = {a['id']: a for a in data['annotations']}
    return _ANN_CACHE[key]


# ----------------------------------------------------------------- preview
def _crop(img, ann, size=64):
    """Fixed-size crop centered on the box (reflect-padded), upscaled 2x."""
    x1, y1, x2, y2 = _box_xyxy(ann)
    cx, cy = int(round((x1 + x2) / 2)), int(round((y1 + y2) / 2))
    pad = cv2.copyMakeBorder(img, size, size, size, size,
                             cv2.BORDER_REFLECT)
    c = pad[cy + size // 2:cy + size // 2 + size,
            cx + size // 2:cx + size // 2 + size]
    return cv2.resize(c, (2 * size, 2 * size),
                      interpolation=cv2.INTER_NEAREST)


def make_preview(out_dir, datasets, path):
    """Contact sheet: one row per class; clean frame, clean close-up and a
    close-up of each deterioration kind. Examples come from the first of
    ``datasets`` (CocoVID dicts) that has one."""
    prefix = osp.join(out_dir, 'frames')
    cats = datasets[0]['categories']
    first = datasets[0]['images'][0]
    h, w = first['height'], first['width']
    cell = 128
    cols = ['clean frame', 'clean'] + list(DETERIORATION_KINDS)
    head, label_w = 18, 80
    sheet = np.full((head + cell * len(cats), label_w + cell * len(cols), 3),
                    255, np.uint8)
    for j, name in enumerate(cols):
        cv2.putText(sheet, name, (label_w + j * cell + 4, 13),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    for r, cat in enumerate(cats):
        y0 = head + r * cell
        cv2.putText(sheet, cat['name'], (4, y0 + cell // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        for j, name in enumerate(cols):
            want = None if name in ('clean frame', 'clean') else name
            for data in datasets:
                imgs = {i['id']: i for i in data['images']}
                cand = [
                    a for a in data['annotations']
                    if a['category_id'] == cat['id']
                    and imgs[a['image_id']]['deterioration'] == want
                ]
                if cand:
                    break
            if not cand:
                continue
            ann = cand[len(cand) // 2]
            img = cv2.imread(
                osp.join(prefix, imgs[ann['image_id']]['file_name']))
            if name == 'clean frame':
                tile = cv2.resize(img, (cell, cell * h // w)
                                  if w >= h else (cell * w // h, cell))
                tile = cv2.copyMakeBorder(
                    tile, 0, cell - tile.shape[0], 0, cell - tile.shape[1],
                    cv2.BORDER_CONSTANT, value=(255, 255, 255))
            else:
                tile = _crop(img, ann, cell // 2)
            x0 = label_w + j * cell
            sheet[y0:y0 + cell, x0:x0 + cell] = tile
            cv2.rectangle(sheet, (x0, y0), (x0 + cell - 1, y0 + cell - 1),
                          (255, 255, 255), 1)
    cv2.imwrite(path, sheet)


# ------------------------------------------------------------------- probe
def _gabor_bank():
    bank = []
    for period in (3.4, 4.2):
        for theta in (0, 45, 90, 135):
            k = cv2.getGaborKernel((11, 11), 2.0, math.radians(theta), period,
                                   1.0, 0, cv2.CV_32F)
            k2 = cv2.getGaborKernel((11, 11), 2.0, math.radians(theta),
                                    period, 1.0, math.pi / 2, cv2.CV_32F)
            bank.append((k - k.mean(), k2))
    return bank


def box_features(data, prefix):
    """Per box: log oriented Gabor energies (2 periods x 4 orientations) and
    total high-pass energy over the central 70% of the box; label; flag."""
    imgs = {i['id']: i for i in data['images']}
    by_img = defaultdict(list)
    for ann in data['annotations']:
        by_img[ann['image_id']].append(ann)
    bank = _gabor_bank()
    feats, labels, kinds = [], [], []
    for img_id, anns in by_img.items():
        info = imgs[img_id]
        grey = cv2.imread(osp.join(prefix, info['file_name']),
                          cv2.IMREAD_GRAYSCALE).astype(np.float32)
        hp = grey - cv2.GaussianBlur(grey, (0, 0), 3.0)
        resp = [np.hypot(cv2.filter2D(grey, -1, a), cv2.filter2D(grey, -1, b))
                for a, b in bank]
        for ann in anns:
            x1, y1, x2, y2 = _box_xyxy(ann)
            mx, my = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
            sl = (slice(int(y1 + my), int(math.ceil(y2 - my))),
                  slice(int(x1 + mx), int(math.ceil(x2 - mx))))
            f = [np.mean(r[sl]**2) for r in resp] + [np.mean(hp[sl]**2)]
            feats.append(np.log1p(np.array(f)))
            labels.append(ann['category_id'] - 1)
            kinds.append(info['deterioration'] or 'clean')
    return np.array(feats), np.array(labels), np.array(kinds)


def softmax_regression(x, y, num_classes, iters=600, lr=0.5, l2=1e-3):
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xs = np.concatenate([(x - mu) / sd, np.ones((len(x), 1))], 1)
    wts = np.zeros((xs.shape[1], num_classes))
    onehot = np.eye(num_classes)[y]
    for _ in range(iters):
        z = xs @ wts
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        wts -= lr * (xs.T @ (p - onehot) / len(x) + l2 * wts)

    def predict(xt):
        xt = np.concatenate([(xt - mu) / sd, np.ones((len(xt), 1))], 1)
        return (xt @ wts).argmax(1)

    return predict


def probe(out_dir, train, val):
    prefix = osp.join(out_dir, 'frames')
    num_classes = len(train['categories'])
    xtr, ytr, ktr = box_features(train, prefix)
    xva, yva, kva = box_features(val, prefix)
    lines = [f'class probe (softmax regression on Gabor energies of the box; '
             f'chance {100.0 / num_classes:.0f}%), val accuracy:']
    for name, sel in (('trained on clean train boxes', ktr == 'clean'),
                      ('trained on deteriorated train boxes',
                       ktr != 'clean')):
        pred = softmax_regression(xtr[sel], ytr[sel], num_classes)(xva)
        ok = pred == yva
        parts = [f'clean {100 * ok[kva == "clean"].mean():.1f}%',
                 f'deteriorated {100 * ok[kva != "clean"].mean():.1f}%']
        parts += [f'{k} {100 * ok[kva == k].mean():.0f}%'
                  for k in DETERIORATION_KINDS if np.any(kva == k)]
        lines.append(f'  {name}: ' + ', '.join(parts))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    paths = generate_deteriorated_vid(
        args.out_dir,
        num_train_videos=args.num_train_videos,
        num_val_videos=args.num_val_videos,
        frames_per_video=args.frames_per_video,
        img_size=tuple(args.img_size),
        seed=args.seed,
        num_classes=args.num_classes,
        deteriorated_ratio=args.deteriorated_ratio,
        deterioration_kinds=args.kinds,
        two_object_prob=args.two_object_prob,
        layout=args.layout,
        distractor_texture=args.distractor_texture)
    print(f'wrote {paths["train_ann"]}, {paths["val_ann"]} and frames under '
          f'{paths["img_prefix"]} in {time.time() - t0:.1f} s')
    data = {}
    for split in ('train', 'val'):
        with open(paths[f'{split}_ann']) as f:
            data[split] = json.load(f)
        print(summarise(data[split], split))
    if not args.no_preview and (data['val']['images']
                                or data['train']['images']):
        path = osp.join(args.out_dir, 'preview.png')
        make_preview(args.out_dir,
                     [d for d in (data['val'], data['train'])
                      if d['images']], path)
        print(f'preview: {path}')
    if args.probe:
        print(probe(args.out_dir, data['train'], data['val']))


if __name__ == '__main__':
    main()
