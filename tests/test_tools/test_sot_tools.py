"""End-to-end test of the single-object tracker under tools/train.py,
tools/test.py and tools/dist_test.sh.

A tiny STPN one-stream tracker (tests/data/configs/tiny_stpn_sot_got10k.py:
the GOT-10k STPN tracker config with a tiny STPNViT, template 32 px / search
64 px, prompts on, online support cache) is trained for 3 iterations on a
fake GOT-10k tree in the published layout (tests/test_datasets/
fake_got10k.py), then tested on its val split by 1 process and by 2 gloo
processes (TrackImgSampler: whole sequences per process, frames in order,
batch 1) and on its test split with ``format_only`` (the server's
submission layout). The AO / SR the metric logs are recomputed here from
the result files and groundtruth.txt with the GOT-10k toolkit's rules
written out naively; the 2-process boxes must equal the 1-process ones.
Everything runs in subprocesses, as a user calls the tools.
"""
import os.path as osp

import numpy as np
import pytest

from tests.test_datasets.fake_got10k import full_seq, write_split
from tests.test_tools.tool_helpers import (REPO, load_checkpoint,
                                           logged_metrics, logs, run_dist,
                                           run_tool, tool_env)

CONFIG = osp.join(REPO, 'tests', 'data', 'configs',
                  'tiny_stpn_sot_got10k.py')
VAL = dict(
    GOT_V1=full_seq(6),
    GOT_V2=full_seq(5, invisible=(2, )),
    GOT_V3=full_seq(4))
TEST = dict(
    GOT_T1=dict(boxes=[[5, 6, 12, 10]], num_images=5),
    GOT_T2=dict(boxes=[[20, 10, 10, 12]], num_images=4))
IMG_W, IMG_H = 64, 48  # fake_got10k's default resolution


def _data_opts(root, split='val', format_only=False, outfile=None):
    root = root.rstrip('/') + '/'
    opts = [
        '--cfg-options',
        f'train_dataloader.dataset.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.ann_file={split}/list.txt',
        f'test_dataloader.dataset.data_prefix.img_path={split}',
        f'test_dataloader.dataset.first_frame_only={split == "test"}',
        f'test_evaluator.format_only={format_only}',
    ]
    if outfile is not None:
        opts.append(f'test_evaluator.outfile_prefix={outfile}')
    return opts


def _read_boxes(path):
    return np.loadtxt(path, delimiter=',', ndmin=2)


def _naive_iou(pred, gt, width, height):
    """GOT-10k toolkit's rect_iou with the image bound, one pair at a
    time."""
    x, y, w, h = pred
    x = min(max(x, 0.), width)
    y = min(max(y, 0.), height)
    w = min(max(w, 0.), width - x)
    h = min(max(h, 0.), height - y)
    gx, gy, gw, gh = gt
    iw = max(0., min(x + w, gx + gw) - max(x, gx))
    ih = max(0., min(y + h, gy + gh) - max(y, gy))
    inter = iw * ih
    return min(max(inter / (w * h + gw * gh - inter + 1e-12), 0.), 1.)


def _reference_metrics(root, outdir):
    ious = []
    for name in VAL:
        seq = osp.join(root, 'val', name)
        gt = _read_boxes(osp.join(seq, 'groundtruth.txt'))
        cover = np.loadtxt(osp.join(seq, 'cover.label'))
        pred = _read_boxes(osp.join(outdir, name, f'{name}_001.txt'))
        assert pred.shape == gt.shape, name
        np.testing.assert_allclose(pred[0], gt[0], atol=1e-3)  # given box
        for t in range(1, len(gt)):  # frame 0 skipped, covered frames only
            if cover[t] > 0:
                ious.append(_naive_iou(pred[t], gt[t], IMG_W, IMG_H))
    ious = np.array(ious)
    return {
        'num': len(ious),
        'got10k/AO': ious.mean(),
        'got10k/SR50': (ious > 0.5).mean(),
        'got10k/SR75': (ious > 0.75).mean()
    }


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sot_tools'))
    data = osp.join(root, 'got10k')
    write_split(
        data, 'train',
        dict(
            GOT_A=full_seq(8, invisible=(3, )),
            GOT_B=full_seq(6),
            GOT_C=full_seq(7)))
    write_split(data, 'val', VAL)
    write_split(data, 'test', TEST)
    env = tool_env()
    work = osp.join(root, 'train')
    run_tool(env, 'train.py', CONFIG, '--work-dir', work,
             *_data_opts(data))
    (log, ) = logs(work)
    assert 'Iter(train) [3/3]' in log and 'loss_cls' in log
    assert 'loss_l1' in log and 'GOT10kMetric (got10k): 3 sequences' in log
    ckpt = osp.join(work, 'iter_3.pth')
    state = load_checkpoint(ckpt)
    assert state['meta']['iter'] == 3
    assert any(k.startswith('backbone.prompt_generator.predictor.')
               for k in state['state_dict'])
    return dict(root=root, data=data, env=env, ckpt=ckpt)


def test_val_single_and_two_processes_match_reference(trained):
    root, data, env = trained['root'], trained['data'], trained['env']
    results = {}
    for procs in (1, 2):
        work = osp.join(root, f'val_{procs}')
        outdir = osp.join(root, f'val_{procs}_results')
        opts = _data_opts(data, outfile=outdir)
        if procs == 1:
            run_tool(env, 'test.py', CONFIG, trained['ckpt'], '--work-dir',
                     work, *opts)
        else:
            run_dist(env, 'dist_test.sh', CONFIG, trained['ckpt'], '2',
                     '--work-dir', work, *opts)
        (log, ) = logs(work)
        assert f'GPU number: {procs}' in log
        metrics = logged_metrics(work, 'got10k/')
        assert metrics['got10k/speed_fps'] > 0  # measured frame times
        ref = _reference_metrics(data, outdir)
        assert 0 < ref['got10k/AO'] < 1 and ref['num'] == 11
        # the result files hold %.3f boxes: AO agrees to ~1e-4, an SR may
        # differ by one frame whose IoU is within rounding of the threshold
        assert metrics['got10k/AO'] == pytest.approx(ref['got10k/AO'],
                                                     abs=1e-3)
        for key in ('got10k/SR50', 'got10k/SR75'):
            assert metrics[key] == pytest.approx(ref[key],
                                                 abs=1 / ref['num'] + 1e-9)
        results[procs] = (metrics, {
            name: _read_boxes(osp.join(outdir, name, f'{name}_001.txt'))
            for name in VAL
        })
    # 2 processes: sequences spread over the ranks, same boxes and metrics
    for name in VAL:
        np.testing.assert_array_equal(results[1][1][name],
                                      results[2][1][name])
    for key in ('got10k/AO', 'got10k/SR50', 'got10k/SR75'):
        assert results[1][0][key] == results[2][0][key]


def test_format_only_writes_submission_with_measured_times(trained):
    root, data = trained['root'], trained['data']
    work = osp.join(root, 'test_split')
    outdir = osp.join(root, 'submission')
    run_tool(trained['env'], 'test.py', CONFIG, trained['ckpt'],
             '--work-dir', work,
             *_data_opts(data, 'test', format_only=True, outfile=outdir))
    (log, ) = logs(work)
    assert 'results of 2 sequences written to' in log
    for name, seq in TEST.items():
        boxes = _read_boxes(osp.join(outdir, name, f'{name}_001.txt'))
        assert boxes.shape == (seq['num_images'], 4)
        np.testing.assert_allclose(boxes[0], seq['boxes'][0], atol=1e-3)
        assert (boxes[1:, 2:] > 0).all()  # tracked, non-empty boxes
        times = np.loadtxt(osp.join(outdir, name, f'{name}_time.txt'))
        assert times.shape == (seq['num_images'], )
        assert (times > 0).all() and (times < 60).all()
