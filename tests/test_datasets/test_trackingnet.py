"""TrackingNetDataset on a fake tree in the published layout, the
TrackingNet submission and the base config."""
import os
import os.path as osp
import zipfile

import mmcv
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

import mmstpn  # noqa: F401
from mmdet.datasets.samplers import TrackImgSampler
from mmdet.registry import DATASETS

from .fake_got10k import write_split

MMLogger.get_instance('mmengine', log_level='WARNING')

# float32-exact boxes (multiples of 0.25): predictions that go through
# torch float32 stay exactly equal to the ground truth
BOXES = {
    'seq_b': [[2.0, 3.0, 10.0, 8.0], [3.25, 3.5, 10.5, 8.0],
              [4.5, 4.0, 11.0, 8.25]],
    'seq_a': [[1.0, 1.0, 6.0, 5.0], [1.5, 1.25, 6.0, 5.0]],
    'seq_c': [[0.5, 0.75, 4.0, 4.0], [1.0, 1.0, 4.0, 4.0],
              [1.5, 1.25, 4.0, 4.5], [2.0, 1.5, 4.5, 4.5]],
}


def _jpg(path):
    mmcv.imwrite(np.full((16, 24, 3), 90, np.uint8), path)


def _write_seq(root, chunk, name, boxes, num_images=0, image_ids=None):
    anno_dir = osp.join(str(root), chunk, 'anno')
    frames_dir = osp.join(str(root), chunk, 'frames', name)
    os.makedirs(anno_dir, exist_ok=True)
    os.makedirs(frames_dir, exist_ok=True)
    with open(osp.join(anno_dir, f'{name}.txt'), 'w') as f:
        f.write('\n'.join(','.join(f'{v:g}' for v in b) for b in boxes) +
                '\n')
    ids = range(num_images) if image_ids is None else image_ids
    for i in ids:
        _jpg(osp.join(frames_dir, f'{i}.jpg'))
    return osp.join(anno_dir, f'{name}.txt')


def _train_tree(root, images=False):
    for chunk, names in (('TRAIN_0', ('seq_b', 'seq_a')),
                         ('TRAIN_1', ('seq_c', ))):
        for name in names:
            _write_seq(root, chunk, name, BOXES[name],
                       len(BOXES[name]) if images else 0)


def _build(root, chunks=('TRAIN_0', 'TRAIN_1'), test_mode=True,
           pipeline=(), **kw):
    return DATASETS.build(
        dict(type='TrackingNetDataset', data_root=str(root), chunks=chunks,
             test_mode=test_mode, pipeline=list(pipeline), **kw))


def _pack_pipeline():
    return [
        dict(type='TransformBroadcaster',
             transforms=[dict(type='LoadImageFromFile')]),
        dict(type='PackTrackInputs',
             meta_keys=('video_name', 'bbox', 'cover', 'width', 'height'))
    ]


# ------------------------------------------------------------------ layout
def test_train_chunks_layout(tmp_path):
    _train_tree(tmp_path)  # frames folders exist but hold NO image
    ds = _build(tmp_path)
    # anno files sorted per chunk, chunks in the given order
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(v['video_id'], v['video_name'], v['video_length'])
            for v in infos] == [(0, 'seq_a', 2), (1, 'seq_b', 3),
                                (2, 'seq_c', 4)]
    img_id = 0
    for info, chunk in zip(infos, ('TRAIN_0', 'TRAIN_0', 'TRAIN_1')):
        name = info['video_name']
        for i, frame in enumerate(info['images']):
            x, y, w, h = BOXES[name][i]
            assert frame['frame_id'] == i and frame['img_id'] == img_id
            img_id += 1
            assert frame['img_path'] == osp.join(
                str(tmp_path), chunk, 'frames', name, f'{i}.jpg')
            assert frame['bbox'] == [x, y, x + w, y + h]
            assert (frame['visible'], frame['absence'], frame['cover']) == \
                (True, 0, 1)
            assert frame['instances'] == [
                dict(bbox=[x, y, x + w, y + h], bbox_label=0,
                     instance_id=0, ignore_flag=0)
            ]
            assert frame['width'] is None and frame['height'] is None
        assert info['key_frame_inds'] == list(range(len(BOXES[name])))
    assert list(TrackImgSampler(ds))[:3] == [(0, 0), (0, 1), (1, 0)]
    # training mode: every frame visible -> every frame a key frame
    train = _build(tmp_path, test_mode=False, filter_cfg=dict(min_visible=3))
    assert [train.get_data_info(i)['video_name']
            for i in range(len(train))] == ['seq_b', 'seq_c']
    # a single chunk given as a string
    assert len(_build(tmp_path, chunks='TRAIN_1')) == 1


def test_boxes_match_got10k_dataset(tmp_path):
    """The same x,y,w,h lines read by GOT10kDataset give the same boxes."""
    _train_tree(tmp_path)
    boxes = BOXES['seq_c']
    write_split(str(tmp_path), 'got', dict(seq_c=dict(
        boxes=boxes, absence=[0] * 4, cover=[8] * 4, resolution=None,
        write_images=False)))
    got = DATASETS.build(dict(
        type='GOT10kDataset', data_root=str(tmp_path),
        ann_file='got/list.txt', data_prefix=dict(img_path='got'),
        test_mode=True, pipeline=[]))
    tn = _build(tmp_path, chunks=('TRAIN_1', ))
    got_frames = got.get_data_info(0)['images']
    tn_frames = tn.get_data_info(0)['images']
    assert [f['bbox'] for f in tn_frames] == [f['bbox'] for f in got_frames]
    assert [f['instances'] for f in tn_frames] == \
        [f['instances'] for f in got_frames]


def test_test_chunk_lists_frames_numerically(tmp_path):
    # 12 frames: lexical order would put 10.jpg, 11.jpg before 2.jpg
    _write_seq(tmp_path, 'TEST', 'tseq', [[3, 4, 10, 8]], num_images=12)
    with open(osp.join(str(tmp_path), 'TEST', 'frames', 'tseq', 'notes.md'),
              'w') as f:
        f.write('not a frame')
    ds = _build(tmp_path, chunks=('TEST', ))
    assert ds.first_frame_only
    info = ds.get_data_info(0)
    assert info['video_length'] == 12
    frames = info['images']
    assert [osp.basename(f['img_path']) for f in frames] == \
        [f'{i}.jpg' for i in range(12)]
    assert frames[0]['bbox'] == [3, 4, 13, 12]
    assert (frames[0]['visible'], frames[0]['cover']) == (True, 1)
    assert all(f['bbox'] is None and f['visible'] is None
               and f['cover'] is None and f['instances'] == []
               for f in frames[1:])
    item = ds[(0, 11)]
    assert item['frame_id'] == [11] and item['ori_video_length'] == [12]
    assert item['img_path'][0].endswith(osp.join('tseq', '11.jpg'))


# ------------------------------------------------------------------ errors
def test_missing_chunk_and_anno(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r"chunk 'TRAIN_0': .*TRAIN_0.anno does not"):
        _build(tmp_path, chunks=('TRAIN_0', ))
    os.makedirs(osp.join(str(tmp_path), 'TRAIN_0', 'anno'))
    with pytest.raises(ValueError, match=r"chunk 'TRAIN_0': no .txt file"):
        _build(tmp_path, chunks=('TRAIN_0', ))


def test_missing_frames_folder(tmp_path):
    anno = _write_seq(tmp_path, 'TRAIN_0', 'seq_a', BOXES['seq_a'])
    os.rmdir(osp.join(str(tmp_path), 'TRAIN_0', 'frames', 'seq_a'))
    with pytest.raises(FileNotFoundError) as err:
        _build(tmp_path, chunks=('TRAIN_0', ))
    assert f"{anno} (sequence 'seq_a'): no frames folder" in str(err.value)


@pytest.mark.parametrize('line,match', [
    ('1,2,3', 'expected 4 comma-separated values x,y,w,h, got 3'),
    ('1,2,3,4,5', 'got 5'),
    ('1 2 3 4', 'got 1'),
    ('1,2,a,4', 'not a number'),
])
def test_bad_anno_line(tmp_path, line, match):
    boxes = [list(map(str, b)) for b in BOXES['seq_b']]
    anno = _write_seq(tmp_path, 'TRAIN_0', 'seq_b', BOXES['seq_b'])
    lines = [','.join(b) for b in boxes]
    lines[1] = line
    with open(anno, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with pytest.raises(ValueError) as err:
        _build(tmp_path, chunks=('TRAIN_0', ))
    msg = str(err.value)
    assert f'{anno} line 2' in msg and "sequence 'seq_b'" in msg
    assert match in msg


@pytest.mark.parametrize('box', [[1, 2, 0, 5], [1, 2, 5, -1]])
def test_non_positive_size(tmp_path, box):
    anno = _write_seq(tmp_path, 'TRAIN_0', 'seq_b',
                      BOXES['seq_b'][:2] + [box])
    with pytest.raises(ValueError) as err:
        _build(tmp_path, chunks=('TRAIN_0', ))
    assert f"{anno} line 3 (sequence 'seq_b')" in str(err.value)
    assert 'non-positive width or height' in str(err.value)


def test_test_chunk_errors(tmp_path):
    frames_dir = osp.join(str(tmp_path), 'TEST', 'frames', 'tseq')
    # a gap: 0, 1, 3
    _write_seq(tmp_path, 'TEST', 'tseq', [[1, 1, 4, 4]], image_ids=(0, 1, 3))
    with pytest.raises(ValueError,
                       match=r"sequence 'tseq': frames in .*tseq are not "
                       r'numbered 0..2 without a gap: frame 2 is missing '
                       r'\(next file 3.jpg\)'):
        _build(tmp_path, chunks=('TEST', ))
    # not starting at 0
    os.remove(osp.join(frames_dir, '0.jpg'))
    with pytest.raises(ValueError, match='frame 0 is missing'):
        _build(tmp_path, chunks=('TEST', ))
    # a number twice (0.jpg and 00.jpg)
    for name in ('0.jpg', '00.jpg', '2.jpg'):
        _jpg(osp.join(frames_dir, name))
    with pytest.raises(ValueError, match="'tseq': frame 0 appears twice"):
        _build(tmp_path, chunks=('TEST', ))
    # a non-numeric frame name
    os.remove(osp.join(frames_dir, '00.jpg'))
    _jpg(osp.join(frames_dir, 'frame_4.jpg'))
    with pytest.raises(ValueError, match=r'frame_4.jpg is not named <i>.jpg'):
        _build(tmp_path, chunks=('TEST', ))
    os.remove(osp.join(frames_dir, 'frame_4.jpg'))
    assert _build(tmp_path, chunks=('TEST', )).get_data_info(0)[
        'video_length'] == 4
    # more than frame 0's box
    anno = _write_seq(tmp_path, 'TEST', 'tseq', [[1, 1, 4, 4]] * 2)
    with pytest.raises(ValueError) as err:
        _build(tmp_path, chunks=('TEST', ))
    assert f"{anno} (sequence 'tseq') has 2 lines" in str(err.value)
    # no frame at all
    _write_seq(tmp_path, 'TEST', 'empty', [[1, 1, 4, 4]])
    _write_seq(tmp_path, 'TEST', 'tseq', [[1, 1, 4, 4]])
    with pytest.raises(FileNotFoundError,
                       match=r"sequence 'empty': no .jpg frame"):
        _build(tmp_path, chunks=('TEST', ))


def test_argument_errors(tmp_path):
    _train_tree(tmp_path)
    _write_seq(tmp_path, 'TEST', 'tseq', [[1, 1, 4, 4]], num_images=2)
    with pytest.raises(ValueError, match="mixes 'TEST'"):
        _build(tmp_path, chunks=('TRAIN_0', 'TEST'))
    with pytest.raises(ValueError, match='first_frame_only follows from'):
        _build(tmp_path, chunks=('TEST', ), first_frame_only=True)
    with pytest.raises(ValueError, match='duplicate'):
        _build(tmp_path, chunks=('TRAIN_0', 'TRAIN_0'))
    with pytest.raises(ValueError, match='chunks is empty'):
        _build(tmp_path, chunks=())
    # the same sequence name in two chunks
    anno = _write_seq(tmp_path, 'TRAIN_1', 'seq_a', BOXES['seq_a'])
    with pytest.raises(ValueError) as err:
        _build(tmp_path)
    assert f"{anno}: sequence 'seq_a' is also in chunk 'TRAIN_0'" in \
        str(err.value)


# ------------------------------------------------ dataset -> metric direct
def _run(ds, evaluator, pred_fn):
    for idx in TrackImgSampler(ds):
        track = ds[idx]['data_samples']
        for frame in track.video_data_samples:
            frame.pred_track_instances = InstanceData(
                bboxes=torch.tensor([pred_fn(frame)], dtype=torch.float32),
                scores=torch.ones(1))
            frame.set_metainfo(dict(frame_time=0.02))
        evaluator.process(data_samples=[track])
    return evaluator.evaluate(len(ds))


def test_perfect_predictions_reach_the_maximum(tmp_path):
    _train_tree(tmp_path, images=True)
    ds = _build(tmp_path, pipeline=_pack_pipeline())
    evaluator = Evaluator(dict(type='GOT10kMetric', protocol='ope'))
    res = _run(ds, evaluator, lambda frame: frame.bbox)
    # success curve = mean(IoU > thr) over linspace(0, 1, 21): IoU 1 is not
    # > 1, so its maximum mean is 20 / 21
    assert res['ope/success_auc'] == pytest.approx(20 / 21)
    assert res['ope/precision'] == 1.0
    assert res['ope/norm_precision_pytracking'] == 1.0
    assert res['ope/norm_precision_trackingnet'] == 1.0
    assert res['ope/SR50'] == 1.0
    # shifted right by 0.15 / 0.25 of the gt width: norm error 0.15 / 0.25
    # on frames 1..; frame 0 is the given box (error 0). pytracking reads
    # the curve at 0.2: every frame / only frame 0 of each sequence (2, 3,
    # 4 frames), averaged over sequences
    first = np.mean([1 / 2, 1 / 3, 1 / 4])
    for frac, exp in ((0.15, 1.0), (0.25, first)):
        evaluator = Evaluator(dict(type='GOT10kMetric', protocol='ope'))

        def shifted(frame, frac=frac):
            dx = frac * (frame.bbox[2] - frame.bbox[0])
            return np.asarray(frame.bbox) + [dx, 0, dx, 0]

        res = _run(ds, evaluator, shifted)
        assert res['ope/norm_precision_pytracking'] == pytest.approx(exp)


def test_test_chunk_submission_end_to_end(tmp_path):
    _write_seq(tmp_path, 'TEST', 'tseq_2', [[3, 4, 10, 8]], num_images=3)
    _write_seq(tmp_path, 'TEST', 'tseq_1', [[1.5, 2, 6, 5]], num_images=2)
    ds = _build(tmp_path, chunks=('TEST', ), pipeline=_pack_pipeline())
    out = osp.join(str(tmp_path), 'sub')
    evaluator = Evaluator(dict(
        type='GOT10kMetric', protocol='ope', format_only=True,
        result_format='trackingnet', outfile_prefix=out))
    res = _run(ds, evaluator, lambda frame: frame.bbox if frame.frame_id == 0
               else [1.0, 2.0, 5.0, 6.5])
    assert res == {}
    assert open(osp.join(out, 'tseq_2.txt')).read().split() == [
        '3.000,4.000,10.000,8.000', '1.000,2.000,4.000,4.500',
        '1.000,2.000,4.000,4.500'
    ]
    assert open(osp.join(out, 'tseq_1.txt')).read().split() == [
        '1.500,2.000,6.000,5.000', '1.000,2.000,4.000,4.500'
    ]
    with zipfile.ZipFile(out + '.zip') as zf:
        assert sorted(zf.namelist()) == ['tseq_1.txt', 'tseq_2.txt']


def test_base_config_builds_and_writes_the_submission(tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner
    root = str(tmp_path)
    _write_seq(tmp_path, 'TEST', 'tseq', [[3, 4, 10, 8]], num_images=3)
    _train_tree(tmp_path, images=True)
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(repo, 'configs', '_base_', 'datasets', 'trackingnet.py'))
    cfg.test_dataloader.dataset.data_root = root
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    out = osp.join(root, 'submission')
    cfg.test_evaluator.outfile_prefix = out
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(cfg.test_evaluator)
    for batch in loader:
        for track in batch['data_samples']:
            for frame in track.video_data_samples:
                frame.pred_track_instances = InstanceData(
                    bboxes=torch.tensor([frame.bbox if frame.frame_id == 0
                                         else [1.0, 2.0, 5.0, 6.0]]),
                    scores=torch.ones(1))
                frame.set_metainfo(dict(frame_time=0.01))
        evaluator.process(data_samples=batch['data_samples'])
    assert evaluator.evaluate(len(loader.dataset)) == {}
    with zipfile.ZipFile(out + '.zip') as zf:
        assert zf.read('tseq.txt').decode().split() == [
            '3.000,4.000,10.000,8.000', '1.000,2.000,4.000,4.000',
            '1.000,2.000,4.000,4.000'
        ]
    # the training dataset of the config, on the two fake train chunks
    train_cfg = cfg.sot_train_dataset
    train_cfg.data_root = root
    train_cfg.chunks = ('TRAIN_0', 'TRAIN_1')
    train = DATASETS.build(train_cfg)
    assert len(train) == 3
    item = train[0]
    assert item['frame_role'][:2] == ['template', 'search']
    assert item['img'][0].shape == (128, 128, 3)
