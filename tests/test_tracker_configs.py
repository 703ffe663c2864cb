"""The STPN tracker configs: mmdet's configs with only backbone (+ neck
in_channels), data preprocessor and pipelines changed; baselines differ in
the prompts only."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
VIS = 'masktrack_rcnn/{}masktrack-rcnn_mask-rcnn_swin-t-p4-w7_fpn_8xb1-12e_' \
    'youtubevis{}.py'
MMDET_VIS = 'mmdet::masktrack_rcnn/masktrack-rcnn_mask-rcnn_r50_fpn_8xb1-' \
    '12e_youtubevis{}.py'
QDTRACK = 'qdtrack/stpn-qdtrack_faster-rcnn_swin-t-p4-w7_fpn_8xb2-4e_' \
    'mot17halftrain_test-mot17halfval.py'
BYTETRACK = 'bytetrack/stpn-bytetrack_faster-rcnn_swin-t-p4-w7_fpn_8xb2-' \
    '12e_mot17halftrain_test-mot17halfval.py'


MMDET_CONFIGS = osp.join(osp.dirname(__import__('mmdet').__file__), '.mim',
                         'configs')


def plain(obj):
    """A config value without mmengine's ``_scope_`` markers (added to
    values inherited through ``mmdet::``)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj)
    return obj


def load(name):
    if name.startswith('mmdet::'):
        return Config.fromfile(osp.join(MMDET_CONFIGS, name[7:]))
    return Config.fromfile(osp.join(ROOT, name))


@pytest.mark.parametrize('version', ['2019', '2021'])
def test_masktrack_configs_change_only_backbone_preprocessor_pipeline(
        version):
    stpn, stock = load(VIS.format('stpn-', version)), load(
        MMDET_VIS.format(version))
    assert stpn.model.type == 'STPNMaskTrackRCNN'
    for key in ('track_head', 'tracker'):
        assert plain(stpn.model[key]) == plain(stock.model[key])
    sd, md = stpn.model.detector, stock.model.detector
    for key in ('rpn_head', 'roi_head', 'train_cfg', 'test_cfg'):
        assert plain(sd[key]) == plain(md[key])
    assert sd.neck.in_channels == [96, 192, 384, 768]
    assert sd.backbone.type == 'STPNSwin'
    ds, ms = stpn.train_dataloader, stock.train_dataloader
    assert plain(ds.sampler) == plain(ms.sampler)
    assert ds.batch_size == ms.batch_size
    assert ds.dataset.ann_file == ms.dataset.ann_file
    assert ds.dataset.dataset_version == version
    assert plain(stpn.val_dataloader.sampler) == plain(
        stock.val_dataloader.sampler)
    assert plain(stpn.param_scheduler) == plain(stock.param_scheduler)
    assert plain(stpn.train_cfg) == plain(stock.train_cfg)
    assert dict(type='VideoContextHook') in stpn.custom_hooks
    # the baseline: prompts off, everything else equal
    base = load(VIS.format('', version))
    assert base.model.detector.backbone.num_prompts == 0
    base.model.detector.backbone.update(num_prompts=5,
                                        predictor=sd.backbone.predictor)
    assert plain(base.to_dict()) == plain(stpn.to_dict())


@pytest.mark.parametrize('name', [VIS.format('stpn-', '2019'), QDTRACK,
                                  BYTETRACK])
def test_tracker_configs_build(name):
    register_all_modules()
    cfg = load(name)
    cfg.model.detector.init_cfg = None
    cfg.model.detector.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert type(model).__name__.startswith('STPN')
    assert model.detector.backbone.num_prompts == 5


def test_qdtrack_and_bytetrack_keep_mmdets_tracker():
    qd = load(QDTRACK)
    stock = load('mmdet::qdtrack/qdtrack_faster-rcnn_r50_fpn_8xb2-4e_'
                 'mot17halftrain_test-mot17halfval.py')
    assert plain(qd.model.track_head) == plain(stock.model.track_head)
    assert plain(qd.model.tracker) == plain(stock.model.tracker)
    assert plain(qd.model.detector.roi_head) == plain(
        stock.model.detector.roi_head)
    assert plain(qd.val_dataloader.sampler) == plain(
        stock.val_dataloader.sampler)
    bt = load(BYTETRACK)
    stock = load('mmdet::bytetrack/bytetrack_yolox_x_8xb4-80e_crowdhuman-'
                 'mot17halftrain_test-mot17halfval.py')
    assert plain(bt.model.tracker) == plain(stock.model.tracker)
    assert bt.model.detector.type == 'FasterRCNN'
    assert bt.model.detector.roi_head.bbox_head.num_classes == 1
    assert plain(bt.val_evaluator) == plain(stock.val_evaluator)
