# Copyright (c) OpenMMLab. All rights reserved.
"""Synthetic CocoVID data and an independent pycocotools reference for the
VIDMetric tests."""
import copy

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

CLASSES = ('airplane', 'bear', 'car')


def make_cocovid(seed,
                 num_videos=3,
                 num_frames=25,
                 max_instances=4,
                 p_absent=0.15,
                 p_crowd=0.04,
                 p_ignore=0.04):
    """Random CocoVID json with moving instances of various speeds.

    Category ids are not contiguous and not in class order, there is an
    extra category outside ``CLASSES`` and image ids are shuffled (so that
    image order != id order).
    """
    rng = np.random.RandomState(seed)
    cat_names = list(CLASSES) + ['zebra_not_evaluated']
    cat_ids = [31, 7, 12, 50]
    categories = [dict(id=i, name=n) for i, n in zip(cat_ids, cat_names)]
    rng.shuffle(categories)
    total = num_videos * num_frames
    img_ids = (rng.permutation(total) * 3 + 5).tolist()
    videos, images, anns = [], [], []
    ann_id = 1
    k = 0
    for v in range(num_videos):
        vid = 100 + v
        videos.append(dict(id=vid, name=f'video_{v}'))
        frame_img = []
        for f in range(num_frames):
            img = dict(
                id=img_ids[k],
                video_id=vid,
                frame_id=f,
                file_name=f'video_{v}/{f:06d}.JPEG',
                width=640,
                height=480,
                deteriorated=bool(rng.rand() < 0.3))
            k += 1
            images.append(img)
            frame_img.append(img['id'])
        for ins in range(rng.randint(1, max_instances + 1)):
            cat = int(rng.choice(cat_ids))
            w, h = rng.uniform(20, 150, size=2)
            x, y = rng.uniform(0, 400), rng.uniform(0, 300)
            speed = rng.choice([0.0, 0.02, 0.08, 0.3])
            vx, vy = rng.randn(2) * speed * w
            crowd = rng.rand() < p_crowd
            for f in range(num_frames):
                if rng.rand() < p_absent:
                    continue
                bx = x + vx * f + rng.randn() * 1.0
                by = y + vy * f + rng.randn() * 1.0
                bw = max(2.0, w + rng.randn())
                bh = max(2.0, h + rng.randn())
                ann = dict(
                    id=ann_id,
                    image_id=frame_img[f],
                    video_id=vid,
                    category_id=cat,
                    instance_id=ins,
                    bbox=[float(bx), float(by),
                          float(bw), float(bh)],
                    area=float(bw * bh),
                    iscrowd=int(crowd),
                    occluded=bool(rng.rand() < 0.1))
                if rng.rand() < p_ignore:
                    ann['ignore'] = True
                anns.append(ann)
                ann_id += 1
    order = rng.permutation(len(anns))  # json order != frame order
    anns = [anns[i] for i in order]
    return dict(
        categories=categories,
        videos=videos,
        images=images,
        annotations=anns)


def is_ground_truth(ann, img):
    """The documented ground-truth rule, written independently of the
    library: a box below 1 pixel, with ``area <= 0`` or that does not
    overlap its image is not ground truth."""
    x, y, w, h = ann['bbox']
    if w < 1 or h < 1 or ann.get('area', 1) <= 0:
        return False
    return x < img['width'] and y < img['height'] and x + w > 0 and y + h > 0


def drop_non_gt(data):
    """A copy of ``data`` without the annotations that are not GT."""
    data = copy.deepcopy(data)
    imgs = {i['id']: i for i in data['images']}
    data['annotations'] = [
        a for a in data['annotations']
        if is_ground_truth(a, imgs[a['image_id']])
    ]
    return data


def cat_ids_in_class_order(data):
    name2id = {c['name']: c['id'] for c in data['categories']}
    return [name2id[c] for c in CLASSES]


def random_predictions(data, seed, tie_scores=False, p_missing_img=0.0):
    """dict img_id -> (bboxes xyxy float32, scores float32, labels int64)."""
    rng = np.random.RandomState(seed + 1000)
    cat2label = {c: i for i, c in enumerate(cat_ids_in_class_order(data))}
    by_img = {img['id']: [] for img in data['images']}
    for ann in data['annotations']:
        by_img[ann['image_id']].append(ann)
    preds = {}
    for img in data['images']:
        if rng.rand() < p_missing_img:
            continue
        boxes, labels = [], []
        for ann in by_img[img['id']]:
            x, y, w, h = ann['bbox']
            for _ in range(rng.choice([0, 1, 1, 2])):  # 2 = duplicate
                j = rng.randn(4) * 0.15 * np.array([w, h, w, h])
                boxes.append([x + j[0], y + j[1], x + w + j[2], y + h + j[3]])
                lab = cat2label.get(ann['category_id'],
                                    rng.randint(len(CLASSES)))
                if rng.rand() < 0.1:
                    lab = rng.randint(len(CLASSES))
                labels.append(lab)
        for _ in range(rng.randint(0, 6)):  # background
            x, y = rng.uniform(0, 600), rng.uniform(0, 440)
            w, h = rng.uniform(5, 200, size=2)
            boxes.append([x, y, x + w, y + h])
            labels.append(rng.randint(len(CLASSES)))
        n = len(boxes)
        scores = rng.rand(n)
        if tie_scores:
            scores = np.round(scores, 1)
        preds[img['id']] = (np.array(boxes, np.float32).reshape(-1, 4),
                            scores.astype(np.float32),
                            np.array(labels, np.int64))
    return preds


def make_sample(img, pred, with_gt=None, data=None, gt_style='instances'):
    """A ``DetDataSample.to_dict()``-like dict of one key frame."""
    bboxes, scores, labels = pred
    ds = dict(
        img_id=img['id'],
        video_id=img.get('video_id'),
        frame_id=img.get('frame_id'),
        ori_shape=(img.get('height', 480), img.get('width', 640)),
        img_path=img.get('file_name'),
        pred_instances=dict(
            bboxes=torch.from_numpy(bboxes),
            scores=torch.from_numpy(scores),
            labels=torch.from_numpy(labels)))
    if 'deteriorated' in img:
        ds['deteriorated'] = img['deteriorated']
    if with_gt:
        cat2label = {
            c: i
            for i, c in enumerate(cat_ids_in_class_order(data))
        }
        anns = [
            a for a in data['annotations']
            if a['image_id'] == img['id'] and a['category_id'] in cat2label
            and is_ground_truth(a, img)
        ]
        # same relative order as in the json
        if gt_style == 'instances':
            ds['instances'] = [
                dict(
                    bbox=[
                        a['bbox'][0], a['bbox'][1],
                        a['bbox'][0] + a['bbox'][2],
                        a['bbox'][1] + a['bbox'][3]
                    ],
                    bbox_label=cat2label[a['category_id']],
                    ignore_flag=int(a.get('iscrowd', 0)),
                    instance_id=a['instance_id']) for a in anns
            ]
        else:
            normal = [a for a in anns if not a.get('iscrowd', 0)]
            crowd = [a for a in anns if a.get('iscrowd', 0)]

            def pack(sel):
                b = np.array([[
                    a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                    a['bbox'][1] + a['bbox'][3]
                ] for a in sel], np.float64).reshape(-1, 4)
                return dict(
                    bboxes=torch.from_numpy(b),
                    labels=torch.tensor(
                        [cat2label[a['category_id']] for a in sel],
                        dtype=torch.long),
                    instances_ids=torch.tensor(
                        [a['instance_id'] for a in sel], dtype=torch.long))

            ds['gt_instances'] = pack(normal)
            ds['ignored_instances'] = pack(crowd)
    return ds


# --------------------------------------------------------------------------
# reference: pycocotools + a loop implementation of the motion IoU
# --------------------------------------------------------------------------
def _iou_xywh(a, b):
    ax2, ay2 = a[0] + a[2], a[1] + a[3]
    bx2, by2 = b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def reference_motion_ious(data, window=10, no_neighbour=0.0):
    """ann id -> motion IoU, by brute force over all annotations that are
    ground truth."""
    data = drop_non_gt(data)
    img = {i['id']: i for i in data['images']}
    anns = data['annotations']
    out = {}
    for a in anns:
        va, fa = img[a['image_id']]['video_id'], img[a['image_id']]['frame_id']
        ious = []
        for b in anns:
            vb = img[b['image_id']]['video_id']
            fb = img[b['image_id']]['frame_id']
            if vb == va and b['instance_id'] == a['instance_id'] and \
                    fb != fa and abs(fb - fa) <= window:
                ious.append(_iou_xywh(a['bbox'], b['bbox']))
        out[a['id']] = float(np.mean(ious)) if ious else no_neighbour
    return out


class _IgnoringCOCOeval(COCOeval):
    """COCOeval that also ignores the given annotation ids (and the json's
    ``ignore`` flag, which pycocotools itself overwrites with iscrowd)."""

    def __init__(self, coco_gt, coco_dt, extra_ignore=()):
        super().__init__(coco_gt, coco_dt, 'bbox')
        self._extra_ignore = set(extra_ignore) | {
            a['id']
            for a in coco_gt.dataset['annotations'] if a.get('ignore', False)
        }

    def _prepare(self):
        super()._prepare()
        for gts in self._gts.values():
            for g in gts:
                if g['id'] in self._extra_ignore:
                    g['ignore'] = 1


def predictions_to_coco_results(preds, cat_ids):
    res = []
    for img_id, (b, s, labels) in preds.items():
        for box, score, lab in zip(b.tolist(), s.tolist(), labels.tolist()):
            res.append(
                dict(
                    image_id=img_id,
                    category_id=cat_ids[lab],
                    bbox=[box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    score=score))
    return res


def reference_ap50(data, preds, img_ids=None, extra_ignore=()):
    """(mAP, per-class AP list) of pycocotools at IoU 0.5, area all, no
    detection cap; -1 / nan where there is no GT, like VIDMetric. The
    annotations that are not ground truth (:func:`is_ground_truth`) are
    removed from the json first."""
    data = drop_non_gt(data)
    gt = COCO()
    gt.dataset = data
    gt.createIndex()
    cat_ids = cat_ids_in_class_order(data)
    results = predictions_to_coco_results(preds, cat_ids)
    if not results:
        raise ValueError('pycocotools cannot load empty results')
    dt = gt.loadRes(results)
    ev = _IgnoringCOCOeval(gt, dt, extra_ignore)
    ev.params.imgIds = sorted(preds if img_ids is None else img_ids)
    ev.params.catIds = cat_ids
    ev.params.iouThrs = np.array([0.5])
    ev.params.maxDets = [1000000]
    ev.params.areaRng = [[0, 1e10]]
    ev.params.areaRngLbl = ['all']
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval['precision'][0, :, :, 0, -1]  # (R, K), K: sorted ids
    sorted_ids = list(ev.params.catIds)
    assert sorted_ids == sorted(cat_ids)
    per_class = []
    for cat_id in cat_ids:
        p = prec[:, sorted_ids.index(cat_id)]
        per_class.append(float(p.mean()) if (p > -1).all() else float('nan'))
    valid = prec > -1
    m = float(prec[valid].mean()) if valid.any() else -1.0
    return m, per_class
