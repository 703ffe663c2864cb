"""Smoke test of the main job (tools/misc/toy_vid_experiment.py) on a tiny
generated toy set: every stage runs for two iterations in its own process,
exactly as ``bash scripts/main.sh`` runs it, and writes its table, json and
plot. The AP figures of a 2-iteration model are meaningless: the test checks
the plumbing (and the object crops of the class warm start), not the gain.
"""
import json
import os.path as osp
import subprocess
import sys

import mmdet
import pytest
import torch

from mmstpn.projects.toy_vid import experiment
from mmstpn.projects.toy_vid.generator import generate_deteriorated_vid

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'misc', 'toy_vid_experiment.py')


def _load_script():
    # the procedure behind the script (the script is a thin main() wrapper)
    return experiment


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_vid'))
    generate_deteriorated_vid(
        root, num_train_videos=4, num_val_videos=2, seed=0)
    return root


def test_object_crops(tiny_set):
    crops, labels = _load_script()._object_crops(tiny_set, 48)
    with open(osp.join(tiny_set, 'train.json')) as f:
        data = json.load(f)
    bad = {i['id'] for i in data['images'] if i['deteriorated']}
    expected = [
        a['category_id'] - 1 for a in data['annotations']
        if a['image_id'] not in bad
    ]
    assert crops.shape == (len(expected), 3, 48, 48)
    assert labels.tolist() == expected
    # normalised like the data preprocessor: roughly zero mean, unit scale
    assert crops.mean().abs() < 2 and 0.05 < crops.std() < 3
    # the crop is centered on the object: its center differs from the
    # (smooth) background of the crop's corners
    center = crops[:, :, 20:28, 20:28].std((2, 3)).mean()
    corner = crops[:, :, :6, :6].std((2, 3)).mean()
    assert center > 2 * corner


def test_main_job_smoke(tiny_set, tmp_path):
    out = tmp_path / 'out'
    proc = subprocess.run(
        [
            sys.executable, SCRIPT, '--out-dir',
            str(out), '--data-dir', tiny_set, '--num-train-videos', '4',
            '--num-val-videos', '2', '--cls-pretrain-iters', '2',
            '--pretrain-iters', '2', '--iters', '2', '--cfg-options',
            'train_dataloader.batch_size=2'
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'using the toy set' in proc.stdout  # the fixture's set is reused
    assert 'stpn - base' in proc.stdout
    # the recipe (paper objective, key-frame corruption) is announced
    assert 'trained with the detection loss only' in proc.stdout
    with open(out / 'results.json') as f:
        results = json.load(f)
    for row in ('baseline', 'stpn', 'stpn_online_k4_s1'):
        for key in ('bbox_mAP_50', 'bbox_mAP_50_deteriorated',
                    'bbox_mAP_50_clean', 'bbox_mAP_50_fast',
                    'bbox_mAP_50_medium', 'bbox_mAP_50_slow'):
            assert 0 <= results[row][key] <= 1 or results[row][key] == -1
    assert results['timings']['total_s'] > 0
    # where it ran: this machine, and each worker on one thread
    env = results['environment']
    assert env['versions']['mmdet'] == mmdet.__version__
    assert sorted(env['workers']) == ['baseline', 'stpn']
    assert {w['threads']['torch'] for w in env['workers'].values()} == {1}
    assert (out / 'ap50.png').stat().st_size > 1000
    # the STPN run starts from the shared warm start, which starts from the
    # class warm start
    ckpt = torch.load(
        out / 'cls_pretrain' / 'backbone.pth', weights_only=True)
    assert all(k.startswith('backbone.') for k in ckpt['state_dict'])
    assert (out / 'pretrain' / 'iter_2.pth').exists()
    with open(out / 'pretrain' / 'recipe.json') as f:
        assert json.load(f)['backbone_lr_mult'] == 0.1
    assert (out / 'stpn' / 'iter_2.pth').exists()
    assert (out / 'baseline' / 'iter_2.pth').exists()


def test_data_check_and_layout(tmp_path, capsys):
    """The toy set is regenerated when the data dir holds one of other
    sizes, seed or layout (read from the jsons' ``info``), reused
    otherwise."""
    exp = _load_script()
    data = str(tmp_path / 'data')

    def args(*extra):
        return exp.parse_args(['--data-dir', data, '--num-train-videos', '3',
                               '--num-val-videos', '2', *extra])

    def info():
        with open(osp.join(data, 'train.json')) as f:
            return json.load(f)['info']

    assert 'no ' in exp.data_mismatch(args())
    assert exp.ensure_data(args()) is True
    assert info()['seed'] == 0 and 'layout' not in info()   # 'single'
    assert exp.ensure_data(args()) is False
    assert 'using the toy set' in capsys.readouterr().out
    assert exp.ensure_data(args('--toy-layout', 'multi')) is True
    assert "layout 'single', not 'multi'" in capsys.readouterr().out
    assert info()['layout'] == 'multi'
    assert exp.ensure_data(args('--toy-layout', 'multi')) is False
    # --seed sets the toy set's seed unless --data-seed is given
    assert 'seed 0, not 1' in exp.data_mismatch(
        args('--toy-layout', 'multi', '--seed', '1'))
    assert exp.data_mismatch(
        args('--toy-layout', 'multi', '--seed', '1', '--data-seed', '0')) \
        == ''
    assert 'videos 3, not 5' in exp.data_mismatch(
        args('--toy-layout', 'multi', '--num-train-videos', '5'))
    assert exp.ensure_data(args('--seed', '1')) is True
    assert (info()['seed'], info().get('layout', 'single')) == (1, 'single')


def test_stpn_cfg_options_reach_stpn_only(tmp_path):
    exp = _load_script()
    args = exp.parse_args([
        '--out-dir', str(tmp_path), '--cfg-options',
        'train_dataloader.batch_size=3', '--stpn-cfg-options',
        'model.type=PromptSupervisedFasterRCNN',
        'train_dataloader.batch_size=2'
    ])
    stpn = exp.load_cfg('stpn', args, 5, 'stpn')
    base = exp.load_cfg('baseline', args, 5, 'baseline')
    assert stpn.model.type == 'PromptSupervisedFasterRCNN'
    assert stpn.train_dataloader.batch_size == 2
    assert base.train_dataloader.batch_size == 3
    assert exp.load_cfg('stpn', exp.parse_args([]), 5,
                        'stpn').model.type == 'FasterRCNN'
    # the toy configs report AP50 on the clean frames, and so does the table
    assert stpn.test_evaluator.subset_complements == dict(
        clean='deteriorated')
    row = {k: 0.5 for _, k in exp.COLUMNS}
    lines = exp.table(dict(baseline=row, stpn=dict(
        row, bbox_mAP_50_clean=0.75), timings={}))
    assert 'clean' in lines[0]
    col = [c for c, _ in exp.COLUMNS].index('clean')
    assert lines[-1].split()[3 + col] == '+25.0'


def test_warm_start_trains_without_key_frame_corruption():
    """The fine-tunes' key-frame corruption is off for the shared warm start
    only: exactly that step is removed."""
    exp = _load_script()
    args = exp.parse_args([])
    for name in ('baseline', 'stpn'):
        pipeline = exp.load_cfg(name, args, 5, name).train_dataloader.\
            dataset.pipeline
        kept = exp.without_key_corruption(pipeline)
        assert [t['type'] for t in pipeline] == [
            'SupportFrameSample', 'TransformBroadcaster', 'RandomApply',
            'PackClipInputs']
        assert kept == [t for i, t in enumerate(pipeline) if i != 2]


def test_warm_start_backbone_lr_mult():
    """--pretrain-backbone-lr-mult scales every backbone parameter's lr
    (the Swin position-bias tables, which have their own custom key,
    included) and nothing else, in mmengine's optimizer constructor."""
    from mmengine.optim import build_optim_wrapper
    from mmdet.registry import MODELS
    exp = _load_script()
    args = exp.parse_args([])
    assert args.pretrain_backbone_lr_mult == 0.1
    cfg = exp.load_cfg('baseline', args, 10, 'pretrain')
    exp.scale_backbone_lr(cfg, 0.1)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base = cfg.optim_wrapper.optimizer.lr
    by_param = {id(p): g['lr'] for g in wrapper.optimizer.param_groups
                for p in g['params']}
    for name, param in model.named_parameters():
        want = base * (0.1 if name.startswith('backbone.') else 1.0)
        assert by_param[id(param)] == pytest.approx(want), name
    assert any('relative_position_bias_table' in n
               for n, _ in model.named_parameters())


def test_warm_start_reused_only_with_its_recipe(tmp_path, capsys,
                                                monkeypatch):
    exp = _load_script()
    args = exp.parse_args(['--out-dir', str(tmp_path), '--pretrain-iters',
                           '3'])
    ckpt = tmp_path / 'pretrain' / 'iter_3.pth'
    ckpt.parent.mkdir()
    ckpt.write_bytes(b'x')
    with open(tmp_path / 'pretrain' / 'recipe.json', 'w') as f:
        json.dump(exp.pretrain_recipe(args), f)
    exp.pretrain(args)  # same recipe: reused
    assert 'using' in capsys.readouterr().out and ckpt.exists()

    class Stop(Exception):
        pass

    def stop(*_):
        raise Stop

    monkeypatch.setattr(exp, 'class_pretrain', stop)
    other = exp.parse_args(['--out-dir', str(tmp_path), '--pretrain-iters',
                            '3', '--pretrain-backbone-lr-mult', '1'])
    with pytest.raises(Stop):  # another recipe: trained again
        exp.pretrain(other)
    assert "'backbone_lr_mult': 0.1" in capsys.readouterr().out
    assert not ckpt.exists()
