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
        assert {k[len('segm_mAP_'):] for k in r
                if k.startswith('segm_mAP_') and k.endswith('obj')} == groups
        for g in groups:
            assert f'mask_AP_all_{g}' in r
    # the right models ran, from the shared warm start
    log = (out / 'stpn.log').read_text()
    cls = {'m2f': 'STPNMask2FormerVideo', 'minvis': 'MinVIS'}[model]
    assert f"type='{cls}'" in log or f'type="{cls}"' in log or cls in log
    assert 'Load checkpoint from' in log and 'pretrain' in log
    assert (out / 'stpn' / 'iter_2.pth').exists()
