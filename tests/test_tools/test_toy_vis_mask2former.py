"""The toy VIS experiment's Mask2FormerVideo and MinVIS pairs (--model),
every stage 2 iterations in its own process (plumbing only: the AP of such
models is meaningless)."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from tests.test_tools.tool_helpers import REPO


@pytest.mark.parametrize('model', ['m2f', 'minvis'])
def test_toy_vis_experiment_smoke(tmp_path, model):
    out, data = tmp_path / 'out', tmp_path / 'data'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'misc',
                                  'toy_vis_experiment.py'),
         '--model', model, '--out-dir', str(out), '--data-dir', str(data),
         '--num-train-videos', '2', '--num-val-videos', '3',
         '--frames-per-video', '6', '--img-size', '64',
         '--cls-pretrain-iters', '2', '--pretrain-iters', '2', '--iters', '2',
         '--cfg-options', 'train_dataloader.batch_size=1'],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '| stpn - baseline |' in proc.stdout
    assert '| video AP, 1 obj | video AP, 2+ obj |' in proc.stdout
    with open(out / 'results.json') as f:
        results = json.load(f)
    with open(data / 'val.json') as f:
        val = json.load(f)
    counts = {}
    for ann in val['annotations']:
        counts.setdefault(ann['video_id'], set()).add(ann['instance_id'])
    groups = {'1obj' if len(v) == 1 else '2+obj' for v in counts.values()}
    for row in ('baseline', 'stpn', 'stpn_online_k4'):
        r = results[row]
        for key in ('segm_mAP', 'mask_AP_all', 'mask_AP_deteriorated',
                    'mask_AP_clean'):
            assert key in r
        # per number of objects: exactly the groups the val set holds
        assert {k.rsplit('_', 1)[1] for k in r
                if k.startswith('segm_mAP') and k.endswith('obj')} == groups
        assert all(f'segm_mAP_{g}' in r for g in groups)
        for g in groups:
            assert f'mask_AP_all_{g}' in r
    # the right models ran, from the shared warm start
    log = (out / 'stpn.log').read_text()
    cls = {'m2f': 'STPNMask2FormerVideo', 'minvis': 'MinVIS'}[model]
    assert f"type='{cls}'" in log or f'type="{cls}"' in log or cls in log
    assert 'Load checkpoint from' in log and 'pretrain' in log
    assert (out / 'stpn' / 'iter_2.pth').exists()


def test_frame_mask_ap_counts_every_frame_of_every_video(tmp_path):
    """mmengine's ``evaluate(size)`` keeps the first ``size`` (= number of
    test items = videos) results: the per-frame metric must keep one
    result per video, or it scores the first ``size`` frames only."""
    import numpy as np
    import torch
    from mmdet.structures import DetDataSample, TrackDataSample
    from mmengine.structures import InstanceData

    from mmstpn.projects.toy_vis.generator import generate_toy_vis
    paths = generate_toy_vis(
        str(tmp_path), num_train_videos=1, num_val_videos=2,
        frames_per_video=4, img_size=(64, 64), seed=0)
    from mmstpn.projects.toy_vis import experiment as exp
    metric = exp.ToyFrameMaskAP(paths['val_ann'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c', 'd'))
    with open(paths['val_ann']) as f:
        data = json.load(f)
    import pycocotools.mask as mask_util
    for video in (1, 2):
        frames = []
        for img in [i for i in data['images'] if i['video_id'] == video]:
            anns = [a for a in data['annotations']
                    if a['image_id'] == img['id']]
            masks = np.stack([mask_util.decode(a['segmentation'])
                              for a in anns])
            s = DetDataSample(metainfo=dict(
                img_id=img['id'], ori_shape=(64, 64), instances=[
                    dict(mask=a['segmentation'],
                         bbox_label=a['category_id'] - 1, ignore_flag=0)
                    for a in anns]))
            # exact masks, right classes, except the last video's last
            # frame, whose classes are all wrong
            wrong = video == 2 and img['frame_id'] == 3
            s.pred_track_instances = InstanceData(
                masks=torch.as_tensor(masks, dtype=torch.bool),
                scores=torch.full((len(anns), ), 0.9),
                labels=torch.tensor([(a['category_id'] - (0 if wrong else 1))
                                     % 4 for a in anns]))
            frames.append(s)
        track = TrackDataSample()
        track.video_data_samples = frames
        metric.process({}, [track.to_dict()])
    out = metric.evaluate(size=2)  # 2 test items (videos)
    # the wrong frame (the 8th) is counted: AP < 1
    assert out['frame/mask_AP_all'] < 0.99
    assert out['frame/mask_AP_all'] > 0.5
