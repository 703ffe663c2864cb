"""mmdet's own Faster / Mask R-CNN configs with only the backbone (and the
neck's in_channels) replaced by an STPN backbone, on synthetic 5-D clips;
STPNViT's neck is the simple feature pyramid followed by the stock FPN."""
import copy
import os.path as osp

import mmdet
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config

from tests.conftest import TINY_SWIN, TINY_VIT, TINY_VIT_PYRAMID

STOCK = {
    'faster': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mask': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
}
BACKBONES = {
    'swin': (TINY_SWIN, [16, 32, 64, 128]),
    'vit': (TINY_VIT, [8, 16, 32, 32]),
}


def stock_detector_cfg(kind: str, backbone: str):
    """mmdet's stock model config with the tiny STPN backbone."""
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                    STOCK[kind])
    cfg = Config.fromfile(path).model
    bb, channels = BACKBONES[backbone]
    cfg.backbone = copy.deepcopy(bb)
    cfg.neck.in_channels = channels
    if backbone == 'vit':
        cfg.neck = [copy.deepcopy(TINY_VIT_PYRAMID), cfg.neck]
    cfg.roi_head.bbox_head.num_classes = 3
    if kind == 'mask':
        cfg.roi_head.mask_head.num_classes = 3
    cfg.test_cfg.rcnn.score_thr = 0.0
    return cfg


def stock_detector(kind: str, backbone: str):
    model = MODELS.build(stock_detector_cfg(kind, backbone))
    model.init_weights()
    assert type(model).__name__ == ('FasterRCNN' if kind == 'faster' else
                                    'MaskRCNN')
    return model


def clips_and_samples(with_mask: bool, k: int = 2):
    packed = demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, 96, 128), (3, 96, 128)],
        num_items=[2, 3],
        num_classes=3,
        with_mask=with_mask)
    samples = packed['data_samples']
    for s in samples:
        s.set_metainfo(dict(batch_input_shape=(96, 128), pad_shape=(96, 128)))
    clips = torch.randn(2, 1 + k, 3, 96, 128)
    return clips, samples


@pytest.mark.parametrize('backbone', sorted(BACKBONES))
@pytest.mark.parametrize('kind', sorted(STOCK))
def test_stock_detector_trains_and_predicts_on_clips(kind, backbone):
    model = stock_detector(kind, backbone)
    clips, samples = clips_and_samples(with_mask=kind == 'mask')
    model.train()
    losses = model.loss(clips, samples)
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    pred = model.backbone.predictor
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in pred.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.roi_head.parameters())

    model.eval()
    with torch.no_grad():
        results = model.predict(clips, copy.deepcopy(samples))
    assert len(results) == 2
    for r in results:
        inst = r.pred_instances
        assert inst.bboxes.shape[1] == 4
        assert len(inst.scores) == len(inst.labels) == len(inst.bboxes)
        if kind == 'mask':
            assert inst.masks.shape[0] == len(inst.bboxes)
