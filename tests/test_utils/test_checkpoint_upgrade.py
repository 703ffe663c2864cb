"""upgrade_state_dict and tools/model_converters/upgrade_mmstpn_checkpoint.py:
a detection STPNViT checkpoint of the former layout (pyramid inside the
backbone, FPN as the neck) loads strictly into neck=[SimpleFeaturePyramid,
FPN] and gives the same detector outputs; other layouts are left alone."""
import copy
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from collections import OrderedDict

import mmdet
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config

from mmstpn.utils import upgrade_state_dict
from tests.conftest import TINY_SWIN, TINY_VIT, TINY_VIT_PYRAMID

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'model_converters',
                'upgrade_mmstpn_checkpoint.py')


def former_layout(state_dict, prefix=''):
    """The inverse map, written out: ``neck.0.levels.*`` ->
    ``backbone.pyramid.*``, ``neck.1.*`` -> ``neck.*`` (under ``prefix``)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        rest = key[len(prefix):]
        if rest.startswith('neck.0.levels.'):
            key = prefix + 'backbone.pyramid.' + rest[len('neck.0.levels.'):]
        elif rest.startswith('neck.1.'):
            key = prefix + 'neck.' + rest[len('neck.1.'):]
        elif rest.startswith('neck.'):
            raise AssertionError(f'unexpected key {key}')
        out[key] = value
    return out


def detector(seed, backbone=TINY_VIT):
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                    'faster_rcnn', 'faster-rcnn_r50_fpn_1x_coco.py')
    cfg = Config.fromfile(path).model
    cfg.backbone = copy.deepcopy(backbone)
    if backbone is TINY_VIT:
        cfg.neck.in_channels = [8, 16, 32, 32]
        cfg.neck = [copy.deepcopy(TINY_VIT_PYRAMID), cfg.neck]
    else:
        cfg.neck.in_channels = [16, 32, 64, 128]
    cfg.roi_head.bbox_head.num_classes = 3
    cfg.test_cfg.rcnn.score_thr = 0.0
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def outputs(model):
    """Neck maps, detections and training losses on fixed clips."""
    packed = demo_mm_inputs(
        batch_size=2, image_shapes=[(3, 96, 128)] * 2, num_items=[2, 3],
        num_classes=3)
    samples = packed['data_samples']
    for s in samples:
        s.set_metainfo(dict(batch_input_shape=(96, 128), pad_shape=(96, 128)))
    clips = torch.randn(2, 3, 3, 96, 128,
                        generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(clips)
        preds = model.predict(clips, copy.deepcopy(samples))
    model.train()
    torch.manual_seed(5)
    losses = model.loss(clips, samples)
    flat = list(feats)
    for p in preds:
        flat += [p.pred_instances.bboxes, p.pred_instances.scores]
    for name in sorted(losses):
        value = losses[name]
        flat += list(value) if isinstance(value, list) else [value]
    return [t.detach() for t in flat]


def test_former_detection_vit_checkpoint_loads_with_identical_outputs():
    trained = detector(seed=0)
    current = trained.state_dict()
    old = former_layout(current)
    assert any(k.startswith('backbone.pyramid.0.') for k in old)
    assert not any(k.startswith('neck.0.') for k in old)
    upgraded = upgrade_state_dict(old)
    assert list(upgraded) == list(current)
    fresh = detector(seed=1)  # other weights until loaded
    assert not torch.equal(fresh.state_dict()['neck.0.levels.1.weight'],
                           current['neck.0.levels.1.weight'])
    fresh.load_state_dict(upgraded, strict=True)
    ref, got = outputs(trained), outputs(fresh)
    assert len(got) == len(ref) > 10
    assert all(torch.equal(a, b) for a, b in zip(got, ref))


def test_other_layouts_are_returned_unchanged():
    swin = detector(seed=0, backbone=TINY_SWIN).state_dict()
    assert upgrade_state_dict(swin) is swin
    current = detector(seed=0).state_dict()
    assert upgrade_state_dict(current) is current
    tracker = OrderedDict([('backbone.pos_embed', torch.zeros(1)),
                           ('backbone.pos_embed_template', torch.zeros(1)),
                           ('head.cls_branch.0.weight', torch.zeros(1))])
    assert upgrade_state_dict(tracker) is tracker


def test_model_prefixes_and_mixed_layouts():
    """A model holding a detector (``detector.``) is mapped under its
    prefix only; keys of both layouts under one prefix are an error."""
    sd = OrderedDict([
        ('detector.backbone.pyramid.1.weight', torch.ones(1)),
        ('detector.neck.lateral_convs.0.conv.weight', torch.ones(2)),
        ('detector.backbone.norm.weight', torch.ones(3)),
        ('neck.convs.0.weight', torch.ones(4)),  # another model: untouched
    ])
    out = upgrade_state_dict(sd)
    assert list(out) == [
        'detector.neck.0.levels.1.weight',
        'detector.neck.1.lateral_convs.0.conv.weight',
        'detector.backbone.norm.weight', 'neck.convs.0.weight'
    ]
    assert all(a is b for a, b in zip(out.values(), sd.values()))
    mixed = OrderedDict([('backbone.pyramid.0.0.weight', torch.ones(1)),
                         ('neck.1.fpn_convs.0.conv.weight', torch.ones(1))])
    with pytest.raises(ValueError, match=r'backbone.pyramid.*neck.1.fpn'):
        upgrade_state_dict(mixed)


def _tool():
    spec = importlib.util.spec_from_file_location('upgrade_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_converter_script(tmp_path, capsys):
    current = detector(seed=0).state_dict()
    src, dst = tmp_path / 'old.pth', tmp_path / 'new.pth'
    torch.save(
        dict(meta=dict(epoch=3, dataset_meta=dict(classes=('a', 'b'))),
             state_dict=former_layout(current),
             optimizer=dict(state={}, param_groups=[])), src)
    _tool().main([str(src), str(dst)])
    assert 'detection ViT layout upgraded' in capsys.readouterr().out
    saved = torch.load(dst, weights_only=True)
    assert set(saved) == {'meta', 'state_dict'}  # no optimizer: load_from
    assert saved['meta']['epoch'] == 3
    assert list(saved['state_dict']) == list(current)
    assert all(
        torch.equal(saved['state_dict'][k], v) for k, v in current.items())

    # a checkpoint in the current layout is copied byte for byte, here from
    # the command line (the script needs no sys.path edits)
    swin_src, swin_dst = tmp_path / 'swin.pth', tmp_path / 'swin_out.pth'
    torch.save(dict(state_dict=detector(0, TINY_SWIN).state_dict()),
               swin_src)
    env = dict(os.environ, PYTHONPATH=REPO)
    run = subprocess.run([sys.executable, TOOL, str(swin_src), str(swin_dst)],
                         capture_output=True, text=True, env=env, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert 'already in the current layout' in run.stdout
    assert swin_dst.read_bytes() == swin_src.read_bytes()
