"""Bad GOT-10k / LaSOT / TrackingNet folders."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest

from mmdet.registry import DATASETS
from ..test_datasets.fake_got10k import full_seq, write_split


def _got10k(tmp_path, seqs, test_mode=True, **kw):
    root = str(tmp_path / 'GOT10k')
    list_file = write_split(root, 'val', seqs)
    return list_file, lambda: DATASETS.build(
        dict(type='GOT10kDataset', ann_file=list_file,
             data_prefix=dict(img_path=osp.join(root, 'val')),
             test_mode=test_mode, pipeline=[], **kw))


def _set_line(path, n, text):
    with open(path) as f:
        lines = f.read().splitlines()
    lines[n] = text
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


@pytest.mark.parametrize('value', ['nan', 'inf', '-inf', 'NaN'])
def test_got10k_non_finite_box(tmp_path, value):
    list_file, build = _got10k(tmp_path, {'a': full_seq(4)})
    gt = osp.join(osp.dirname(list_file), 'a', 'groundtruth.txt')
    _set_line(gt, 2, f'1,2,{value},4')
    with pytest.raises(ValueError, match='non-finite box') as err:
        build()
    assert f'{gt} line 3 (sequence \'a\', frame 2)' in str(err.value)


@pytest.mark.parametrize('label, value', [('absence', 'nan'),
                                          ('absence', 'inf'),
                                          ('cover', 'nan'),
                                          ('cut_by_image', '-inf')])
def test_got10k_non_finite_label(tmp_path, label, value):
    """Was an int() / OverflowError without the file."""
    list_file, build = _got10k(tmp_path, {'a': full_seq(4)})
    path = osp.join(osp.dirname(list_file), 'a', f'{label}.label')
    _set_line(path, 1, value)
    with pytest.raises(ValueError, match='expected an integer in') as err:
        build()
    assert f'{path} line 2 (sequence \'a\')' in str(err.value)


def test_got10k_test_split_frames_ordered_by_number(tmp_path):
    """Unpadded frame names 1.jpg .. 11.jpg: numeric, not text order."""
    list_file, build = _got10k(
        tmp_path, {'a': dict(boxes=[[1, 1, 5, 5]], write_images=False)},
        first_frame_only=True)
    seq = osp.join(osp.dirname(list_file), 'a')
    for i in range(1, 12):
        mmcv.imwrite(np.zeros((4, 4, 3), np.uint8), osp.join(seq, f'{i}.jpg'))
    frames = build().get_data_info(0)['images']
    assert [osp.basename(f['img_path']) for f in frames] == [
        f'{i}.jpg' for i in range(1, 12)
    ]


@pytest.mark.parametrize('names, match', [
    (['1.jpg', '2.jpg', '4.jpg'], 'frame 3 is missing'),
    (['1.jpg', '01.jpg', '2.jpg'], 'frame 1 appears twice'),
    (['1.jpg', 'x.jpg'], 'x.jpg is not named <i>.jpg'),
    ([], 'no .jpg frame in'),
])
def test_got10k_test_split_bad_frame_names(tmp_path, names, match):
    list_file, build = _got10k(
        tmp_path, {'a': dict(boxes=[[1, 1, 5, 5]], write_images=False)},
        first_frame_only=True)
    seq = osp.join(osp.dirname(list_file), 'a')
    for name in names:
        open(osp.join(seq, name), 'w').close()
    with pytest.raises((ValueError, FileNotFoundError), match=match) as err:
        build()
    assert "sequence 'a'" in str(err.value)


def test_got10k_every_sequence_absent_in_training(tmp_path):
    """Was mmengine's 'need at least one array to concatenate'."""
    list_file, build = _got10k(
        tmp_path, {'a': full_seq(3, invisible=(0, 1, 2))}, test_mode=False)
    with pytest.raises(ValueError, match='no sequence left for training') \
            as err:
        build()
    assert list_file in str(err.value)


def _lasot(tmp_path, boxes='1,1,5,5\n2,2,5,5\n', occl='0,0', oov='0,0'):
    root = tmp_path / 'LaSOT'
    seq = root / 'cat' / 'cat-1'
    os.makedirs(seq / 'img')
    (seq / 'groundtruth.txt').write_text(boxes)
    (seq / 'full_occlusion.txt').write_text(occl + '\n')
    (seq / 'out_of_view.txt').write_text(oov + '\n')
    (root / 'list.txt').write_text('cat-1\n')
    return str(seq), lambda: DATASETS.build(
        dict(type='LaSOTDataset', ann_file=str(root / 'list.txt'),
             test_mode=True, pipeline=[]))


def test_lasot_loads(tmp_path):
    _, build = _lasot(tmp_path)
    assert build().get_data_info(0)['video_length'] == 2


def test_lasot_non_finite_box(tmp_path):
    seq, build = _lasot(tmp_path, boxes='1,1,5,5\n2,nan,5,5\n')
    with pytest.raises(ValueError, match='non-finite box') as err:
        build()
    assert osp.join(seq, 'groundtruth.txt') + ' line 2' in str(err.value)


@pytest.mark.parametrize('occl', ['0,nan', '0,2', '0'])
def test_lasot_bad_flags(tmp_path, occl):
    seq, build = _lasot(tmp_path, occl=occl)
    with pytest.raises(ValueError, match='full_occlusion.txt') as err:
        build()
    assert "sequence 'cat-1'" in str(err.value)


def _trackingnet(tmp_path, lines):
    anno = tmp_path / 'TRAIN_0' / 'anno'
    os.makedirs(anno)
    os.makedirs(tmp_path / 'TRAIN_0' / 'frames' / 's')
    (anno / 's.txt').write_text(lines)
    return str(anno / 's.txt'), lambda: DATASETS.build(
        dict(type='TrackingNetDataset', data_root=str(tmp_path),
             test_mode=True, pipeline=[]))


@pytest.mark.parametrize('line', ['1,2,inf,4', 'nan,nan,nan,nan'])
def test_trackingnet_non_finite_box(tmp_path, line):
    path, build = _trackingnet(tmp_path, f'1,2,3,4\n{line}\n')
    with pytest.raises(ValueError, match='non-finite box') as err:
        build()
    assert f"{path} line 2 (sequence 's', frame 1)" in str(err.value)


def test_trackingnet_non_positive_box(tmp_path):
    path, build = _trackingnet(tmp_path, '1,2,3,4\n1,2,0,4\n')
    with pytest.raises(ValueError, match='non-positive width') as err:
        build()
    assert f'{path} line 2' in str(err.value)
