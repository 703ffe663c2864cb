"""Tests of ClipCorrupt, the robustness result logic
(mmstpn/utils/robustness_utils) and
tools/analysis_tools/test_robustness.py (smoke run on a tiny toy set)."""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmdet.registry import DATASETS, MODELS, TRANSFORMS
from mmstpn.datasets.transforms import (CORRUPTION_GROUPS, CORRUPTIONS,
                                        ClipCorrupt, resolve_corruptions)
from mmstpn.datasets.transforms.corruption import frame_seed
from mmstpn.engine import support_samplers
from mmstpn.structures import SupportPolicy
from mmstpn.projects.toy_vid.generator import generate_deteriorated_vid
from mmstpn.utils.robustness_utils import (CLEAN, RobustnessResults,
                                           apply_support_setting,
                                           effective_target, get_metric,
                                           innermost_test_dataset,
                                           insert_clip_corrupt, parse_sweep,
                                           parse_sweep_checkpoints,
                                           split_setting, support_mode,
                                           sweep_settings, type_name)
from mmstpn.utils.robustness_utils.plots import (plot_per_corruption,
                                                 plot_severity, plot_sweep)
from mmstpn.utils.robustness_utils.tables import (format_report,
                                                  format_sweep)
from tests.test_tools.tool_helpers import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'test_robustness.py')
STPN_CFG = osp.join(REPO, 'configs', 'stpn',
                    'stpn_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_'
                    'toy-vid.py')
BASE_CFG = osp.join(REPO, 'configs', 'stpn',
                    'faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py')


def _clip(num=4, size=48, mode='offline', seed=0):
    rng = np.random.RandomState(seed)
    imgs = [
        rng.randint(0, 256, (size, size, 3)).astype(np.uint8)
        for _ in range(num)
    ]
    return dict(
        img=[i.copy() for i in imgs],
        img_path=[f'video/{i:06d}.JPEG' for i in range(num)],
        support_mode=[mode] * num), imgs


def _changed(results, originals):
    return [
        not np.array_equal(a, b) for a, b in zip(results['img'], originals)
    ]


# --------------------------------------------------------------------------
# ClipCorrupt
# --------------------------------------------------------------------------
@pytest.mark.parametrize('target,expected',
                         [('key', [True, False, False, False]),
                          ('support', [False, True, True, True]),
                          ('both', [True, True, True, True])])
def test_clip_corrupt_targets(target, expected):
    results, imgs = _clip()
    out = ClipCorrupt('gaussian_noise', 3, target=target)(results)
    assert _changed(out, imgs) == expected
    assert all(i.shape == (48, 48, 3) and i.dtype == np.uint8
               for i in out['img'])


@pytest.mark.parametrize('target,expected',
                         [('key', [True, False, False, True, False, False]),
                          ('support', [False, True, True, False, True, True]),
                          ('both', [True] * 6)])
def test_clip_corrupt_tracking_clip(target, expected):
    """A RefSupportFrameSample clip (key, 2 supports, reference, 2
    supports): 'key' means every clip frame, 'support' every support."""
    results, imgs = _clip(6)
    results['clip_index'] = [0, -1, -1, 1, -1, -1]
    out = ClipCorrupt('gaussian_noise', 3, target=target)(results)
    assert _changed(out, imgs) == expected
    results['clip_index'] = [0, -1]
    with pytest.raises(ValueError, match='clip_index has 2 entries'):
        ClipCorrupt('gaussian_noise', 3, target=target)(results)


def test_clip_corrupt_sot_search_frame_and_grey():
    """An SOTPairSample item [template, search, support, support]: 'search'
    corrupts the search frame only; grey=True leaves its luminance (cv2's
    BGR -> grey of the corrupted colour frame) on all 3 channels."""
    results, imgs = _clip(4)
    results['frame_role'] = ['template', 'search', 'support', 'support']
    out = ClipCorrupt('defocus_blur', 3, target='search', grey=True)(results)
    assert _changed(out, imgs) == [False, True, False, False]
    search = out['img'][1]
    assert search.shape == (48, 48, 3) and search.dtype == np.uint8
    assert (search == search[..., :1]).all()  # grey
    colour = ClipCorrupt('defocus_blur', 3).corrupt_frame(
        imgs[1], 'video/000001.JPEG')
    np.testing.assert_array_equal(
        search[..., 0], cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
    results, _ = _clip(2)
    with pytest.raises(ValueError, match='frame_role'):
        ClipCorrupt('defocus_blur', 3, target='search')(results)


def test_clip_corrupt_deterministic_and_position_free():
    results, imgs = _clip()
    state = np.random.get_state()[1].copy()
    a = ClipCorrupt('shot_noise', 2, target='both')(results)['img']
    # numpy's global random state is left untouched
    assert np.array_equal(np.random.get_state()[1], state)
    # frame 2 as a KEY frame of its own clip == frame 2 as a SUPPORT frame
    key_clip = dict(
        img=[imgs[2].copy()],
        img_path=['video/000002.JPEG'],
        support_mode=['offline'])
    b = ClipCorrupt('shot_noise', 2, target='key')(key_clip)['img'][0]
    assert np.array_equal(a[2], b)
    # reproducible; other severity / frame / seed -> other noise
    again = ClipCorrupt('shot_noise', 2)(_clip()[0])['img']
    assert all(np.array_equal(x, y) for x, y in zip(a, again))
    sev3 = ClipCorrupt('shot_noise', 3)(_clip()[0])['img']
    assert not np.array_equal(a[0], sev3[0])
    other = ClipCorrupt('shot_noise', 2, seed=1)(_clip()[0])['img']
    assert not np.array_equal(a[0], other[0])
    assert frame_seed('a', 'fog', 1) != frame_seed('b', 'fog', 1)
    # the two corruptions with a seed argument of their own
    for name in ('impulse_noise', 'glass_blur'):
        t = ClipCorrupt(name, 1)
        small = imgs[0][:32, :32]
        assert np.array_equal(
            t.corrupt_frame(small, 'x'), t.corrupt_frame(small, 'x'))


def test_clip_corrupt_errors_and_modes():
    for bad in (0, 6, 2.0, True):
        with pytest.raises(ValueError, match='severity'):
            ClipCorrupt('fog', bad)
    with pytest.raises(ValueError, match='unknown corruption'):
        ClipCorrupt('not_a_corruption', 1)
    with pytest.raises(ValueError, match='target'):
        ClipCorrupt('fog', 1, target='frames')
    # online: only the key frame is loaded, 'support' is not definable
    results, imgs = _clip(num=1, mode='online')
    with pytest.raises(ValueError, match='online'):
        ClipCorrupt('fog', 1, target='support')(results)
    out = ClipCorrupt('fog', 1, target='key')(results)
    assert _changed(out, imgs) == [True]
    # a single image (no per-frame lists) is a one-frame clip
    img = imgs[0].copy()
    out = ClipCorrupt('contrast', 2, target='key')(
        dict(img=img, img_path='x.jpg'))
    assert out['img'].shape == img.shape
    assert not np.array_equal(out['img'], imgs[0])
    # grey images keep their shape
    grey = ClipCorrupt('contrast', 2).corrupt_frame(imgs[0][..., 0], 'g')
    assert grey.shape == (48, 48)


def test_clip_corrupt_channel_order_registry_pickle():
    img = _clip()[1][0]
    bgr = ClipCorrupt('saturate', 3).corrupt_frame(img, 'k')
    rgb = ClipCorrupt(
        'saturate', 3, channel_order='rgb').corrupt_frame(
            np.ascontiguousarray(img[..., ::-1]), 'k')
    assert np.array_equal(bgr, rgb[..., ::-1])
    # mmdet's scope, whatever scope an earlier test's Runner left current
    with DefaultScope.overwrite_default_scope('mmdet'):
        t = TRANSFORMS.build(
            dict(type='ClipCorrupt', corruption='fog', severity=2,
                 target='support'))
    assert isinstance(t, ClipCorrupt) and 'support' in repr(t)
    assert pickle.loads(pickle.dumps(t)).corruption == 'fog'


def test_resolve_corruptions():
    import imagecorruptions
    assert list(CORRUPTIONS) == imagecorruptions.get_corruption_names('all')
    assert resolve_corruptions(['benchmark']) == \
        imagecorruptions.get_corruption_names('common')
    for g in ('noise', 'blur', 'weather', 'digital'):
        assert CORRUPTION_GROUPS[g] == \
            imagecorruptions.get_corruption_names(g)
    assert resolve_corruptions(['noise', 'gaussian_noise', 'fog']) == [
        'gaussian_noise', 'shot_noise', 'impulse_noise', 'fog'
    ]
    assert resolve_corruptions(['none']) == []
    with pytest.raises(ValueError, match='unknown'):
        resolve_corruptions(['rain'])


# --------------------------------------------------------------------------
# config surgery
# --------------------------------------------------------------------------
def test_pipeline_surgery():
    cfg = Config.fromfile(STPN_CFG)
    pipe = cfg.test_dataloader.dataset.pipeline
    cc = dict(type='ClipCorrupt', corruption='fog', severity=1)
    clip = insert_clip_corrupt(pipe, cc)
    assert [type_name(t) for t in clip] == [
        'SupportFrameSample', 'TransformBroadcaster', 'ClipCorrupt',
        'PackClipInputs'
    ]
    loaded = insert_clip_corrupt(pipe, cc, stage='loaded')
    assert [type_name(t) for t in loaded] == [
        'SupportFrameSample', 'TransformBroadcaster', 'ClipCorrupt',
        'TransformBroadcaster', 'PackClipInputs'
    ]
    assert [type_name(t) for t in loaded[1]['transforms']] == \
        ['LoadImageFromFile']
    assert [type_name(t) for t in loaded[3]['transforms']] == \
        ['Resize', 'LoadTrackAnnotations']
    assert len(pipe) == 3  # the input is not modified
    with pytest.raises(ValueError, match='TransformBroadcaster'):
        insert_clip_corrupt([dict(type='PackDetInputs')], cc)

    assert support_mode(cfg) == 'offline'
    online = apply_support_setting(cfg, dict(method='online', stride=4))
    assert support_mode(online) == 'online'
    # the policy lives on the model: the pipeline follows it
    assert online.model.backbone.test_support == dict(
        mode='online', num_support=14, stride=4)
    assert cfg.model.backbone.test_support.get('stride', 1) == 1
    assert innermost_test_dataset(online).pipeline[0]['method'] == \
        'from_model' and pipe[0].get('stride') is None
    with pytest.raises(ValueError, match='frame_range'):
        apply_support_setting(cfg, dict(frame_range=3))
    assert support_mode(Config.fromfile(BASE_CFG)) == 'none'
    assert effective_target('offline', 'support') == 'support'
    assert effective_target('none', 'support') == CLEAN
    assert effective_target('none', 'both') == 'key'
    assert effective_target('online', 'both') == 'key'
    with pytest.raises(ValueError, match='online'):
        effective_target('online', 'support')


def test_sweep_parsing():
    sweep = parse_sweep(
        ['num_ref_imgs=2,4,8', 'stride=1,4', 'frame_range=-4:4', 'N_P=3'])
    assert sweep == dict(
        num_ref_imgs=[2, 4, 8],
        stride=[1, 4],
        frame_range=[[-4, 4]],
        num_prompts=[3])
    assert len(sweep_settings(sweep)) == 7
    grid = sweep_settings(dict(a=[1, 2], b=['x', 'y', 'z']), grid=True)
    assert len(grid) == 6 and grid[-1] == dict(a=2, b='z')
    assert split_setting(dict(num_ref_imgs=4, num_prompts=3,
                              **{'model.x': 1})) == (
                                  dict(num_ref_imgs=4),
                                  {'model.backbone.num_prompts': 3,
                                   'model.x': 1})
    with pytest.raises(ValueError, match='unknown sweep key'):
        split_setting(dict(bogus=1))
    with pytest.raises(ValueError):
        parse_sweep(['num_ref_imgs'])
    assert parse_sweep_checkpoints(['2=a.pth,5=b.pth', '9=c.pth']) == {
        2: 'a.pth', 5: 'b.pth', 9: 'c.pth'}
    with pytest.raises(ValueError, match='N_P'):
        parse_sweep_checkpoints(['x=a.pth'])


# --------------------------------------------------------------------------
# aggregation, tables, plots on fake metric dicts
# --------------------------------------------------------------------------
def _m(v):
    return {
        'vid/bbox_mAP_50': v,
        'vid/bbox_mAP_50_slow': v / 2,
        'vid/bbox_mAP_50_fast': -1.0,
        'vid/bbox_mAP_50_deteriorated': v / 4,
        'vid/bbox_AP50_cls': v
    }


def _fake_results():
    res = RobustnessResults()
    for model, p in (('stpn', 0.8), ('base', 0.6)):
        res.add(model, CLEAN, CLEAN, 0, _m(p))
        for c_i, c in enumerate(('fog', 'pixelate')):
            for s in (1, 3):
                res.add(model, 'key', c, s, _m(p - 0.1 * s - 0.1 * c_i))
                if model == 'base':
                    res.add(model, 'support', c, s, _m(p), same_as=CLEAN)
                else:
                    res.add(model, 'support', c, s, _m(p - 0.01 * s))
    return res


def test_robustness_results_aggregation(tmp_path):
    res = _fake_results()
    assert res.targets == ['key', 'support']
    assert res.corruptions == ['fog', 'pixelate'] and res.severities == [1, 3]
    assert get_metric(_m(0.5), 'bbox_mAP_50_fast') is None  # -1: no GT
    assert res.clean('stpn') == pytest.approx(0.8)
    # fog: 0.7, 0.5; pixelate: 0.6, 0.4
    assert res.corruption_mean('stpn', 'key', 'fog') == pytest.approx(0.6)
    assert res.severity_mean('stpn', 'key', 3) == pytest.approx(0.45)
    assert res.severity_mean('stpn', 'key', 0) == pytest.approx(0.8)
    assert res.mpc('stpn', 'key') == pytest.approx(0.55)
    assert res.rpc('stpn', 'key') == pytest.approx(0.55 / 0.8)
    assert res.mpc('stpn', 'key', 'bbox_mAP_50_slow') == pytest.approx(0.275)
    assert res.rpc('base', 'support') == pytest.approx(1.0)
    with pytest.raises(ValueError, match='severity 0'):
        res.add('stpn', 'key', 'fog', 0, _m(0.1))
    res.add('stpn', 'key', 'fog', 1, _m(0.7))  # replaces, no duplicate
    assert len([r for r in res.records if r['model'] == 'stpn']) == 9

    summary = res.summary()
    s = summary['stpn']['key']
    assert list(s) == ['bbox_mAP_50', 'bbox_mAP_50_slow',
                       'bbox_mAP_50_fast', 'bbox_mAP_50_deteriorated']
    assert s['bbox_mAP_50']['mPC'] == pytest.approx(0.55)
    assert s['bbox_mAP_50']['by_severity'] == pytest.approx(
        {'0': 0.8, '1': 0.65, '3': 0.45})
    assert s['bbox_mAP_50_fast']['mPC'] is None

    text = format_report(res)
    assert 'stpn | target=key' in text and 'base | target=support' in text
    assert 'fog (= clean)' in text          # reused result is marked
    assert '| mPC ' in text and 'stpn - base' in text
    assert '+20.0' in text                  # clean P difference, in %
    assert 'AP50_deteriorated' in text

    path = str(tmp_path / 'r.json')
    res.dump(path)
    with open(path) as f:
        data = json.load(f)
    assert data['records'][0]['metrics']['vid/bbox_mAP_50_fast'] == -1.0
    back = RobustnessResults.from_dict(data)
    assert back.mpc('stpn', 'key') == pytest.approx(res.mpc('stpn', 'key'))

    for fn, name in ((plot_severity, 'a.png'), (plot_per_corruption,
                                                'b.png')):
        out = fn(res, str(tmp_path / name))
        assert osp.getsize(out) > 1000


def test_sweep_results(tmp_path):
    sw = RobustnessResults()
    sw.add_setting('stpn', {}, _m(0.8))
    for k, v in ((2, 0.6), (8, 0.7), (14, 0.8)):
        sw.add_setting('stpn', dict(num_ref_imgs=k), _m(v))
    sw.add_setting('stpn', dict(method='online', stride=4), _m(0.75))
    sw.add_setting('base', {}, _m(0.5))
    assert sw.setting_keys == ['num_ref_imgs', 'method', 'stride']
    assert sw.has_setting('stpn', dict(num_ref_imgs=8))
    text = format_sweep(sw)
    assert 'num_ref_imgs=14' in text and 'method=online stride=4' in text
    assert 'AP50_deteriorated' in text and '70.0' in text
    assert osp.getsize(plot_sweep(sw, str(tmp_path / 's.png'))) > 1000
    # one store: the sweep's reference (setting {}) is the clean run of the
    # corruption tables, stored once
    assert sw.clean('stpn') == pytest.approx(0.8)
    assert len([r for r in sw.records if r['model'] == 'stpn']) == 5


def test_results_file_in_docs_loads():
    """The committed results (written before sweeps shared the store: no
    ``setting`` in its records) load and give back their own summary."""
    with open(osp.join(REPO, 'docs', 'robustness_toy_results.json')) as f:
        data = json.load(f)
    res = RobustnessResults.from_dict(data)
    assert len(res.records) == len(data['records'])
    assert res.corruptions == data['corruptions']
    for model, per_target in data['summary'].items():
        for target, per_metric in per_target.items():
            want = per_metric['bbox_mAP_50']
            assert res.clean(model) == pytest.approx(want['P'])
            assert res.mpc(model, target) == pytest.approx(want['mPC'])


# --------------------------------------------------------------------------
# on the toy data: the pipeline and the command line
# --------------------------------------------------------------------------
@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """2+2 videos of 4 frames and a randomly initialised STPN checkpoint."""
    root = str(tmp_path_factory.mktemp('toy_robustness'))
    generate_deteriorated_vid(
        root, num_train_videos=2, num_val_videos=2, frames_per_video=4)
    cfg = Config.fromfile(STPN_CFG)
    model = MODELS.build(cfg.model)
    ckpt = osp.join(root, 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return root, ckpt


def _toy_dataset(root, pipeline):
    cfg = Config.fromfile(STPN_CFG)
    ds = dict(cfg.test_dataloader.dataset)
    ds.update(data_root=root + '/', pipeline=pipeline)
    dataset = DATASETS.build(ds)
    policy = SupportPolicy.build(cfg.model.backbone.test_support)
    for sampler in support_samplers(dataset):  # as VideoContextHook does
        sampler.set_test_policy(policy)
    return dataset


def test_clip_corrupt_in_toy_pipeline(toy):
    root, _ = toy
    pipe = Config.fromfile(STPN_CFG).test_dataloader.dataset.pipeline
    clean = _toy_dataset(root, pipe)[(0, 0)]['inputs']
    assert clean.shape[0] == 15  # key + the 14 offline support frames

    def inputs(target, idx=(0, 0), stage='clip'):
        cc = dict(type='ClipCorrupt', corruption='gaussian_noise',
                  severity=2, target=target)
        ds = _toy_dataset(root, insert_clip_corrupt(pipe, cc, stage))
        item = ds[idx]
        return item['inputs'], item['data_samples']

    diff = lambda x: [  # noqa: E731
        not torch.equal(a, b) for a, b in zip(x, clean)
    ]
    key, _ = inputs('key')
    assert diff(key) == [True] + [False] * 14
    sup, ds0 = inputs('support')
    assert diff(sup) == [False] + [True] * 14
    both, _ = inputs('both', stage='loaded')
    assert all(diff(both))
    # the same video frame gets the same corruption as key and as support
    frame_ids = ds0.support_frame_ids
    key3, ds3 = inputs('key', idx=(0, 3))
    pos = frame_ids.index(ds3.frame_id) + 1
    assert torch.equal(key3[0], sup[pos])


def _load_tool():
    return load_tool('analysis_tools/test_robustness.py')


def test_cli_arguments():
    tool = _load_tool()
    args = tool.parse_args(['c.py', 'k.pth'])
    assert len(args.corruptions) == 15 and args.severities == [1, 2, 3, 4, 5]
    args = tool.parse_args(
        ['c.py', 'k.pth', '--sweep', 'num_ref_imgs=2,4', '--severities', '0',
         '3'])
    assert args.corruptions == [] and args.severities == [3]
    assert args.sweep == dict(num_ref_imgs=[2, 4])
    for bad in (['--severities', '6'], ['--corruptions', 'rain'],
                ['--sweep', 'bogus=1'], ['--max-videos', '0'],
                ['--names', 'a', 'b']):
        with pytest.raises(SystemExit):
            tool.parse_args(['c.py', 'k.pth'] + bad)


def test_cli_smoke(toy, tmp_path):
    """2 corruptions x 1 severity x 2 targets, STPN vs baseline, plus a K
    sweep, on the first video of the toy set."""
    root, ckpt = toy
    # the baseline's own checkpoint: the STPN weights it has (checkpoints
    # load strictly; the prompt predictor's are not the baseline's)
    base_keys = MODELS.build(Config.fromfile(BASE_CFG).model).state_dict()
    full = torch.load(ckpt, map_location='cpu')
    base_ckpt = str(tmp_path / 'base.pth')
    torch.save(dict(full, state_dict={k: v for k, v in
                                      full['state_dict'].items()
                                      if k in base_keys}), base_ckpt)
    out = str(tmp_path / 'rob.json')
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    cmd = [
        sys.executable, TOOL, STPN_CFG, ckpt, '--compare', BASE_CFG,
        base_ckpt,
        '--names', 'stpn', 'base', '--corruptions', 'gaussian_noise',
        'contrast', '--severities', '2', '--target', 'key', 'support',
        '--max-videos', '1', '--sweep', 'num_ref_imgs=2', '--work-dir',
        str(tmp_path / 'wd'), '--out', out, '--plot-per-corruption',
        '--cfg-options', f'test_dataloader.dataset.data_root={root}/',
        f'test_evaluator.ann_file={root}/val.json',
        # 9 runs, each with a fresh runner: no worker start-up per run
        'test_dataloader.num_workers=0'
    ]
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'target=support' in proc.stdout and 'stpn - base' in proc.stdout

    with open(out) as f:
        rob = json.load(f)  # one store: corruption and sweep runs
    assert set(rob) >= {'meta', 'models', 'records', 'summary', 'targets',
                        'corruptions', 'severities'}
    assert rob['targets'] == ['key', 'support']
    assert rob['corruptions'] == ['gaussian_noise', 'contrast']
    assert rob['severities'] == [2]
    assert rob['models']['stpn']['mode'] == 'offline'
    assert rob['models']['base']['mode'] == 'none'
    # clean + 2 corruptions x 1 severity x 2 targets, per model
    config_recs = [r for r in rob['records'] if not r['setting']]
    assert len(config_recs) == 2 * (1 + 2 * 2)
    recs = {(r['model'], r['target'], r['corruption']): r
            for r in config_recs}
    assert recs[('base', 'support', 'contrast')]['same_as'] == CLEAN
    assert 'same_as' not in recs[('stpn', 'support', 'contrast')]
    for r in rob['records']:
        assert 'vid/bbox_mAP_50' in r['metrics']
        assert 'vid/bbox_mAP_50_deteriorated' in r['metrics']
    assert set(rob['summary']['stpn']['key']['bbox_mAP_50']) == {
        'P', 'mPC', 'rPC', 'by_severity', 'by_corruption'}
    sweep = [r for r in rob['records'] if r['target'] == CLEAN]
    assert [r['setting'] for r in sweep] == [{}, {'num_ref_imgs': 2}, {}]
    for name in ('rob.png', 'rob_per_corruption.png', 'rob_sweep.png'):
        assert osp.getsize(str(tmp_path / name)) > 1000
