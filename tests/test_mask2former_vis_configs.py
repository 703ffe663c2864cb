"""The Mask2FormerVideo and MinVIS configs: mmdet's recipes with only the
backbone (+ its widths), initialisation, data preprocessor and pipelines
changed; each baseline differs from its STPN config in the prompts only;
2021 differs from 2019 in the data and schedule only."""
import os.path as osp

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
M2F = 'configs/mask2former_vis/'
MINVIS = 'configs/minvis/'
SHARED_SWIN_T = ('mask_rcnn_swin-t-p4-w7_fpn_1x_coco/'
                 'mask_rcnn_swin-t-p4-w7_fpn_1x_coco_20210902_120937'
                 '-9d6b7cfa.pth')


MMDET_CONFIGS = osp.join(osp.dirname(__import__('mmdet').__file__), '.mim',
                         'configs')


def load(path):
    if path.startswith('mmdet::'):
        return Config.fromfile(osp.join(MMDET_CONFIGS, path[len('mmdet::'):]))
    return Config.fromfile(osp.join(REPO, path))


def plain(value):
    """A config value without mmengine's ``_scope_`` marks."""
    if hasattr(value, 'to_dict'):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def backbone(cfg):
    m = cfg.model
    return m.backbone if 'backbone' in m else m.detector.backbone


@pytest.mark.parametrize('year', ['2019', '2021'])
def test_m2f_config_keeps_mmdets_recipe(year):
    cfg = load(M2F + f'stpn-mask2former_swin-t-p4-w7_8xb2-8e_youtubevis'
               f'{year}.py')
    ref = load(f'mmdet::mask2former_vis/mask2former_r50_8xb2-8e_'
               f'youtubevis{year}.py')
    assert cfg.model.type == 'STPNMask2FormerVideo'
    head, ref_head = plain(cfg.model.track_head), \
        plain(ref.model.track_head)
    assert head.pop('in_channels') == [96, 192, 384, 768]
    ref_head.pop('in_channels')
    assert head == ref_head  # losses, matcher, decoder: mmdet's
    for key in ('param_scheduler', 'train_cfg'):
        assert plain(cfg[key]) == plain(ref[key])
    assert cfg.train_dataloader.dataset.ann_file == \
        ref.train_dataloader.dataset.ann_file
    bb = backbone(cfg)
    assert bb.type == 'STPNSwin' and bb.num_prompts == 5
    assert bb.init_cfg.prefix == 'backbone.'
    assert bb.init_cfg.checkpoint.endswith(SHARED_SWIN_T)
    assert cfg.model.init_cfg is None
    assert cfg.train_dataloader.dataset.pipeline[0].num_ref_imgs + 1 == \
        cfg.model.track_head.num_frames


@pytest.mark.parametrize('year', ['2019', '2021'])
def test_minvis_config_is_mmdets_image_mask2former(year):
    cfg = load(MINVIS + f'stpn-minvis_mask2former_swin-t-p4-w7_8xb2-8e_'
               f'youtubevis{year}.py')
    m2f = load(M2F + f'stpn-mask2former_swin-t-p4-w7_8xb2-8e_youtubevis'
               f'{year}.py')
    ref = load('mmdet::mask2former/'
               'mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco.py')
    det = cfg.model.detector
    assert cfg.model.type == 'MinVIS' and det.type == 'Mask2Former'
    head, ref_head = plain(det.panoptic_head), \
        plain(ref.model.panoptic_head)
    assert head.pop('num_things_classes') == 40
    ref_head.pop('num_things_classes')
    head['loss_cls'].pop('class_weight')
    ref_head['loss_cls'].pop('class_weight')
    assert head == ref_head
    assert plain(backbone(cfg)) == plain(backbone(m2f))  # one STPNSwin-T
    # single frames, the same data and schedule as the video model
    assert cfg.train_dataloader.dataset.pipeline[0].num_ref_imgs == 0
    for key in ('ann_file', 'data_root', 'dataset_version'):
        assert cfg.train_dataloader.dataset[key] == \
            m2f.train_dataloader.dataset[key]
        assert cfg.test_dataloader.dataset[key] == \
            m2f.test_dataloader.dataset[key]
    assert plain(cfg.test_dataloader.dataset.pipeline) == \
        plain(m2f.test_dataloader.dataset.pipeline)
    assert plain(cfg.param_scheduler) == plain(m2f.param_scheduler)
    assert cfg.train_cfg.max_iters == m2f.train_cfg.max_iters


@pytest.mark.parametrize('stpn, base', [
    (M2F + 'stpn-mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2019.py',
     M2F + 'mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2019.py'),
    (M2F + 'stpn-mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2021.py',
     M2F + 'mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2021.py'),
    (M2F + 'stpn-mask2former_swin-toy-p4-w4_1xb2-1000i_toy-vis.py',
     M2F + 'mask2former_swin-toy-p4-w4_1xb2-1000i_toy-vis.py'),
    (MINVIS + 'stpn-minvis_mask2former_swin-t-p4-w7_8xb2-8e_'
     'youtubevis2019.py',
     MINVIS + 'minvis_mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2019.py'),
    (MINVIS + 'stpn-minvis_mask2former_swin-t-p4-w7_8xb2-8e_'
     'youtubevis2021.py',
     MINVIS + 'minvis_mask2former_swin-t-p4-w7_8xb2-8e_youtubevis2021.py'),
    (MINVIS + 'stpn-minvis_swin-toy-p4-w4_1xb2-1000i_toy-vis.py',
     MINVIS + 'minvis_swin-toy-p4-w4_1xb2-1000i_toy-vis.py'),
])
def test_baseline_differs_in_the_prompts_only(stpn, base):
    a, b = load(stpn).to_dict(), load(base).to_dict()
    ba = a['model'].get('backbone') or a['model']['detector']['backbone']
    bb = b['model'].get('backbone') or b['model']['detector']['backbone']
    assert (ba.pop('num_prompts'), bb.pop('num_prompts')) == (5, 0)
    assert ba.pop('predictor') is not None and bb.pop('predictor') is None
    assert a == b


@pytest.mark.parametrize('path', [
    M2F + 'stpn-mask2former_swin-toy-p4-w4_1xb2-1000i_toy-vis.py',
    MINVIS + 'stpn-minvis_swin-toy-p4-w4_1xb2-1000i_toy-vis.py'
])
def test_toy_configs_build_with_the_toy_recipe(path):
    import mmstpn  # noqa: F401
    cfg = load(path)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ in ('STPNMask2FormerVideo', 'MinVIS')
    # the key-frame corruption of the toy recipe, after loading
    step = cfg.train_dataloader.dataset.pipeline[2]
    assert step.type == 'RandomApply'
    assert step.transforms[0].target == 'key'
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys['backbone.prompt_generator.predictor'] == dict(lr_mult=10.)
    # the predictor's parameters really are under that key
    names = [n for n, _ in model.named_parameters() if 'predictor' in n]
    assert names and all('backbone.prompt_generator.predictor' in n
                         for n in names)
