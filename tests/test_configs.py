"""Every shipped config loads, builds its model with mmdet's registries and
keeps the released recipe's key settings."""
import glob
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'stpn', '*.py')))


def load(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'stpn', name))


def test_configs_found():
    assert len(CONFIGS) >= 6


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['mmstpn']
    model_cfg = cfg.model
    model_cfg.backbone.init_cfg = None  # never download in tests
    model = MODELS.build(model_cfg)
    # every STPN config, the toy one included (paper objective), uses the
    # stock detector
    assert type(model).__name__ == 'FasterRCNN'
    if 'toy-vid' in path:
        # the toy recipe's training-time key-frame corruption, for the
        # baseline and STPN alike (same data)
        step = cfg.train_dataloader.dataset.pipeline[2]
        assert step.type == 'RandomApply' and step.prob == 0.5
        assert step.transforms[0].type == 'ClipCorrupt'
        assert step.transforms[0].target == 'key'
    assert type(model.data_preprocessor).__name__ == \
        'VideoDetDataPreprocessor'
    backbone = model.backbone
    if cfg.model.backbone.get('num_prompts', 5) == 0:
        assert backbone.predictor is None
        assert cfg.test_dataloader.dataset.pipeline[0].num_ref_imgs == 0
    else:
        assert backbone.predictor is not None


def test_released_recipe_settings():
    cfg = load('stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py')
    bb = cfg.model.backbone
    assert (bb.embed_dims, tuple(bb.depths), tuple(bb.num_heads),
            bb.window_size, bb.drop_path_rate) == (96, (2, 2, 6, 2),
                                                    (3, 6, 12, 24), 7, 0.2)
    assert cfg.model.roi_head.bbox_head.num_classes == 30
    assert cfg.model.roi_head.bbox_head.bbox_coder.target_stds == [0.2] * 4
    assert cfg.model.train_cfg.rpn_proposal.max_per_img == 300
    assert cfg.model.test_cfg.rpn.max_per_img == 300
    assert cfg.model.train_cfg.rcnn.sampler.num == 256
    assert cfg.model.test_cfg.rcnn.score_thr == 1e-4
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 2.5e-5, 0.05)
    assert cfg.train_cfg.max_epochs == 9
    assert cfg.param_scheduler[1].milestones == [6]
    assert cfg.train_dataloader.batch_size == 1
    train = cfg.train_dataloader.dataset.datasets
    assert [d.get('load_as_video', True) for d in train] == [True, False]
    sample = train[0].pipeline[0]
    assert (sample.num_ref_imgs, sample.frame_range,
            sample.method) == (2, 9, 'bilateral_uniform')
    test = cfg.test_dataloader.dataset.pipeline[0]
    assert test.method == 'from_model'  # the policy lives on the backbone
    assert cfg.model.backbone.test_support == dict(
        mode='offline', num_support=14)
    assert dict(type='VideoContextHook') in cfg.custom_hooks


def test_online_config_differs_in_the_policy_only():
    offline = load('stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py')
    online = load(
        'stpn-online_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py')
    assert online.model.backbone.test_support == dict(
        mode='online', num_support=14, stride=4)
    online.model.backbone.test_support = offline.model.backbone.test_support
    assert online.to_dict() == offline.to_dict()


def test_baseline_differs_from_stpn_only_in_prompts():
    stpn = load('stpn_faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py')
    base = load('faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py')
    for cfg in (stpn, base):
        cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    m_stpn = MODELS.build(stpn.model)
    torch.manual_seed(0)
    m_base = MODELS.build(base.model)
    n_pred = sum(p.numel() for p in m_stpn.backbone.predictor.parameters())
    assert n_pred == 111_552
    assert sum(p.numel() for p in m_stpn.parameters()) == \
        sum(p.numel() for p in m_base.parameters()) + n_pred
    assert stpn.optim_wrapper == base.optim_wrapper
    assert stpn.train_cfg == base.train_cfg
    for a, b in zip(stpn.train_dataloader.dataset.datasets,
                    base.train_dataloader.dataset.datasets):
        assert a.pipeline[1:] == b.pipeline[1:]
        assert a.ann_file == b.ann_file
