"""SELSA / Temporal RoI Align configs: the MMTracking zoo recipes (R-50 /
R-101 DC5) and SELSA, TRoI, STPN + SELSA on STPN's Swin-T recipe build,
keep their key settings, take their test-time policy through
VideoContextHook from the model, and (Swin-T) train and predict a clip."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import HOOKS, MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.structures import InstanceData

from mmstpn.engine import support_samplers
from mmstpn.structures import get_video_context
from mmstpn.structures import ClipBatch, ClipMeta, SupportPolicy

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
SWIN = 'faster-rcnn_swin-t-p4-w7_fpn_8xb1-9e_imagenet-vid.py'
CONFIGS = {
    'selsa_r50': 'selsa/selsa_faster-rcnn_r50-dc5_chmapper_8xb1-7e_'
    'imagenet-vid.py',
    'troi_r50': 'temporal_roi_align/troi_faster-rcnn_r50-dc5_chmapper_8xb1-'
    '7e_imagenet-vid.py',
    'selsa_swin': 'selsa/selsa_' + SWIN,
    'troi_swin': 'temporal_roi_align/troi_' + SWIN,
    'stpn_selsa_swin': 'selsa/stpn-selsa_' + SWIN,
}
SWIN_CONFIGS = ('selsa_swin', 'troi_swin', 'stpn_selsa_swin')


def load(name):
    return Config.fromfile(osp.join(REPO, 'configs', CONFIGS[name]))


def build(cfg):
    cfg.model.backbone.init_cfg = None  # never download in tests
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('name', list(CONFIGS))
def test_builds_and_follows_the_model_policy(name):
    cfg = load(name)
    model = build(cfg)
    assert type(model).__name__ == 'SELSA'
    assert type(model.data_preprocessor).__name__ == \
        'VideoDetDataPreprocessor'
    assert get_video_context(model).policy == SupportPolicy('offline', 14, 1)
    assert dict(type='VideoContextHook') in cfg.custom_hooks
    # the shipped test pipeline gets the policy from the model
    dataset = SimpleNamespace(
        pipeline=Compose(cfg.test_dataloader.dataset.pipeline))
    (sampler, ) = support_samplers(dataset)
    assert sampler.method == 'from_model'
    loop = SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset))
    HOOKS.build(dict(type='VideoContextHook')).before_test(
        SimpleNamespace(model=model, test_loop=loop))
    assert sampler.policy == SupportPolicy('offline', 14, 1)
    train = cfg.train_dataloader.dataset.datasets
    for ds in train:  # VID + DET, 2 reference frames from [t-9, t+9]
        first = ds.pipeline[0]
        assert (first.num_ref_imgs, first.frame_range,
                first.method) == (2, 9, 'bilateral_uniform')
    extractor = type(model.roi_head.bbox_roi_extractor).__name__
    assert extractor == ('TemporalRoIAlign'
                         if name.startswith('troi') else 'SingleRoIExtractor')
    assert model.roi_head.bbox_head.num_shared_fcs == (
        3 if name.startswith('troi') else 2)
    assert len(model.roi_head.bbox_head.aggregator) == \
        model.roi_head.bbox_head.num_shared_fcs
    assert model.roi_head.bbox_head.aggregator[0].num_attention_blocks == 16
    assert model.prompted == (name == 'stpn_selsa_swin')


def test_swin_recipes_share_stpn_backbone_data_and_schedule():
    stpn = Config.fromfile(osp.join(REPO, 'configs', 'stpn', 'stpn_' + SWIN))
    base = Config.fromfile(osp.join(REPO, 'configs', 'stpn', SWIN))
    m_base = build(base)
    for name in SWIN_CONFIGS:
        cfg = load(name)
        assert cfg.optim_wrapper == stpn.optim_wrapper
        assert cfg.train_cfg == stpn.train_cfg
        assert cfg.param_scheduler == stpn.param_scheduler
        assert cfg.train_dataloader == stpn.train_dataloader
        assert cfg.test_dataloader == stpn.test_dataloader
        bb = dict(cfg.model.backbone)
        want = dict(stpn.model.backbone)
        if name != 'stpn_selsa_swin':  # SELSA / TRoI: the baseline backbone
            want = dict(base.model.backbone)
        bb.pop('init_cfg'), want.pop('init_cfg')
        assert bb == want
    m_selsa = build(load('selsa_swin'))
    m_both = build(load('stpn_selsa_swin'))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(m_selsa.backbone) == count(m_base.backbone)
    assert count(m_both) == count(m_selsa) + 111_552  # + STPN's predictor


def sample(i):
    s = DetDataSample(
        metainfo=dict(
            img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64),
            batch_input_shape=(64, 64), scale_factor=(1., 1.)))
    s.gt_instances = InstanceData(
        bboxes=torch.tensor([[8., 10., 40., 50.]]) + i,
        labels=torch.tensor([3]))
    return s


@pytest.mark.parametrize('name', ['troi_swin', 'stpn_selsa_swin'])
def test_swin_models_train_and_predict(name):
    """The full-size Swin-T models (few RoIs) on a 64x64 clip: loss +
    backward, then an offline video (policy shrunk to K=2) whose frame 1
    uses the memory."""
    cfg = load(name)
    cfg.model.backbone.test_support = dict(mode='offline', num_support=2)
    # few RoIs: the 1024-wide FCs over 300 proposals x 3 frames dominate
    cfg.model.train_cfg.rpn_proposal.max_per_img = 20
    cfg.model.train_cfg.rcnn.sampler.num = 16
    cfg.model.test_cfg.rpn.max_per_img = 20
    model = build(cfg).train()
    g = torch.Generator().manual_seed(0)
    clips = torch.randn(1, 3, 3, 64, 64, generator=g)
    losses = model.loss(ClipBatch(clips, [ClipMeta('a', 3, 2)]), [sample(0)])
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    assert model.roi_head.bbox_head.aggregator[0].ref_fc.weight.grad.abs(
    ).sum() > 0
    if model.prompted:
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in model.backbone.predictor.parameters())
    model.eval()
    with torch.no_grad():
        model.predict(ClipBatch(clips, [ClipMeta('v', 0, 2)]), [sample(0)])
        (res, ) = model.predict(
            ClipBatch(clips[:, :1], [ClipMeta('v', 1, 0)]), [sample(0)])
    assert len(res.pred_instances) > 0
    assert model.video_context.slot('selsa')['v'].feats[0].shape[0] == 2
