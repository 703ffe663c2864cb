"""GOT10kDataset on a fake tree in the published layout."""
import os
import os.path as osp

import numpy as np
import torch
import pytest
from mmengine.logging import MMLogger

import mmstpn  # noqa: F401
from mmdet.datasets.samplers import TrackImgSampler
from mmdet.registry import DATASETS

from .fake_got10k import full_seq, moving_boxes, write_sequence, write_split

MMLogger.get_instance('mmengine', log_level='WARNING')


def _build(root, split, test_mode=False, pipeline=(), **kw):
    return DATASETS.build(
        dict(
            type='GOT10kDataset',
            data_root=str(root),
            ann_file=f'{split}/list.txt',
            data_prefix=dict(img_path=split),
            test_mode=test_mode,
            pipeline=list(pipeline),
            **kw))


def _train_tree(root, **overrides):
    seqs = dict(
        GOT_A=full_seq(6, invisible=(2, )),
        GOT_B=full_seq(4, resolution=None, write_images=False))
    seqs.update(overrides)
    write_split(str(root), 'train', seqs)
    return seqs


def test_train_split_layout(tmp_path):
    seqs = _train_tree(tmp_path)
    ds = _build(tmp_path, 'train')
    assert len(ds) == 2
    a, b = ds.get_data_info(0), ds.get_data_info(1)
    assert (a['video_id'], a['video_name'], a['video_length']) == \
        (0, 'GOT_A', 6)
    # GOT_B has NO image file: the frame count comes from groundtruth.txt
    assert b['video_length'] == 4 and b['images'][3]['img_path'].endswith(
        osp.join('train', 'GOT_B', '00000004.jpg'))
    assert not any(f.endswith('.jpg') for f in os.listdir(
        osp.join(str(tmp_path), 'train', 'GOT_B')))
    for i, frame in enumerate(a['images']):
        x, y, w, h = seqs['GOT_A']['boxes'][i]
        assert frame['frame_id'] == i
        assert frame['img_path'] == osp.join(str(tmp_path), 'train', 'GOT_A',
                                             '%08d.jpg' % (i + 1))
        assert frame['bbox'] == pytest.approx([x, y, x + w, y + h])
        assert frame['visible'] == (i != 2)
        assert frame['absence'] == int(i == 2)
        assert frame['cover'] == seqs['GOT_A']['cover'][i]
        assert (frame['width'], frame['height']) == (64, 48)
        assert len(frame['instances']) == int(i != 2)
    assert a['images'][0]['instances'][0]['bbox_label'] == 0
    assert b['images'][0]['width'] is None  # no meta_info.ini
    # training: key frames are the visible ones
    assert a['key_frame_inds'] == [0, 1, 3, 4, 5]
    assert ds.get_len_per_video(0) == 5
    assert ds.metainfo['classes'] == ('object', )


def test_test_split_lists_the_folder(tmp_path):
    write_split(
        str(tmp_path), 'test',
        dict(GOT_T=dict(boxes=[[3, 4, 10, 8]], num_images=5)))
    ds = _build(tmp_path, 'test', test_mode=True, first_frame_only=True)
    info = ds.get_data_info(0)
    assert info['video_length'] == 5
    frames = info['images']
    assert frames[0]['bbox'] == pytest.approx([3, 4, 13, 12])
    assert frames[0]['visible'] is True
    assert all(f['bbox'] is None and f['visible'] is None
               for f in frames[1:])
    assert [osp.basename(f['img_path']) for f in frames] == \
        ['%08d.jpg' % i for i in range(1, 6)]
    # frame-level test item (mmdet's BaseVideoDataset layout)
    item = ds[(0, 3)]
    assert item['frame_id'] == [3] and item['ori_video_length'] == [5]
    assert item['video_name'] == ['GOT_T']
    with pytest.raises(ValueError, match='TrackImgSampler'):
        ds[0]
    # a test split read without first_frame_only names the fix
    with pytest.raises(FileNotFoundError, match='first_frame_only'):
        _build(tmp_path, 'test')


def test_track_img_sampler_covers_every_frame(tmp_path):
    _train_tree(tmp_path)
    ds = _build(tmp_path, 'train', test_mode=True)
    sampler = TrackImgSampler(ds)
    assert list(sampler) == [(0, i) for i in range(6)] + \
        [(1, i) for i in range(4)]


def test_training_filter_drops_invisible_sequences(tmp_path):
    _train_tree(tmp_path, GOT_C=full_seq(3, invisible=(0, 1, 2)))
    ds = _build(tmp_path, 'train')
    assert [ds.get_data_info(i)['video_name']
            for i in range(len(ds))] == ['GOT_A', 'GOT_B']
    ds = _build(tmp_path, 'train', filter_cfg=dict(min_visible=5))
    assert [ds.get_data_info(i)['video_name']
            for i in range(len(ds))] == ['GOT_A']
    # test mode keeps everything
    assert len(_build(tmp_path, 'train', test_mode=True)) == 3


def test_invisible_frame_may_have_an_empty_box(tmp_path):
    seq = full_seq(4, invisible=(1, ))
    seq['boxes'][1] = [0, 0, 0, 0]
    _train_tree(tmp_path, GOT_A=seq)
    frame = _build(tmp_path, 'train').get_data_info(0)['images'][1]
    assert frame['bbox'] == [0, 0, 0, 0] and frame['instances'] == []


# ----------------------------------------------------------------- errors
def _gt_path(root, name):
    return osp.join(str(root), 'train', name, 'groundtruth.txt')


def test_missing_list_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='list.txt'):
        _build(tmp_path, 'train')


def test_listed_sequence_without_folder(tmp_path):
    write_split(
        str(tmp_path), 'train', dict(GOT_A=full_seq(3)),
        extra_names=['GOT_MISSING'])
    with pytest.raises(FileNotFoundError,
                       match=r"line 2: sequence 'GOT_MISSING' has no folder"):
        _build(tmp_path, 'train')


def test_duplicate_list_entry(tmp_path):
    write_split(
        str(tmp_path), 'train', dict(GOT_A=full_seq(3)),
        extra_names=['GOT_A'])
    with pytest.raises(ValueError, match=r"line 2: sequence 'GOT_A' is "
                       r'listed twice \(first on line 1\)'):
        _build(tmp_path, 'train')


def test_missing_groundtruth(tmp_path):
    _train_tree(tmp_path)
    os.remove(_gt_path(tmp_path, 'GOT_B'))
    with pytest.raises(FileNotFoundError,
                       match=r"sequence 'GOT_B': .*groundtruth.txt"):
        _build(tmp_path, 'train')


@pytest.mark.parametrize('line,match', [
    ('1,2,3', 'expected 4 comma-separated values x,y,w,h, got 3'),
    ('1,2,3,4,5', 'got 5'),
    ('1 2 3 4', 'got 1'),
    ('1,2,a,4', 'not a number'),
])
def test_bad_groundtruth_line(tmp_path, line, match):
    _train_tree(tmp_path)
    path = _gt_path(tmp_path, 'GOT_A')
    lines = open(path).read().splitlines()
    lines[3] = line
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with pytest.raises(ValueError) as err:
        _build(tmp_path, 'train')
    msg = str(err.value)
    assert f'{path} line 4' in msg and "sequence 'GOT_A'" in msg
    assert match in msg


@pytest.mark.parametrize('box', [[1, 2, 0, 5], [1, 2, 5, -1]])
def test_non_positive_box_on_visible_frame(tmp_path, box):
    seq = full_seq(5)
    seq['boxes'][3] = box
    _train_tree(tmp_path, GOT_A=seq)
    with pytest.raises(ValueError,
                       match=r"groundtruth.txt line 4 \(sequence 'GOT_A'\).*"
                       'non-positive width or height on a visible frame'):
        _build(tmp_path, 'train')


def test_label_file_errors(tmp_path):
    seq = full_seq(5)
    seq['cover'] = seq['cover'][:4]
    _train_tree(tmp_path, GOT_A=seq)
    with pytest.raises(ValueError, match=r"cover.label \(sequence 'GOT_A'\) "
                       'has 4 lines but groundtruth.txt has 5'):
        _build(tmp_path, 'train')
    seq = full_seq(5)
    seq['absence'][2] = 3
    _train_tree(tmp_path, GOT_A=seq)
    with pytest.raises(ValueError, match=r"absence.label line 3 \(sequence "
                       r"'GOT_A'\): expected an integer in \[0, 1\]"):
        _build(tmp_path, 'train')
    _train_tree(tmp_path, GOT_A=full_seq(5))
    os.remove(osp.join(str(tmp_path), 'train', 'GOT_A', 'absence.label'))
    with pytest.raises(FileNotFoundError,
                       match=r"sequence 'GOT_A': .*absence.label"):
        _build(tmp_path, 'train')


def test_bad_resolution(tmp_path):
    _train_tree(tmp_path)
    path = osp.join(str(tmp_path), 'train', 'GOT_A', 'meta_info.ini')
    with open(path, 'w') as f:
        f.write('[METAINFO]\nresolution: 64x48\n')
    with pytest.raises(
            ValueError,
            match=r"meta_info.ini \(sequence 'GOT_A'\): resolution"):
        _build(tmp_path, 'train')


def test_test_split_with_several_lines(tmp_path):
    write_split(
        str(tmp_path), 'test',
        dict(GOT_T=dict(boxes=moving_boxes(3), num_images=3)))
    with pytest.raises(ValueError, match="sequence 'GOT_T'.* has 3 lines"):
        _build(tmp_path, 'test', test_mode=True, first_frame_only=True)


def test_test_split_without_images(tmp_path):
    write_sequence(
        osp.join(str(tmp_path), 'test', 'GOT_T'), [[1, 1, 4, 4]],
        write_images=False)
    with open(osp.join(str(tmp_path), 'test', 'list.txt'), 'w') as f:
        f.write('GOT_T\n')
    with pytest.raises(FileNotFoundError, match="sequence 'GOT_T': no .jpg"):
        _build(tmp_path, 'test', test_mode=True, first_frame_only=True)


# --------------------------------------------------- training pipeline
def test_training_pipeline_end_to_end(tmp_path):
    """Dataset -> SOTPairSample -> load images -> SOTCropRegion."""
    _train_tree(tmp_path)
    pipeline = [
        dict(type='SOTPairSample', frame_range=3, num_support=2),
        dict(
            type='TransformBroadcaster',
            share_random_params=True,
            transforms=[dict(type='LoadImageFromFile')]),
        dict(type='SOTCropRegion', search_jitter=(0.1, 0.5)),
    ]
    ds = DATASETS.build(
        dict(
            type='GOT10kDataset',
            data_root=str(tmp_path),
            ann_file='train/list.txt',
            data_prefix=dict(img_path='train'),
            pipeline=pipeline))
    np.random.seed(0)
    out = ds[(0, 0)]  # template = first visible frame of GOT_A
    assert out['frame_role'] == ['template', 'search', 'support', 'support']
    assert out['frame_id'][0] == 0 and out['frame_id'][1] in (1, 3)
    assert [im.shape for im in out['img']] == [(128, 128, 3)] + \
        [(256, 256, 3)] * 3
    for fid, box in zip(out['frame_id'], out['gt_bboxes']):
        assert fid != 2  # the invisible frame is never sampled
        assert box.shape == (1, 4) and (box[0, 2:] > box[0, :2]).all()
    # template: no jitter -> the box is centered in the crop (half a pixel)
    tb = out['gt_bboxes'][0][0]
    np.testing.assert_allclose((tb[:2] + tb[2:]) / 2, 64,
                               atol=0.5 * out['crop_scale'][0] + 1e-4)


def test_val_dataset_to_metric_end_to_end(tmp_path):
    """GOT10kDataset (test mode) -> mmdet's PackTrackInputs -> a fake
    tracker -> GOT10kMetric; compared with got10k_metrics on the arrays
    written to the fake tree."""
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData

    from mmstpn.evaluation.functional import got10k_metrics
    seqs = dict(
        GOT_V1=full_seq(6, invisible=(3, )),
        GOT_V2=full_seq(4, resolution=(40, 30)))
    seqs['GOT_V2']['boxes'][2] = [30, 20, 15, 15]  # over the image edge
    write_split(str(tmp_path), 'val', seqs)
    ds = _build(
        tmp_path,
        'val',
        test_mode=True,
        pipeline=[
            dict(
                type='TransformBroadcaster',
                transforms=[dict(type='LoadImageFromFile')]),
            dict(
                type='PackTrackInputs',
                meta_keys=('video_name', 'bbox', 'cover', 'width', 'height'))
        ])
    evaluator = Evaluator(dict(type='GOT10kMetric'))
    shift = np.array([1.5, -1.0, 1.5, -1.0])
    for idx in TrackImgSampler(ds):
        track = ds[idx]['data_samples']
        frame = track.video_data_samples[0]
        assert frame.ori_shape == (frame.height, frame.width)
        pred = np.asarray(frame.bbox) + shift * (frame.frame_id > 0)
        frame.pred_track_instances = InstanceData(
            bboxes=torch.tensor([pred], dtype=torch.float32),
            scores=torch.ones(1))
        frame.set_metainfo(dict(frame_time=0.02))
        evaluator.process(data_samples=[track])
    res = evaluator.evaluate(len(ds))
    gts = [np.array(s['boxes'], float) for s in seqs.values()]
    preds = [g + [1.5, -1.0, 0, 0] for g in gts]  # xywh: w, h unchanged
    exp = got10k_metrics(
        preds, gts, [s['cover'] for s in seqs.values()],
        [(64, 48), (40, 30)])
    for k in ('AO', 'SR50', 'SR75'):
        assert res[f'got10k/{k}'] == pytest.approx(exp[k], abs=1e-5)
    assert res['got10k/speed_fps'] == pytest.approx(50.0)


# ------------------------------------------------------------------ LaSOT
def _write_lasot(root, names, num=5, occluded=(), out_of_view=()):
    for name in names:
        seq_dir = osp.join(str(root), name.rsplit('-', 1)[0], name)
        write_sequence(seq_dir, moving_boxes(num), resolution=None,
                       write_images=False)
        for fname, bad in (('full_occlusion', occluded),
                           ('out_of_view', out_of_view)):
            with open(osp.join(seq_dir, f'{fname}.txt'), 'w') as f:
                f.write(','.join(str(int(i in bad)) for i in range(num)))
    with open(osp.join(str(root), 'testing_set.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')


def test_lasot_layout(tmp_path):
    _write_lasot(tmp_path, ['cat-1', 'cat-20', 'bus-3'], occluded=(1, ),
                 out_of_view=(3, ))
    ds = DATASETS.build(
        dict(type='LaSOTDataset', data_root=str(tmp_path),
             ann_file='testing_set.txt', test_mode=True, pipeline=[]))
    assert [ds.get_data_info(i)['video_name'] for i in range(3)] == \
        ['cat-1', 'cat-20', 'bus-3']
    frames = ds.get_data_info(1)['images']
    assert frames[2]['img_path'] == osp.join(str(tmp_path), 'cat', 'cat-20',
                                             'img', '00000003.jpg')
    assert [f['visible'] for f in frames] == [True, False, True, False, True]
    assert [f['cover'] for f in frames] == [1, 0, 1, 0, 1]
    assert frames[0]['bbox'] == pytest.approx([5, 6, 17, 16])


def test_lasot_errors(tmp_path):
    _write_lasot(tmp_path, ['cat-1'])
    path = osp.join(str(tmp_path), 'cat', 'cat-1', 'out_of_view.txt')
    with open(path, 'w') as f:
        f.write('0,0,1')
    cfg = dict(type='LaSOTDataset', data_root=str(tmp_path),
               ann_file='testing_set.txt', test_mode=True, pipeline=[])
    with pytest.raises(ValueError, match=r"out_of_view.txt \(sequence "
                       r"'cat-1'\) has 3 values but groundtruth.txt has 5"):
        DATASETS.build(cfg)
    with open(path, 'w') as f:
        f.write('0,0,2,0,0')
    with pytest.raises(ValueError, match="value 3 is '2'"):
        DATASETS.build(cfg)
    with open(path, 'w') as f:
        f.write('0,0,0,0,0')
    assert len(DATASETS.build(cfg)) == 1
    with open(osp.join(str(tmp_path), 'testing_set.txt'), 'a') as f:
        f.write('dog-2\n')
    with pytest.raises(FileNotFoundError,
                       match=r"line 2: sequence 'dog-2' has no folder"):
        DATASETS.build(cfg)
    with pytest.raises(ValueError, match='first_frame_only'):
        DATASETS.build(dict(cfg, first_frame_only=True))


def test_base_config_builds_and_runs(tmp_path):
    """configs/_base_/datasets/got10k.py on the fake tree: the val loader
    through Runner.build_dataloader + GOT10kMetric, the test loader, and
    one training item of the SOT pipeline."""
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner
    from mmengine.structures import InstanceData
    root = str(tmp_path)
    write_split(root, 'train', dict(GOT_A=full_seq(6)))
    write_split(root, 'val', dict(GOT_V=full_seq(4)))
    write_split(root, 'test',
                dict(GOT_T=dict(boxes=[[3, 4, 10, 8]], num_images=3)))
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(repo, 'configs', '_base_', 'datasets', 'got10k.py'))
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.sot_train_dataset.data_root = root
    out = osp.join(root, 'submission')
    cfg.test_evaluator.outfile_prefix = out

    for split, evaluator_cfg in (('val', cfg.val_evaluator),
                                 ('test', cfg.test_evaluator)):
        loader = Runner.build_dataloader(cfg[f'{split}_dataloader'])
        evaluator = Evaluator(evaluator_cfg)
        for batch in loader:
            for track in batch['data_samples']:
                for frame in track.video_data_samples:
                    box = frame.bbox if frame.frame_id == 0 or \
                        split == 'val' else [1.0, 2.0, 5.0, 6.0]
                    frame.pred_track_instances = InstanceData(
                        bboxes=torch.tensor([box]), scores=torch.ones(1))
                    frame.set_metainfo(dict(frame_time=0.01))
            evaluator.process(data_samples=batch['data_samples'])
        res = evaluator.evaluate(len(loader.dataset))
        if split == 'val':
            assert res['got10k/AO'] == pytest.approx(1.0)
        else:
            assert res == {}
    lines = open(osp.join(out, 'GOT_T', 'GOT_T_001.txt')).read().split()
    assert lines == ['3.000,4.000,10.000,8.000',
                     '1.000,2.000,4.000,4.000', '1.000,2.000,4.000,4.000']

    train = DATASETS.build(cfg.sot_train_dataset)
    for _ in range(5):
        item = train[0]
        k = 2 if item['frame_id'][1] > 0 else 0  # supports precede search
        assert item['frame_role'] == ['template', 'search'] + ['support'] * k
        assert [im.shape[0] for im in item['img']] == [128] + [256] * (1 + k)
