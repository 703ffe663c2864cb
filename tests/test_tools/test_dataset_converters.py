"""ILSVRC VID / DET -> CocoVID converters on a tiny fake ILSVRC tree."""
import json
import os
import os.path as osp
import sys

import pytest

from mmstpn.datasets import ImagenetVIDDataset

CONVERTERS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'dataset_converters')
sys.path.insert(0, CONVERTERS)

import ilsvrc_det_to_cocovid as det_conv  # noqa: E402
import ilsvrc_vid_to_cocovid as vid_conv  # noqa: E402

AIRPLANE, ZEBRA, OTHER = 'n02691156', 'n02391049', 'n01443537'


def xml(objects, width=64, height=48, track=True):
    body = ''
    for i, (wnid, box) in enumerate(objects):
        extra = (f'<trackid>{i}</trackid><occluded>{i % 2}</occluded>'
                 '<generated>0</generated>') if track else ''
        body += (f'<object>{extra}<name>{wnid}</name><bndbox>'
                 f'<xmax>{box[2]}</xmax><xmin>{box[0]}</xmin>'
                 f'<ymax>{box[3]}</ymax><ymin>{box[1]}</ymin></bndbox>'
                 '</object>')
    return (f'<annotation><folder>x</folder><size><width>{width}</width>'
            f'<height>{height}</height></size>{body}</annotation>')


def write(path, text):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def fake_vid(root):
    train = 'ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000'
    for fid in range(4):
        objs = [(AIRPLANE, (1, 2, 11, 22)), (OTHER, (0, 0, 5, 5))]
        if fid >= 2:
            objs.append((ZEBRA, (3, 3, 30, 40)))
        write(osp.join(root, 'Annotations/VID/train', train,
                       f'{fid:06d}.xml'), xml(objs))
    write(osp.join(root, 'ImageSets/VID/train_1.txt'), f'{train} 1\n')
    write(osp.join(root, 'ImageSets/VID/train_30.txt'), f'{train} 1\n')
    write(osp.join(root, 'Lists/VID_train_15frames.txt'),
          f'train/{train} 1 1 4\ntrain/{train} 2 3 4\n')
    val = 'ILSVRC2015_val_00000000'
    for fid in range(3):
        write(osp.join(root, 'Annotations/VID/val', val, f'{fid:06d}.xml'),
              xml([(ZEBRA, (2, 2, 12, 12))]))
    write(osp.join(root, 'ImageSets/VID/val.txt'),
          ''.join(f'{val}/{i:06d} {i + 1}\n' for i in range(3)))
    return train, val


def test_vid_train(tmp_path):
    root = str(tmp_path)
    train, _ = fake_vid(root)
    out = vid_conv.convert_vid(
        root, 'train',
        train_frame_list=osp.join(root, 'Lists/VID_train_15frames.txt'))
    assert len(out['categories']) == 30
    assert out['categories'][0] == dict(
        id=1, name='airplane', encode_name=AIRPLANE)
    assert out['videos'] == [
        dict(id=1, name=f'train/{train}', vid_train_frames=[1, 3])
    ]
    assert [i['frame_id'] for i in out['images']] == [0, 1, 2, 3]
    assert [i['is_vid_train_frame'] for i in out['images']] == \
        [False, True, False, True]
    img = out['images'][2]
    assert img['file_name'] == f'train/{train}/000002.JPEG'
    assert (img['width'], img['height'], img['video_id']) == (64, 48, 1)
    anns = out['annotations']
    assert len(anns) == 6  # non-VID classes dropped
    plane, zebra = anns[4], anns[5]
    assert plane['category_id'] == 1 and zebra['category_id'] == 30
    assert plane['bbox'] == [1, 2, 10, 20] and plane['area'] == 200
    assert plane['instance_id'] == 1 and zebra['instance_id'] == 2
    assert zebra['occluded'] is False and plane['generated'] is False
    assert {a['instance_id'] for a in anns} == {1, 2}
    one_based = vid_conv.convert_vid(
        root, 'train',
        osp.join(root, 'Lists/VID_train_15frames.txt'),
        list_one_based=True)
    assert one_based['videos'][0]['vid_train_frames'] == [0, 2]


def test_vid_val_cli_and_dataset(tmp_path):
    root = str(tmp_path)
    fake_vid(root)
    out_dir = osp.join(root, 'annotations')
    vid_conv.main(['-i', root, '-o', out_dir, '--splits', 'val', 'train'])
    with open(osp.join(out_dir, 'imagenet_vid_val.json')) as f:
        val = json.load(f)
    assert val['videos'][0]['name'] == 'val/ILSVRC2015_val_00000000'
    assert 'is_vid_train_frame' not in val['images'][0]
    ds = ImagenetVIDDataset(
        ann_file=osp.join(out_dir, 'imagenet_vid_val.json'), test_mode=True)
    assert len(ds) == 1 and ds.get_len_per_video(0) == 3
    assert ds.get_data_info(0)['images'][0]['instances'][0]['bbox_label'] \
        == 29


def test_vid_without_image_sets(tmp_path):
    root = str(tmp_path)
    fake_vid(root)
    for f in os.listdir(osp.join(root, 'ImageSets/VID')):
        os.remove(osp.join(root, 'ImageSets/VID', f))
    assert len(vid_conv.convert_vid(root, 'train')['images']) == 4
    assert len(vid_conv.convert_vid(root, 'val')['images']) == 3


def test_malformed_xml_names_file(tmp_path):
    root = str(tmp_path)
    train, _ = fake_vid(root)
    bad = osp.join(root, 'Annotations/VID/train', train, '000001.xml')
    write(bad, '<annotation><size><width>3</width>')
    with pytest.raises(ValueError, match='malformed annotation file') as err:
        vid_conv.convert_vid(root, 'train')
    assert bad in str(err.value)
    write(bad, xml([(AIRPLANE, (1, 1, 'x', 3))]))
    with pytest.raises(ValueError, match='000001.xml'):
        vid_conv.convert_vid(root, 'train')


def fake_det(root):
    names = {
        'ILSVRC2013_train/n02691156/n02691156_1':
        [(AIRPLANE, (0, 0, 20, 10)), (OTHER, (1, 1, 4, 4))],
        'ILSVRC2014_train_0000/ILSVRC2014_train_00000001':
        [(OTHER, (1, 1, 4, 4))],
        'ILSVRC2014_train_0000/ILSVRC2014_train_00000002':
        [(ZEBRA, (5, 5, 15, 25))],
    }
    for name, objs in names.items():
        write(osp.join(root, 'Annotations/DET/train', f'{name}.xml'),
              xml(objs, track=False))
    keys = list(names)
    write(osp.join(root, 'ImageSets/DET/train_1.txt'),
          f'{keys[0]} 1\n{keys[1]} 1\n{keys[2]} -1\n')
    write(osp.join(root, 'ImageSets/DET/train_2.txt'),
          f'{keys[2]} 1\n{keys[0]} 1\n')
    return keys


def test_det(tmp_path):
    root = str(tmp_path)
    keys = fake_det(root)
    out = det_conv.convert_det(root)
    assert [i['file_name'] for i in out['images']] == [
        f'train/{keys[0]}.JPEG', f'train/{keys[2]}.JPEG'
    ]  # listed once; the image without VID classes is left out
    assert all('video_id' not in i for i in out['images'])
    assert [(a['image_id'], a['category_id'], a['bbox'])
            for a in out['annotations']] == [(1, 1, [0, 0, 20, 10]),
                                             (2, 30, [5, 5, 10, 20])]
    assert len(det_conv.convert_det(root, keep_empty=True)['images']) == 3
    img_list = osp.join(root, 'Lists/DET_train_30classes.txt')
    write(img_list, f'train/{keys[2]} 1\n')
    assert len(det_conv.convert_det(root, img_list)['images']) == 1

    out_file = osp.join(root, 'annotations', 'det.json')
    det_conv.main(['-i', root, '-o', out_file])
    ds = ImagenetVIDDataset(ann_file=out_file, filter_cfg=dict(min_size=0))
    assert len(ds) == 2 and ds.get_data_info(1)['video_length'] == 1


def test_det_errors(tmp_path):
    root = str(tmp_path)
    with pytest.raises(FileNotFoundError, match='ImageSets/DET'):
        det_conv.convert_det(root)
    keys = fake_det(root)
    os.remove(osp.join(root, 'Annotations/DET/train', f'{keys[1]}.xml'))
    with pytest.raises(FileNotFoundError, match=keys[1]):
        det_conv.convert_det(root)
