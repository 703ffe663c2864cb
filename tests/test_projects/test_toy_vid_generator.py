"""Tests of the synthetic deteriorated-video generator
(mmstpn/projects/toy_vid/generator.py: CocoVID + JPEGs) and its command line
(tools/misc/generate_toy_vid.py)."""
import hashlib
import json
import math
import os
import os.path as osp
from collections import Counter, defaultdict

import cv2
import numpy as np
import pytest

from mmstpn.evaluation.functional import compute_motion_ious
from tests.test_evaluation.vid_test_utils import reference_motion_ious
from mmstpn.projects.toy_vid import generator as toy_vid_generator
from mmstpn.projects.toy_vid.generator import (DETERIORATION_KINDS,
                                               DISTRACTOR_TEXTURES,
                                               TEXTURE_CLASSES,
                                               generate_deteriorated_vid,
                                               generate_split, render_texture)
from tests.test_tools.tool_helpers import load_tool

SMALL = dict(num_train_videos=4, num_val_videos=3, frames_per_video=8,
             img_size=(64, 80))


def _load(path):
    with open(path) as f:
        return json.load(f)


def _tree_digest(root):
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            p = osp.join(d, name)
            with open(p, 'rb') as f:
                out[osp.relpath(p, root)] = hashlib.md5(f.read()).hexdigest()
    return out


@pytest.fixture(scope='module')
def default_set(tmp_path_factory):
    """The default sizes, annotations only (no JPEGs: fast)."""
    root = str(tmp_path_factory.mktemp('toy_default'))
    paths = generate_deteriorated_vid(root, write_images=False)
    return {s: _load(paths[f'{s}_ann']) for s in ('train', 'val')}


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_small'))
    paths = generate_deteriorated_vid(root, seed=3, **SMALL)
    return root, paths


def test_determinism(small_set, tmp_path):
    root, paths = small_set
    again = generate_deteriorated_vid(str(tmp_path / 'a'), seed=3, **SMALL)
    assert _load(again['train_ann']) == _load(paths['train_ann'])
    assert _load(again['val_ann']) == _load(paths['val_ann'])
    digest = _tree_digest(osp.join(root, 'frames'))
    assert digest == _tree_digest(again['img_prefix'])
    assert len(digest) == (4 + 3) * 8
    # another seed gives other data
    other = generate_deteriorated_vid(str(tmp_path / 'b'), seed=4, **SMALL)
    assert _load(other['train_ann']) != _load(paths['train_ann'])
    # the json does not depend on whether the frames are rendered
    dry = generate_deteriorated_vid(
        str(tmp_path / 'c'), seed=3, write_images=False, **SMALL)
    assert _load(dry['train_ann']) == _load(paths['train_ann'])
    assert not osp.exists(tmp_path / 'c' / 'frames')
    # enlarging a split appends videos without changing the earlier ones
    big = generate_split(str(tmp_path / 'd'), 'train', 6, 8, (64, 80),
                         seed=3, write_images=False)
    small = _load(paths['train_ann'])
    assert big['videos'][:4] == small['videos']
    assert big['images'][:len(small['images'])] == small['images']
    assert big['annotations'][:len(small['annotations'])] == \
        small['annotations']


def test_frames_on_disk(small_set):
    root, paths = small_set
    for split in ('train', 'val'):
        data = _load(paths[f'{split}_ann'])
        for img in data['images']:
            path = osp.join(paths['img_prefix'], img['file_name'])
            assert path.endswith(f'{img["frame_id"]:06d}.jpg')
            arr = cv2.imread(path)
            assert arr is not None, path
            assert arr.shape == (img['height'], img['width'], 3)
            assert img['file_name'].startswith(f'{split}/')
            assert ('is_vid_train_frame' in img) == (split == 'train')


def _check_consistency(data, img_hw, all_cats_used=True, layout='single'):
    h, w = img_hw
    cats = {c['id']: c['name'] for c in data['categories']}
    videos = {v['id']: v['name'] for v in data['videos']}
    assert len(videos) == len(data['videos'])
    assert len(set(videos.values())) == len(videos)
    imgs = {i['id']: i for i in data['images']}
    assert len(imgs) == len(data['images'])
    keys = Counter((i['video_id'], i['frame_id']) for i in data['images'])
    assert max(keys.values()) == 1, 'duplicate (video_id, frame_id)'
    for img in data['images']:
        assert img['video_id'] in videos
        assert (img['height'], img['width']) == (h, w)
        assert isinstance(img['deteriorated'], bool)
        if img['deteriorated']:
            assert img['deterioration'] in DETERIORATION_KINDS
        else:
            assert img['deterioration'] is None
    ann_ids = [a['id'] for a in data['annotations']]
    assert len(set(ann_ids)) == len(ann_ids)
    video_cls = defaultdict(set)
    inst_video = {}
    for a in data['annotations']:
        img = imgs[a['image_id']]        # every annotation's image exists
        assert a['video_id'] == img['video_id']
        assert a['category_id'] in cats
        assert a['iscrowd'] == 0
        assert a['occluded'] == (img['deterioration'] == 'occlusion')
        x, y, bw, bh = a['bbox']
        assert bw > 0 and bh > 0
        assert x >= 0 and y >= 0 and x + bw <= w + 1e-6 and \
            y + bh <= h + 1e-6
        assert a['area'] == pytest.approx(bw * bh, abs=0.05)
        video_cls[a['video_id']].add(a['category_id'])
        # an instance id belongs to one video
        assert inst_video.setdefault(a['instance_id'],
                                     a['video_id']) == a['video_id']
    # every video annotated, every category used; 'single': one class per
    # video, 1-2 objects; 'multi': 2-3 objects of different classes
    assert set(video_cls) == set(videos)
    used = set().union(*video_cls.values())
    assert used == set(cats) if all_cats_used else used <= set(cats)
    # every instance is annotated in every frame of its video
    frames_per_video = Counter(i['video_id'] for i in data['images'])
    per_inst = Counter(a['instance_id'] for a in data['annotations'])
    inst_cls = {a['instance_id']: a['category_id']
                for a in data['annotations']}
    per_video = defaultdict(list)
    for iid, n in per_inst.items():
        assert n == frames_per_video[inst_video[iid]]
        per_video[inst_video[iid]].append(inst_cls[iid])
    for vid, classes in per_video.items():
        if layout == 'single':
            assert 1 <= len(classes) <= 2 and len(set(classes)) == 1
        else:
            assert 2 <= len(classes) <= 3
            assert len(set(classes)) == len(classes), (vid, classes)


def test_json_consistency(default_set, small_set):
    for data in default_set.values():
        _check_consistency(data, (128, 128))
        assert [c['name'] for c in data['categories']] == \
            list(TEXTURE_CLASSES)
    _, paths = small_set
    for split in ('train', 'val'):
        # 3-4 videos for 4 classes: not every class can occur
        _check_consistency(
            _load(paths[f'{split}_ann']), SMALL['img_size'],
            all_cats_used=False)


SMALL_DIGESTS = dict(
    # md5 of train.json / val.json / the frames (sorted (path, md5) list) of
    # generate_deteriorated_vid(root, seed=5, num_train_videos=6,
    # num_val_videos=3, frames_per_video=8, img_size=(64, 80)), computed
    # with the generator before layouts existed: the default ('single')
    # layout must stay byte-identical (the frames' digest also depends on
    # OpenCV's JPEG encoder: if only it fails after an OpenCV upgrade,
    # compare the decoded pixels instead)
    train='19a2361d2b3b36b183653f3367e06481',
    val='8557ca3c84b1563cc600609cca42e137',
    frames='f527b056bc2b9636fae8619b9eb33c0e')


def test_single_layout_unchanged(tmp_path):
    paths = generate_deteriorated_vid(
        str(tmp_path / 'a'), seed=5, num_train_videos=6, num_val_videos=3,
        frames_per_video=8, img_size=(64, 80))
    for split in ('train', 'val'):
        with open(paths[f'{split}_ann'], 'rb') as f:
            assert hashlib.md5(f.read()).hexdigest() == SMALL_DIGESTS[split]
    frames = sorted(
        (osp.join('frames', k), v)
        for k, v in _tree_digest(paths['img_prefix']).items())
    assert hashlib.md5(json.dumps(frames).encode()).hexdigest() == \
        SMALL_DIGESTS['frames']
    # layout='single' is the default; its json does not name a layout
    explicit = generate_deteriorated_vid(
        str(tmp_path / 'b'), seed=5, num_train_videos=6, num_val_videos=3,
        frames_per_video=8, img_size=(64, 80), layout='single',
        write_images=False)
    for split in ('train', 'val'):
        assert _load(explicit[f'{split}_ann']) == _load(paths[f'{split}_ann'])
        assert 'layout' not in _load(paths[f'{split}_ann'])['info']


@pytest.fixture(scope='module')
def multi_set(tmp_path_factory):
    """The default sizes in the 'multi' layout, annotations only."""
    root = str(tmp_path_factory.mktemp('toy_multi'))
    paths = generate_deteriorated_vid(root, write_images=False, seed=2,
                                      layout='multi')
    return {s: _load(paths[f'{s}_ann']) for s in ('train', 'val')}


def test_multi_layout_json(multi_set, default_set):
    for split, data in multi_set.items():
        _check_consistency(data, (128, 128), layout='multi')
        assert data['info']['layout'] == 'multi'
        assert data['info']['distractor_texture'] == 'rings'
        per_video = defaultdict(set)
        for a in data['annotations']:
            per_video[a['video_id']].add(a['category_id'])
        sizes = Counter(len(c) for c in per_video.values())
        distractors = Counter(v['num_distractors'] for v in data['videos'])
        assert set(sizes) == {2, 3} and set(distractors) == {0, 1, 2}
        if split == 'train':
            # every class in about (2.5 / 4) of the videos
            per_cls = Counter(c for cs in per_video.values() for c in cs)
            assert min(per_cls.values()) > 0.5 * len(per_video)
            assert sizes[3] > 0.4 * len(per_video)
            assert min(distractors.values()) > 0.25 * len(per_video)
        # deteriorated frames as in the 'single' layout
        flags = [i['deteriorated'] for i in data['images']]
        assert np.mean(flags) == pytest.approx(0.3, abs=0.04)
    # smaller objects than in the 'single' layout
    side = [math.sqrt(a['area']) for a in multi_set['train']['annotations']]
    side0 = [math.sqrt(a['area'])
             for a in default_set['train']['annotations']]
    assert np.mean(side) < 0.85 * np.mean(side0)


def test_multi_objects_apart_and_distractors():
    """All objects of a 'multi' video, distractors included, are apart in
    every frame; the distractors come last, unlabelled, with their
    texture."""
    from mmstpn.projects.toy_vid.generator import _multi_objects, _overlap
    seen = Counter()
    for i in range(40):
        rng = np.random.default_rng([9, i])
        tier = ('slow', 'medium', 'fast')[i % 3]
        objs = _multi_objects(rng, f'v{i}', TEXTURE_CLASSES, 'checker',
                              'plain' if i % 2 else 'rings', tier, 16,
                              (128, 128), bool(i % 2))
        lab = [o for o in objs if o['labelled']]
        dis = [o for o in objs if not o['labelled']]
        assert objs == lab + dis and lab[0]['cls_name'] == 'checker'
        assert len({o['cls_name'] for o in lab}) == len(lab) >= 2
        assert all(o['cls_name'] == ('plain' if i % 2 else 'rings')
                   for o in dis)
        for j, a in enumerate(objs):
            for b in objs[j + 1:]:
                assert not _overlap(a['boxes'], b['boxes']).any()
        seen[(len(lab), len(dis))] += 1
    assert {n for n, _ in seen} == {2, 3} and {d for _, d in seen} == \
        {0, 1, 2}


def test_multi_frames_show_unlabelled_distractors(tmp_path):
    """In a clean frame, outside the labelled boxes there is texture (the
    rings) exactly in the videos that have distractors."""
    paths = generate_deteriorated_vid(
        str(tmp_path), num_train_videos=12, num_val_videos=0, seed=3,
        layout='multi')
    data = _load(paths['train_ann'])
    boxes = defaultdict(list)
    for a in data['annotations']:
        boxes[a['image_id']].append(a['bbox'])
    videos = {v['id']: v for v in data['videos']}
    checked = Counter()
    for img in data['images']:
        if img['deteriorated'] or img['frame_id'] % 5:
            continue
        frame = cv2.imread(osp.join(paths['img_prefix'], img['file_name']))
        grey = frame.astype(np.float32).mean(2)
        hp = grey - cv2.GaussianBlur(grey, (0, 0), 3.0)
        mask = np.ones(hp.shape, bool)
        for x, y, w, h in boxes[img['id']]:
            mask[max(int(y) - 3, 0):int(y + h) + 4,
                 max(int(x) - 3, 0):int(x + w) + 4] = False
        # 8x8 blocks entirely outside the labelled boxes
        e = (hp**2 * mask).reshape(16, 8, 16, 8).sum((1, 3))
        inside = mask.reshape(16, 8, 16, 8).all((1, 3))
        textured = int(((e / 64 > 150) & inside).sum())
        n_dis = videos[img['video_id']]['num_distractors']
        if n_dis:
            assert textured >= 2 * n_dis, (img['file_name'], textured)
        else:
            assert textured == 0, (img['file_name'], textured)
        checked[n_dis > 0] += 1
    assert checked[True] and checked[False]


def test_loads_in_cocovid_dataset(small_set):
    from mmstpn.datasets import CocoVIDDataset
    root, _ = small_set
    ds = CocoVIDDataset(
        ann_file='train.json', data_root=root,
        data_prefix=dict(img_path='frames/'), pipeline=[], test_mode=True)
    assert len(ds) == SMALL['num_train_videos']
    assert ds.metainfo['classes'] == TEXTURE_CLASSES
    video = ds.get_data_info(0)
    assert video['video_length'] == SMALL['frames_per_video']
    assert osp.isfile(video['images'][0]['img_path'])
    assert video['images'][0]['instances']


@pytest.mark.parametrize('ratio', [0.3, 0.45])
def test_deterioration_rate_and_isolation(ratio, default_set, tmp_path):
    if ratio == 0.3:
        datas = list(default_set.values())
    else:
        paths = generate_deteriorated_vid(
            str(tmp_path), deteriorated_ratio=ratio, write_images=False)
        datas = [_load(paths['train_ann']), _load(paths['val_ann'])]
    for data in datas:
        flags = [i['deteriorated'] for i in data['images']]
        assert np.mean(flags) == pytest.approx(ratio, abs=0.04)
        kinds = Counter(i['deterioration'] for i in data['images']
                        if i['deteriorated'])
        if ratio == 0.3:
            assert set(kinds) == set(DETERIORATION_KINDS)
        by_video = defaultdict(dict)
        for img in data['images']:
            by_video[img['video_id']][img['frame_id']] = img['deteriorated']
        for frames in by_video.values():
            for t, det in frames.items():
                if det:   # both temporal neighbours are clean
                    assert not frames.get(t - 1, False)
                    assert not frames.get(t + 1, False)
            assert not all(frames.values())


def test_motion_splits_populated(default_set):
    """Every motion split (as VIDMetric computes it) is populated, on clean
    and on deteriorated frames."""
    cli = load_tool('misc/generate_toy_vid.py')
    for data in default_set.values():
        imgs = {i['id']: i for i in data['images']}
        on_det = {
            a['id']: imgs[a['image_id']]['deteriorated']
            for a in data['annotations']
        }
        splits = Counter()
        det_splits = Counter()
        box_splits = cli.box_motion_splits(data)
        assert set(box_splits) == set(on_det)
        for ann_id, s in box_splits.items():
            splits[s] += 1
            det_splits[s] += on_det[ann_id]
        for s in ('slow', 'medium', 'fast'):
            assert splits[s] >= 0.15 * len(data['annotations']), splits
            assert det_splits[s] > 0, det_splits
    # the tool's split is that of a brute-force motion IoU (FGFA rule),
    # wherever the value is not at a threshold
    ref = reference_motion_ious(default_set['val'])
    for ann_id, m in ref.items():
        if min(abs(m - 0.7), abs(m - 0.9)) > 1e-6:
            want = 'slow' if m > 0.9 else ('fast' if m < 0.7 else 'medium')
            assert box_splits[ann_id] == want, (ann_id, m)


def test_motion_ious_rule():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10.]])
    m = compute_motion_ious([1] * 3, [7] * 3, [0, 1, 20], boxes)
    iou = 90 / 110
    np.testing.assert_allclose(m, [iou, iou, 0.0])   # lone box -> 0 (fast)
    cli = load_tool('misc/generate_toy_vid.py')
    assert cli.motion_split_names([0.95, 0.9, 0.7, 0.69]) == \
        ['slow', 'medium', 'medium', 'fast']


def test_textures_differ_only_in_orientation():
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    energies = []
    for name in TEXTURE_CLASSES:
        tex = render_texture(name, xx - 32, yy - 32, 4.0, (0.3, 1.2))
        assert abs(tex.mean()) < 0.02
        energies.append((tex**2).mean())
        spec = np.abs(np.fft.fft2(tex))
        spec[0, 0] = 0
        peak = np.unravel_index(spec.argmax(), spec.shape)
        freq = np.hypot(*[min(p, 64 - p) / 64 for p in peak])
        assert freq == pytest.approx(1 / 4.0, abs=0.03)
    np.testing.assert_allclose(energies, 0.5, atol=0.03)
    with pytest.raises(ValueError, match='unknown texture'):
        render_texture('dots', xx, yy, 4.0, (0, 0))
    # the distractors' rings: same radial frequency and energy, but spread
    # over all orientations (none of the classes' structures)
    rings = render_texture('rings', xx - 32, yy - 32, 4.0, (0.3, 1.2))
    assert abs(rings.mean()) < 0.02
    assert (rings**2).mean() == pytest.approx(0.5, abs=0.03)
    spec = np.abs(np.fft.fft2(rings))**2
    spec[0, 0] = 0
    fy, fx = np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64),
                         indexing='ij')
    band = np.abs(np.hypot(fx, fy) - 0.25) < 0.04
    assert spec[band].sum() > 0.6 * spec.sum()
    angle = np.mod(np.degrees(np.arctan2(fy, fx)), 180)
    sectors = [spec[band & (np.abs(angle - a) < 22.5)].sum()
               for a in (22.5, 67.5, 112.5, 157.5)]
    assert max(sectors) < 1.5 * min(sectors), sectors
    assert not render_texture('plain', xx, yy, 4.0, (0, 0)).any()
    assert set(DISTRACTOR_TEXTURES).isdisjoint(TEXTURE_CLASSES)


def test_bad_arguments(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match='deteriorated_ratio'):
        generate_deteriorated_vid(str(tmp_path), deteriorated_ratio=0.6,
                                  write_images=False)
    with pytest.raises(ValueError, match='num_classes'):
        generate_deteriorated_vid(str(tmp_path), num_classes=5,
                                  write_images=False)
    with pytest.raises(ValueError, match='deterioration_kinds'):
        generate_deteriorated_vid(str(tmp_path), deterioration_kinds=['fog'],
                                  write_images=False)
    with pytest.raises(ValueError, match='layout'):
        generate_deteriorated_vid(str(tmp_path), layout='crowd',
                                  write_images=False)
    with pytest.raises(ValueError, match='num_classes >= 2'):
        generate_deteriorated_vid(str(tmp_path), layout='multi',
                                  num_classes=1, write_images=False)
    with pytest.raises(ValueError, match='distractor_texture'):
        generate_deteriorated_vid(str(tmp_path), layout='multi',
                                  distractor_texture='dots',
                                  write_images=False)
    # objects wider than half the frame cannot be apart: a clear error
    monkeypatch.setattr(toy_vid_generator, '_MULTI_OBJECT_SIZE', (0.6, 0.7))
    with pytest.raises(RuntimeError, match='train_0000: could not place 2'):
        generate_split(str(tmp_path), 'train', 3, 4, (64, 64),
                       layout='multi', write_images=False)


def test_cli(tmp_path, capsys):
    cli = load_tool('misc/generate_toy_vid.py')
    out = str(tmp_path / 'toy')
    cli.main([out, '--num-train-videos', '8', '--num-val-videos', '4',
              '--frames-per-video', '12', '--num-classes', '3', '--probe'])
    text = capsys.readouterr().out
    assert '[train] 8 videos, 96 frames' in text
    assert '[val] 4 videos, 48 frames' in text
    assert 'motion split' in text and 'class probe' in text
    sheet = cv2.imread(osp.join(out, 'preview.png'))
    assert sheet is not None and sheet.shape[0] > 3 * 128
    cli.main([str(tmp_path / 'multi'), '--num-train-videos', '6',
              '--num-val-videos', '0', '--layout', 'multi',
              '--distractor-texture', 'plain', '--no-preview'])
    text = capsys.readouterr().out
    assert 'layout multi: videos with N classes: 2: ' in text
    assert 'distractors (plain)' in text
    info = _load(str(tmp_path / 'multi' / 'train.json'))['info']
    assert (info['layout'], info['distractor_texture']) == ('multi', 'plain')
