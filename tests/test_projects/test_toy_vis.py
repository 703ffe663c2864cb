"""Toy VIS generator and the experiment's per-frame mask AP (seconds)."""
import json
import os
import os.path as osp

import mmcv
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.structures import InstanceData

from mmstpn.projects.toy_vis import experiment as exp
from mmstpn.projects.toy_vis import generator as toy_vis_generator
from tests.test_tools.tool_helpers import REPO


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('toy_vis'))
    return toy_vis_generator.generate_toy_vis(
        out, num_train_videos=2, num_val_videos=2, frames_per_video=6,
        img_size=(64, 64), seed=0)


def test_masks_ids_and_flags(toy):
    with open(toy['val_ann']) as f:
        data = json.load(f)
    with open(toy['val_ytvis']) as f:
        ytvis = json.load(f)
    images = {i['id']: i for i in data['images']}
    assert any(i['deteriorated'] for i in images.values())
    assert not all(i['deteriorated'] for i in images.values())
    for ann in data['annotations']:
        m = mask_util.decode(ann['segmentation'])
        assert m.shape == (64, 64) and ann['area'] == m.sum() > 0
        # the mask fills its box (a superellipse, n >= 2: > pi/4 of it)
        x, y, w, h = mask_util.toBbox(ann['segmentation'])
        bx, by, bw, bh = ann['bbox']
        assert abs(x - bx) <= 1.5 and abs(y - by) <= 1.5
        assert abs(w - bw) <= 2 and abs(h - bh) <= 2
        assert m.sum() >= 0.7 * bw * bh
        # the object is on the (clean) frame where its mask is
        if not images[ann['image_id']]['deteriorated']:
            img = mmcv.imread(osp.join(toy['img_prefix'],
                                       images[ann['image_id']]['file_name']))
            assert img.shape[:2] == (64, 64)
    # the official layout holds the same masks, track by track
    by_track = {t['id']: t for t in ytvis['annotations']}
    for ann in data['annotations']:
        t = images[ann['image_id']]['frame_id']
        assert by_track[ann['instance_id']]['segmentations'][t] == \
            ann['segmentation']
    assert {len(v['file_names']) for v in ytvis['videos']} == {6}


def _frame(img_id, ann, masks, scores, labels):
    s = DetDataSample(metainfo=dict(img_id=img_id, ori_shape=(64, 64),
                                    instances=[dict(
                                        mask=ann['segmentation'],
                                        bbox_label=ann['category_id'] - 1,
                                        ignore_flag=0)]))
    s.pred_track_instances = InstanceData(
        masks=torch.as_tensor(masks, dtype=torch.bool),
        scores=torch.tensor(scores), labels=torch.tensor(labels))
    return s


def test_frame_mask_ap(toy):
    with open(toy['val_ann']) as f:
        data = json.load(f)
    metric = exp.ToyFrameMaskAP(toy['val_ann'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c', 'd'))
    det = {i['id'] for i in data['images'] if i['deteriorated']}
    frames = []
    for ann in data['annotations'][:8]:
        m = mask_util.decode(ann['segmentation'])[None]
        # deteriorated frames: the wrong class; clean ones: exact
        label = ann['category_id'] % 4 if ann['image_id'] in det else \
            ann['category_id'] - 1
        frames.append(_frame(ann['image_id'], ann, m, [0.9], [label]))
    track = TrackDataSample()
    track.video_data_samples = frames
    metric.process({}, [track.to_dict()])  # as mmengine's Evaluator
    out = metric.compute_metrics(metric.results)
    assert out['mask_AP_deteriorated'] == 0.0
    clean = [f for f in frames if f.img_id not in det]
    assert clean and 0 < out['mask_AP_all'] < 1
    metric.results.clear()
    track.video_data_samples = clean
    metric.process({}, [track.to_dict()])  # as mmengine's Evaluator
    assert metric.compute_metrics(metric.results)['mask_AP_all'] == \
        pytest.approx(1.0)
    assert np.isfinite(list(out.values())).all()


def test_toy_vis_experiment_smoke(tmp_path):
    """The whole toy VIS job, every stage 2 iterations in its own process
    (plumbing only: the AP of such models is meaningless)."""
    import subprocess
    import sys
    out, data = tmp_path / 'out', tmp_path / 'data'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'misc',
                                  'toy_vis_experiment.py'),
         '--out-dir', str(out), '--data-dir', str(data),
         '--num-train-videos', '2', '--num-val-videos', '2',
         '--frames-per-video', '6', '--img-size', '64',
         '--cls-pretrain-iters', '2', '--pretrain-iters', '2', '--iters', '2',
         '--pretrain-backbone-lr-mult', '0.5', '--cfg-options',
         'train_dataloader.batch_size=1'],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '| stpn - baseline |' in proc.stdout
    with open(out / 'results.json') as f:
        results = json.load(f)
    for row in ('baseline', 'stpn', 'stpn_online_k4'):
        assert 'mask_AP_deteriorated' in results[row]
    # where it ran: this machine, and each worker on one thread
    env = results['environment']
    assert env['versions']['torch'] == torch.__version__
    assert env['cpu']['count'] == os.cpu_count()
    assert sorted(env['workers']) == ['baseline', 'stpn']
    assert {w['threads']['torch'] for w in env['workers'].values()} == {1}
    with open(data / 'toy_vis_info.json') as f:  # the set's recipe
        assert json.load(f)['num_val_videos'] == 2
    # the warm start's recipe reached the worker (its backbone lr)
    with open(out / 'pretrain' / 'recipe.json') as f:
        assert json.load(f)['backbone_lr_mult'] == 0.5
    assert 'backbone lr x0.5' in (out / 'pretrain.log').read_text()
    assert (out / 'stpn' / 'iter_2.pth').exists()
