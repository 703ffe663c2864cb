"""The toy tracking set (mmstpn/projects/toy_sot/generator.py) and a smoke run
of its experiment (mmstpn/projects/toy_sot/experiment.py, behind
tools/misc/toy_sot_experiment.py; 2 iterations per stage, in process: the
numbers of a 2-iteration tracker are meaningless; the test checks the plumbing
and the per-frame split of the metrics against a naive recomputation)."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmdet.registry import DATASETS

from mmstpn.projects.toy_sot import experiment as exp
from mmstpn.projects.toy_sot.generator import (generate_sot_split,
                                               generate_toy_sot, read_flags)
from tests.test_tools.test_sot_tools import _naive_iou


@pytest.fixture(scope='module')
def toy_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_sot'))
    generate_toy_sot(root, num_train=4, num_val=3, seed=0,
                     frames_per_sequence=10)
    return root


def _hf_energy(img, box):
    """Mean squared Laplacian of the grey image inside an x, y, w, h box
    (shrunk by 3 px: the texture, not the outline)."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    x, y, w, h = (int(round(v)) for v in box)
    return float((lap[y + 3:y + h - 3, x + 3:x + w - 3]**2).mean())


def test_generated_layout_reads_as_got10k(toy_set):
    for split, num in (('train', 4), ('val', 3)):
        ds = DATASETS.build(
            dict(type='GOT10kDataset', data_root=toy_set,
                 ann_file=f'{split}/list.txt',
                 data_prefix=dict(img_path=split), test_mode=True,
                 pipeline=[]))
        assert len(ds) == num
        info = ds.get_data_info(0)
        assert info['video_length'] == 10
        assert (info['images'][0]['width'], info['images'][0]['height']) \
            == (128, 128)
        for frame in info['images']:
            assert osp.isfile(frame['img_path'])


def test_deteriorated_frames_lose_the_target_texture(toy_set):
    clean_e, det_e, outside = [], [], []
    for name in sorted(os.listdir(osp.join(toy_set, 'train'))):
        seq = osp.join(toy_set, 'train', name)
        if not osp.isdir(seq):
            continue
        det = read_flags(seq)
        kinds = open(osp.join(seq, 'deterioration.txt')).read().split()
        boxes = np.loadtxt(osp.join(seq, 'groundtruth.txt'), delimiter=',')
        # frame 0 clean, never two adjacent deteriorated frames, ~30%
        assert not det[0] and not (det[1:] & det[:-1]).any()
        assert 1 <= det.sum() <= 5
        assert [k != 'none' for k in kinds] == det.tolist()
        for t, box in enumerate(boxes):
            x, y, w, h = box
            assert 0 <= x and 0 <= y and x + w <= 128 and y + h <= 128
            assert 18 <= w <= 28 and w == pytest.approx(h)
            img = cv2.imread(osp.join(seq, '%08d.jpg' % (t + 1)))
            if kinds[t] != 'noise':  # (its grain is high-frequency too)
                (det_e if det[t] else clean_e).append(_hf_energy(img, box))
            if not det[t]:
                # the distractors' textures outside the target box
                grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
                lap = cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F)**2
                mask = np.ones_like(lap, bool)
                xi, yi = int(x), int(y)
                mask[max(yi - 2, 0):yi + int(h) + 3,
                     max(xi - 2, 0):xi + int(w) + 3] = False
                outside.append((lap * mask).sum() / mask.sum())
    assert det_e and min(clean_e) > 4 * max(det_e)  # texture gone
    assert np.mean(outside) > 0.05 * np.mean(clean_e)  # distractors there


def _chroma(img):
    """Mean spread between the colour channels of a BGR image."""
    img = img.astype(np.float32)
    return float((img.max(2) - img.min(2)).mean())


def test_distractor_hues_are_isoluminant_and_deteriorated_frames_grey(
        toy_set):
    from mmstpn.projects.toy_sot import generator as gen
    rng = np.random.default_rng(0)
    for _ in range(20):
        ref = rng.uniform(60, 195, 3).astype(np.float32)
        col = gen._isoluminant(rng, ref)
        # luminance by cv2's own BGR -> grey conversion of a 1-pixel image
        luma = [float(cv2.cvtColor(c[None, None].astype(np.float32),
                                   cv2.COLOR_BGR2GRAY)[0, 0])
                for c in (ref, col)]
        assert luma[0] == pytest.approx(luma[1], abs=1e-3)
        assert np.abs(col - ref).max() >= 50 and 20 <= col.min() <= \
            col.max() <= 235
    clean, det = [], []
    for name in sorted(os.listdir(osp.join(toy_set, 'val'))):
        seq = osp.join(toy_set, 'val', name)
        if not osp.isdir(seq):
            continue
        flags = read_flags(seq)
        for t, flag in enumerate(flags):
            img = cv2.imread(osp.join(seq, '%08d.jpg' % (t + 1)))
            (det if flag else clean).append(_chroma(img))
    # grey (only the sensor noise and JPEG leave a little colour) vs the
    # coloured backgrounds and objects of the clean frames
    assert det and max(det) < 0.3 * min(clean)


def test_warm_start_and_fine_tune_pipelines(toy_set, tmp_path):
    """The fine-tunes: search corruption + crops around the previous box;
    the warm start: neither (OSTrack's crops), all else the same."""
    args = exp.parse_args(['--out-dir', str(tmp_path), '--data-dir',
                           toy_set])
    tune = exp.load_cfg('baseline', args, 2, 'b').train_dataloader.dataset
    warm = exp.pretrain_cfg(args).train_dataloader.dataset
    types = [step['type'] for step in tune.pipeline]
    assert 'RandomApply' in types
    corrupt = tune.pipeline[types.index('RandomApply')]['transforms'][0]
    assert (corrupt['type'], corrupt['target'], corrupt['grey']) == (
        'ClipCorrupt', 'search', True)
    crop = tune.pipeline[types.index('SOTCropRegion')]
    assert crop['search_center'] == 'previous'
    assert tuple(crop['search_jitter']) == (0.25, 0.5)
    assert [step['type'] for step in warm.pipeline] == [
        t for t in types if t != 'RandomApply']
    warm_crop = [s for s in warm.pipeline if s['type'] == 'SOTCropRegion'][0]
    assert warm_crop['search_center'] == 'own'
    assert tuple(warm_crop['search_jitter']) == (0.25, 3.0)
    for key in ('template_size', 'search_size', 'support_region'):
        assert warm_crop[key] == crop[key]


def test_generation_is_deterministic_and_checks_arguments(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    for root in (a, b):
        generate_sot_split(root, 'val', 2, frames_per_sequence=5, seed=3)
    for name in ('groundtruth.txt', 'deteriorated.label', '00000004.jpg'):
        path = osp.join('val', 'TOY_val_0001', name)
        with open(osp.join(a, path), 'rb') as fa, \
                open(osp.join(b, path), 'rb') as fb:
            assert fa.read() == fb.read(), name
    for kw, match in ((dict(deteriorated_ratio=0.7), 'deteriorated_ratio'),
                      (dict(deterioration_kinds=('fog', )), 'fog'),
                      (dict(img_size=64), 'img_size'),
                      (dict(num_wanderers=(0, 3)), 'num_wanderers')):
        with pytest.raises(ValueError, match=match):
            generate_sot_split(a, 'x', 1, **kw)
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'deteriorated.label').write_text('0\n2\n')
    with pytest.raises(ValueError, match='deteriorated.label line 2'):
        read_flags(str(bad))


def test_experiment_smoke(toy_set, tmp_path):
    out = str(tmp_path / 'out')
    args = exp.parse_args([
        '--out-dir', out, '--data-dir', toy_set, '--num-train', '4',
        '--num-val', '3', '--frames', '10', '--pretrain-iters', '2',
        '--iters', '2', '--cfg-options', 'train_dataloader.batch_size=2'
    ])
    assert exp.run_worker('pretrain', args) == {}
    assert osp.isfile(exp.pretrain_path(args))
    results = {}
    for name in ('baseline', 'stpn'):
        results.update(exp.run_worker(name, args))
        assert osp.isfile(osp.join(out, name, 'iter_2.pth'))
    lines = exp.table(results)
    assert lines[2].startswith('baseline') and lines[3].startswith('stpn')
    assert lines[4].startswith('stpn - baseline')

    # the deteriorated / clean split, recomputed naively from the files
    for name in ('baseline', 'stpn'):
        ious = {True: [], False: []}
        for seq_name in ('TOY_val_0000', 'TOY_val_0001', 'TOY_val_0002'):
            seq = osp.join(toy_set, 'val', seq_name)
            gt = np.loadtxt(osp.join(seq, 'groundtruth.txt'), delimiter=',')
            pred = np.loadtxt(
                osp.join(out, name, 'results', seq_name,
                         f'{seq_name}_001.txt'), delimiter=',')
            det = read_flags(seq)
            np.testing.assert_allclose(pred[0], gt[0], atol=1e-3)
            for t in range(1, len(gt)):
                ious[bool(det[t])].append(_naive_iou(pred[t], gt[t], 128,
                                                     128))
        m = results[name]
        assert m['deteriorated']['num_frames'] == len(ious[True]) > 0
        assert m['clean']['num_frames'] == len(ious[False])
        assert m['all']['num_frames'] == len(ious[True]) + len(ious[False])
        for part, flag in (('deteriorated', True), ('clean', False)):
            assert m[part]['AO'] == pytest.approx(np.mean(ious[flag]),
                                                  abs=1e-6)
            assert m[part]['SR50'] == pytest.approx(
                np.mean(np.array(ious[flag]) > 0.5), abs=1e-6)
        assert m['all']['AO'] == pytest.approx(
            np.mean(ious[True] + ious[False]), abs=1e-6)
