"""PackSOTInputs -> pseudo_collate -> SOTDataPreprocessor -> the tracker's
train_step, and the GOT-10k tracker configs."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS, TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmstpn.structures import ClipBatch
from .sot_utils import tiny_tracker

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def cropped_item(num_support, video_id=3, search_frame=9):
    """What SOTPairSample + SOTCropRegion give (dict of per-frame lists)."""
    rng = np.random.RandomState(num_support)
    roles = ['template', 'search'] + ['support'] * num_support
    n = len(roles)
    imgs = [rng.randint(0, 255, (32, 32, 3), np.uint8)] + [
        rng.randint(0, 255, (64, 64, 3), np.uint8) for _ in range(n - 1)
    ]
    return dict(
        img=imgs,
        img_id=list(range(n)),
        img_shape=[i.shape[:2] for i in imgs],
        frame_id=[2, search_frame] + list(range(search_frame - num_support,
                                                search_frame)),
        video_id=[video_id] * n,
        video_name=[f'GOT_{video_id}'] * n,
        frame_role=roles,
        num_support=[num_support] * n,
        gt_bboxes=[np.array([[8., 8., 24., 24.]], np.float32)] +
        [np.array([[20., 16., 44., 40.]], np.float32)] * (n - 1),
        gt_bboxes_labels=[np.zeros(1, np.int64)] * n)


def test_pack_collate_preprocess_train_step():
    pack = TRANSFORMS.build(dict(type='PackSOTInputs'))
    items = [pack(cropped_item(2)), pack(cropped_item(0, video_id=5))]
    assert items[0]['inputs']['template'].shape == (1, 3, 32, 32)
    assert items[0]['inputs']['search'].shape == (3, 3, 64, 64)
    frames = items[0]['data_samples'].video_data_samples
    assert [f.frame_role for f in frames] == ['template', 'search',
                                              'support', 'support']
    data = pseudo_collate(items)
    model = tiny_tracker()
    pre = MODELS.build(
        dict(type='SOTDataPreprocessor', mean=[10., 20., 30.],
             std=[2., 2., 2.], bgr_to_rgb=True))
    out = pre(data, training=True)
    clips = out['inputs']['search']
    assert isinstance(clips, ClipBatch) and clips.frames.shape == (2, 3, 3,
                                                                   64, 64)
    assert [(m.video_key, m.frame_id, m.num_support)
            for m in clips.metas] == [(3, 9, 2), (5, 9, 0)]
    assert clips.frames[1, 1:].abs().sum() == 0  # padding
    # BGR -> RGB, then (x - mean) / std, per channel
    raw = items[0]['inputs']['search'][1].float()
    exp = (raw[[2, 1, 0]] - torch.tensor([10., 20., 30.]).view(3, 1, 1)) / 2
    torch.testing.assert_close(clips.frames[0, 1], exp)
    assert out['inputs']['template'].shape == (2, 3, 32, 32)
    # the whole training step of the runner
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log = model.train_step(data, optim)
    assert {'loss', 'loss_cls', 'loss_bbox', 'loss_l1'} <= set(log)


def test_pack_rejects_a_wrong_frame_order():
    item = cropped_item(1)
    item['frame_role'] = ['search', 'template', 'support']
    with pytest.raises(ValueError, match="GOT_3.*frame_role"):
        TRANSFORMS.build(dict(type='PackSOTInputs'))(item)


def test_test_inputs_go_through_track_data_preprocessor():
    pre = MODELS.build(dict(type='SOTDataPreprocessor', mean=[0.] * 3,
                            std=[1.] * 3))
    frame = torch.randint(0, 255, (1, 3, 40, 50), dtype=torch.uint8)
    out = pre(dict(inputs=[frame], data_samples=None))
    assert out['inputs'].shape == (1, 1, 3, 40, 50)


@pytest.mark.parametrize('name,prompts', [
    ('stpn_one-stream_vit-b-p16_4xb32-100e_got10k.py', 5),
    ('one-stream_vit-b-p16_4xb32-100e_got10k.py', 0),
])
def test_tracker_configs_build(name, prompts):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'stpn_sot', name))
    assert cfg.custom_imports.imports == ['mmstpn']
    assert dict(type='VideoContextHook') in cfg.custom_hooks
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'OneStreamTracker'
    bb = model.backbone
    assert (bb.embed_dims, len(bb.blocks), bb.template_size,
            bb.num_prompts) == (768, 12, 128, prompts)
    assert all(b.window_size == 0 for b in bb.blocks)
    assert (bb.predictor is None) == (prompts == 0)
    assert bb.test_support.mode == 'online'
    train = cfg.train_dataloader.dataset.dataset
    assert train.type == 'GOT10kDataset' and train.ann_file == \
        'train/list.txt'
    steps = [t['type'] for t in train.pipeline]
    assert steps == ['SOTPairSample', 'TransformBroadcaster',
                     'SOTCropRegion', 'PackSOTInputs']
    assert train.pipeline[0].get('num_support', 0) == (3 if prompts else 0)
    assert cfg.val_dataloader.sampler.type == 'TrackImgSampler'
    assert cfg.val_dataloader.batch_size == 1
    assert cfg.val_evaluator.type == 'GOT10kMetric'
