"""youtubevis2coco / mot2coco wrappers (mmdet's converters, checked first)
on tiny fake YouTube-VIS and MOT17 trees."""
import copy
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_util
import pytest

from mmstpn.datasets import (CheckedMOTChallengeDataset,
                             CheckedYouTubeVISDataset)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONVERTERS = osp.join(REPO, 'tools', 'dataset_converters')
sys.path.insert(0, CONVERTERS)

import mot2coco  # noqa: E402
import youtubevis2coco as vis_conv  # noqa: E402

H, W = 24, 32


# ------------------------------------------------------------ YouTube-VIS
def uncompressed_rle(mask: np.ndarray) -> dict:
    """Official YouTube-VIS RLE: column-major run lengths, zeros first
    (written from the format's definition)."""
    flat = mask.flatten(order='F').astype(int)
    counts, value, run = [], 0, 0
    for v in flat:
        if v == value:
            run += 1
        else:
            counts.append(run)
            value, run = v, 1
    counts.append(run)
    return dict(counts=counts, size=[H, W])


def box_mask(x, y, w, h):
    m = np.zeros((H, W), dtype=bool)
    m[y:y + h, x:x + w] = True
    return m


def raw_vis(num_videos=5, num_frames=3):
    """An official-format YouTube-VIS 2019 train json: video v has one
    person on every frame and, for even v, a panda on frames >= 1."""
    videos, anns = [], []
    for v in range(1, num_videos + 1):
        videos.append(dict(
            id=v, width=W, height=H, length=num_frames,
            file_names=[f'vid{v:03d}/{t:05d}.jpg'
                        for t in range(num_frames)]))
        tracks = [(1, [(1 + t, 2, 6, 8) for t in range(num_frames)])]
        if v % 2 == 0:
            tracks.append(
                (2, [None] + [(12, 4, 10, 5)] * (num_frames - 1)))
        for cat, boxes in tracks:
            anns.append(dict(
                id=len(anns) + 1, video_id=v, category_id=cat, iscrowd=0,
                height=H, width=W, length=1,
                segmentations=[uncompressed_rle(box_mask(*b)) if b else None
                               for b in boxes],
                bboxes=[list(b) if b else None for b in boxes],
                areas=[b[2] * b[3] if b else None for b in boxes]))
    cats = [dict(id=1, name='person'), dict(id=2, name='giant_panda')]
    return dict(videos=videos, annotations=anns, categories=cats)


def write_json(path, data):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f)


def test_youtubevis_convert_and_load(tmp_path):
    raw = raw_vis()
    ann_dir, out = str(tmp_path / 'ann'), str(tmp_path / 'out')
    write_json(osp.join(ann_dir, 'train.json'), raw)
    valid = copy.deepcopy(raw)
    valid.pop('annotations')
    write_json(osp.join(ann_dir, 'valid.json'), valid)
    written = vis_conv.convert(ann_dir, out, '2019')
    assert [osp.basename(p) for p in written] == [
        'youtube_vis_2019_train.json', 'youtube_vis_2019_valid.json']
    train = json.load(open(written[0]))
    assert len(train['images']) == 15
    # person on all 15 frames, panda on frames 1, 2 of videos 2 and 4
    assert len(train['annotations']) == 15 + 4
    dataset = CheckedYouTubeVISDataset(
        dataset_version='2019', ann_file=written[0], test_mode=True,
        data_prefix=dict(img_path='train/JPEGImages'))
    assert len(dataset) == 5
    video = dataset[1]  # video 2, test pipeline = [] returns the dict
    assert video['video_id'] == [2] * 3
    frame1 = video['instances'][1]
    assert sorted(i['bbox_label'] for i in frame1) == [0, 1]  # person, panda
    panda = next(i for i in frame1 if i['bbox_label'] == 1)
    # the converted mask decodes to the box we drew
    decoded = mask_util.decode(mask_util.frPyObjects(panda['mask'], H, W))
    assert (decoded.astype(bool) == box_mask(12, 4, 10, 5)).all()
    assert panda['bbox'] == [12, 4, 22, 9]
    # the valid split has images but no annotations
    valid = json.load(open(written[1]))
    assert len(valid['images']) == 15 and 'annotations' not in valid
    assert len(CheckedYouTubeVISDataset(
        dataset_version='2019', ann_file=written[1], test_mode=True)) == 5


def test_youtubevis_holdout_split(tmp_path):
    ann_dir, out = str(tmp_path / 'ann'), str(tmp_path / 'out')
    write_json(osp.join(ann_dir, 'train.json'), raw_vis(num_videos=10))
    vis_conv.main(['-i', ann_dir, '-o', out, '--version', '2019',
                   '--holdout-videos', '3', '--seed', '1'])
    full = json.load(open(osp.join(out, 'youtube_vis_2019_train.json')))
    sub = json.load(open(osp.join(out, 'youtube_vis_2019_train_sub.json')))
    held = json.load(open(osp.join(out, 'youtube_vis_2019_holdout.json')))
    held_ids = {v['id'] for v in held['videos']}
    sub_ids = {v['id'] for v in sub['videos']}
    assert len(held_ids) == 3 and not held_ids & sub_ids
    assert held_ids | sub_ids == set(range(1, 11))
    for part, ids in ((sub, sub_ids), (held, held_ids)):
        assert {i['video_id'] for i in part['images']} == ids
        assert {a['video_id'] for a in part['annotations']} <= ids
        assert part['categories'] == full['categories']
    assert len(sub['annotations']) + len(held['annotations']) == len(
        full['annotations'])
    # deterministic: same seed, same split; another seed, another split
    assert vis_conv.choose_holdout(range(1, 11), 3, seed=1) == sorted(
        held_ids)
    assert vis_conv.choose_holdout(range(1, 11), 3, seed=1) != \
        vis_conv.choose_holdout(range(1, 11), 3, seed=2)
    assert len(vis_conv.choose_holdout(range(1, 11), fraction=0.25)) == 2
    with pytest.raises(ValueError, match='holdout-videos must be in'):
        vis_conv.choose_holdout(range(1, 11), 10)
    # the held-out json loads as a test set of the checked dataset
    dataset = CheckedYouTubeVISDataset(
        dataset_version='2019',
        ann_file=osp.join(out, 'youtube_vis_2019_holdout.json'),
        test_mode=True)
    assert len(dataset) == 3


def test_youtubevis_cli_script(tmp_path):
    ann_dir, out = str(tmp_path / 'ann'), str(tmp_path / 'out')
    raw = raw_vis(num_videos=3)
    write_json(osp.join(ann_dir, 'train', 'instances.json'), raw)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    subprocess.run([
        sys.executable,
        osp.join(CONVERTERS, 'youtubevis2coco.py'), '-i', ann_dir, '-o',
        out, '--version', '2021', '--holdout-fraction', '0.34'
    ], check=True, env=env, cwd=str(tmp_path), capture_output=True)
    held = json.load(open(osp.join(out, 'youtube_vis_2021_holdout.json')))
    assert len(held['videos']) == 1


@pytest.mark.parametrize('break_it, match', [
    (lambda d: d['annotations'][1]['segmentations'].pop(),
     r'video 2 \("vid002"\), annotation 2: "segmentations" has 2 entries, '
     r'the video has 3 frames'),
    (lambda d: d['annotations'][0]['areas'].append(4),
     r'video 1 \("vid001"\), annotation 1: "areas" has 4 entries'),
    (lambda d: d['annotations'][0]['segmentations'][2].update(
        size=[H, W + 1]),
     r'video 1 \("vid001"\), annotation 1, frame 2: "segmentations\[2\]" '
     r'is an RLE of size \[24, 33\]'),
    (lambda d: d['annotations'][0]['segmentations'][1]['counts'].append(3),
     r'annotation 1, frame 1: .*runs sum to 771, not height\*width = 768'),
    (lambda d: d['videos'][2].update(file_names=[]),
     r'videos\[2\] \(id 3\) has no frames'),
    (lambda d: d['annotations'][0]['bboxes'].__setitem__(0, None),
     r'annotation 1, frame 0: "segmentations" is set but "bboxes" is None'),
])
def test_youtubevis_bad_input_names_file_video_field(tmp_path, break_it,
                                                      match):
    raw = raw_vis()
    break_it(raw)
    ann_dir = str(tmp_path / 'ann')
    src = osp.join(ann_dir, 'train.json')
    write_json(src, raw)
    with pytest.raises(ValueError, match=match) as err:
        vis_conv.convert(ann_dir, str(tmp_path / 'out'), '2019')
    assert src in str(err.value)
    assert not osp.exists(tmp_path / 'out')  # nothing half-written


# ----------------------------------------------------------------- MOT17
SEQINFO = ('[Sequence]\nname={name}\nimDir=img1\nframeRate=30\n'
           'seqLength={n}\nimWidth=64\nimHeight=48\nimExt=.jpg\n')


def fake_mot(root, n=4, gt_lines=None):
    """MOT17 with one train and one test sequence; train gt: two tracks."""
    for subset, name in (('train', 'MOT17-02-FRCNN'),
                         ('test', 'MOT17-01-FRCNN')):
        seq = osp.join(root, subset, name)
        os.makedirs(osp.join(seq, 'img1'))
        for t in range(1, n + 1):
            open(osp.join(seq, 'img1', f'{t:06d}.jpg'), 'w').close()
        with open(osp.join(seq, 'seqinfo.ini'), 'w') as f:
            f.write(SEQINFO.format(name=name, n=n))
        if subset == 'train':
            os.makedirs(osp.join(seq, 'gt'))
            lines = gt_lines or [
                f'{t},{i},{5 + 10 * i},{4 + t},10,20,1,1,{0.5 + 0.1 * i}'
                for t in range(1, n + 1) for i in (1, 2)]
            with open(osp.join(seq, 'gt', 'gt.txt'), 'w') as f:
                f.write('\n'.join(lines) + '\n')
    return osp.join(root, 'train', 'MOT17-02-FRCNN')


def test_mot2coco_convert_and_load(tmp_path):
    root, out = str(tmp_path / 'MOT17'), str(tmp_path / 'out')
    fake_mot(root)
    mot2coco.main(['-i', root, '-o', out, '--split-train'])
    names = sorted(os.listdir(out))
    assert names == ['half-train_cocoformat.json', 'half-val_cocoformat.json',
                     'test_cocoformat.json', 'train_cocoformat.json']
    train = json.load(open(osp.join(out, 'train_cocoformat.json')))
    assert len(train['images']) == 4 and len(train['annotations']) == 8
    dataset = CheckedMOTChallengeDataset(
        ann_file=osp.join(out, 'train_cocoformat.json'),
        metainfo=dict(classes=('pedestrian', )), test_mode=True)
    frame = dataset[0]['instances'][2]
    assert [i['instance_id'] for i in frame] == [0, 1]
    assert [i['visibility'] for i in frame] == pytest.approx([0.6, 0.7])
    assert frame[0]['bbox'] == [15.0, 7.0, 25.0, 27.0]


def test_mot2coco_missing_seqinfo(tmp_path):
    root = str(tmp_path / 'MOT17')
    seq = fake_mot(root)
    os.remove(osp.join(seq, 'seqinfo.ini'))
    with pytest.raises(ValueError, match=r'MOT17-02-FRCNN/seqinfo.ini: '
                       r'missing \(sequence MOT17-02-FRCNN\)'):
        mot2coco.main(['-i', root, '-o', str(tmp_path / 'out')])
    assert not osp.exists(tmp_path / 'out')


def test_mot2coco_gt_line_with_wrong_field_count(tmp_path):
    root = str(tmp_path / 'MOT17')
    lines = ['1,1,5,4,10,20,1,1,0.5', '2,1,5,4,10,20,1,1']
    fake_mot(root, gt_lines=lines)
    with pytest.raises(ValueError, match=r'gt/gt.txt: line 2 \(sequence '
                       r'MOT17-02-FRCNN\) has 8 fields, expected 9'):
        mot2coco.main(['-i', root, '-o', str(tmp_path / 'out')])


@pytest.mark.parametrize('edit, match', [
    (lambda s: s.replace('imDir=img1\nframeRate=30\n',
                         'frameRate=30\nimDir=img1\n'),
     r'line 3 must be "imDir=<value>" .*got \'frameRate=30\''),
    (lambda s: s.replace('seqLength=4', 'seqLength=5'),
     r'seqLength=5 but .*img1 has 4 files'),
    (lambda s: s.replace('imWidth=64', 'imWidth=wide'),
     r'line 6: "imWidth" must be an integer'),
])
def test_mot2coco_bad_seqinfo(tmp_path, edit, match):
    root = str(tmp_path / 'MOT17')
    path = osp.join(fake_mot(root), 'seqinfo.ini')
    text = open(path).read()
    with open(path, 'w') as f:
        f.write(edit(text))
    with pytest.raises(ValueError, match=match):
        mot2coco.check_mot_folder(root)


def test_mot2coco_bad_gt_values(tmp_path):
    root = str(tmp_path / 'MOT17')
    fake_mot(root, gt_lines=['1,1,5,4,10,20,1,1,0.5', '9,1,5,4,10,20,1,1,1'])
    with pytest.raises(ValueError, match=r'line 2 .*frame 9 is outside 1..4'):
        mot2coco.check_mot_folder(root)
    fake_mot(str(tmp_path / 'b'), gt_lines=['1,x,5,4,10,20,1,1,0.5'])
    with pytest.raises(ValueError, match=r"field 2 must be int, got 'x'"):
        mot2coco.check_mot_folder(str(tmp_path / 'b'))


def test_holdout_ap_end_to_end(tmp_path):
    """Converter -> held-out json -> checked dataset + mmdet's test
    pipeline -> YouTubeVISMetricNp2: predictions equal to the ground truth
    give AP 1, and dropping one of the 2 panda tracks halves its recall."""
    import mmcv
    import torch
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData

    ann_dir, out = str(tmp_path / 'ann'), str(tmp_path / 'out')
    write_json(osp.join(ann_dir, 'train.json'), raw_vis(num_videos=8))
    vis_conv.convert(ann_dir, out, '2019', holdout_videos=4, seed=0)
    img_root = tmp_path / 'JPEGImages'
    for v in range(1, 9):
        for t in range(3):
            mmcv.imwrite(np.zeros((H, W, 3), np.uint8),
                         str(img_root / f'vid{v:03d}' / f'{t:05d}.jpg'))
    pipeline = [
        dict(type='TransformBroadcaster', transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(64, 48), keep_ratio=True),
            dict(type='LoadTrackAnnotations', with_mask=True)]),
        dict(type='PackTrackInputs')
    ]
    dataset = CheckedYouTubeVISDataset(
        dataset_version='2019',
        ann_file=osp.join(out, 'youtube_vis_2019_holdout.json'),
        data_prefix=dict(img_path=str(img_root)), test_mode=True,
        pipeline=pipeline)
    video_ids = [dataset.get_data_info(i)['video_id']
                 for i in range(len(dataset))]
    # raw_vis puts a panda track in the even videos; seed 0 holds out 2
    assert sum(v % 2 == 0 for v in video_ids) == 2

    def evaluate(drop_one_panda):
        from mmstpn.evaluation import YouTubeVISMetricNp2
        evaluator = Evaluator(YouTubeVISMetricNp2())
        evaluator.dataset_meta = dataset.metainfo
        dropped = False
        for i in range(len(dataset)):
            sample = dataset[i]['data_samples']
            has_panda = any(inst['bbox_label'] == 1 for f in sample
                            for inst in f.instances)
            drop = drop_one_panda and has_panda and not dropped
            dropped |= drop
            for frame in sample:
                insts = [inst for inst in frame.instances
                         if not (drop and inst['bbox_label'] == 1)]
                pred = InstanceData()
                pred.masks = torch.from_numpy(np.stack([
                    mask_util.decode(mask_util.frPyObjects(
                        inst['mask'], H, W)).astype(bool)
                    for inst in insts]))
                pred.bboxes = torch.zeros((len(insts), 4))
                pred.scores = torch.ones(len(insts))
                pred.labels = torch.tensor([i['bbox_label'] for i in insts])
                pred.instances_id = torch.tensor(
                    [i['instance_id'] for i in insts])
                frame.pred_track_instances = pred
            evaluator.process([sample], {})
        return evaluator.evaluate(len(dataset))

    assert evaluate(False)['youtube_vis/segm_mAP'] == 1.0
    # person AP 1; panda: recall 1/2 at precision 1 -> 51 of 101 points
    assert evaluate(True)['youtube_vis/segm_mAP'] == pytest.approx(
        (1 + 51 / 101) / 2, abs=5e-4)
