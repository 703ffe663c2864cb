"""TrackCenterHead decoding / targets / losses and the crop helpers,
against hand-computed cases."""
import math

import mmcv
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS

from mmstpn.models.sot import (OneStreamTracker, clip_box, crop_resize,
                               hann2d, square_region)


def head():
    return MODELS.build(
        dict(type='TrackCenterHead', in_channels=8, feat_channels=8,
             num_convs=2))


def test_hann2d_formula():
    win = hann2d(4, 3)
    hann = [[0.5 - 0.5 * math.cos(2 * math.pi * k / (n + 1))
             for k in range(1, n + 1)] for n in (4, 3)]
    exp = torch.tensor(hann[0])[:, None] * torch.tensor(hann[1])[None]
    torch.testing.assert_close(win, exp)
    assert win.min() > 0


def test_hanning_window_moves_the_peak_hand_computed():
    score = torch.full((1, 1, 4, 4), 0.1)
    score[0, 0, 0, 0] = 0.9  # corner: damped by the window
    score[0, 0, 1, 2] = 0.5  # near the center
    offset = torch.zeros(1, 2, 4, 4)
    size = torch.zeros(1, 2, 4, 4)
    offset[0, :, 1, 2] = torch.tensor([0.25, 0.5])
    size[0, :, 1, 2] = torch.tensor([0.5, 0.25])
    offset[0, :, 0, 0] = torch.tensor([0.5, 0.5])
    size[0, :, 0, 0] = torch.tensor([0.1, 0.1])
    h = head()
    # window of 4: 0.5 - 0.5 cos(2 pi k / 5), k = 1..4: corner 0.3455^2 =
    # 0.119 * 0.9 = 0.107 < 0.9045 * 0.9045 * 0.5 = 0.409
    box, peak = h.decode(score, offset, size, hann2d(4, 4))
    cx, cy = (2 + 0.25) / 4, (1 + 0.5) / 4
    torch.testing.assert_close(
        box, torch.tensor([[cx - 0.25, cy - 0.125, cx + 0.25, cy + 0.125]]))
    assert peak.item() == pytest.approx(0.5)
    box, peak = h.decode(score, offset, size)  # no window: the corner
    torch.testing.assert_close(
        box, torch.tensor([[0.125 - 0.05, 0.125 - 0.05, 0.175, 0.175]]))
    assert peak.item() == pytest.approx(0.9)


def test_targets_and_perfect_prediction():
    h = head()
    gt = torch.tensor([[0.30, 0.40, 0.60, 0.90]])  # center (0.45, 0.65)
    heat, ix, iy = h.targets(gt, (4, 4))
    # center cell: floor(0.45 * 4) = 1, floor(0.65 * 4) = 2
    assert (ix.item(), iy.item()) == (1, 2)
    assert heat[0, 0, 2, 1] == 1 and heat.max() == 1
    assert heat.eq(1).sum() == 1
    offset = torch.zeros(1, 2, 4, 4)
    size = torch.zeros(1, 2, 4, 4)
    offset[0, :, 2, 1] = torch.tensor([0.45 * 4 - 1, 0.65 * 4 - 2])
    size[0, :, 2, 1] = torch.tensor([0.3, 0.5])
    torch.testing.assert_close(h.boxes_at(offset, size, ix, iy), gt)


def test_loss_values_and_gradients():
    h = head()
    h.init_weights()
    tokens = torch.randn(2, 16, 8, requires_grad=True)
    gt = torch.tensor([[0.1, 0.2, 0.5, 0.6], [0.4, 0.4, 0.9, 0.7]])
    losses = h.loss(tokens, (4, 4), gt)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_l1'}
    # L1 (weight 5) by hand at the true center cells
    score, offset, size = h(tokens, (4, 4))
    _, ix, iy = h.targets(gt, (4, 4))
    boxes = h.boxes_at(offset, size, ix, iy)
    assert losses['loss_l1'].item() == pytest.approx(
        5 * (boxes - gt).abs().mean().item(), rel=1e-5)
    sum(losses.values()).backward()
    assert tokens.grad.abs().sum() > 0


def test_square_region_matches_the_training_crop_rule():
    # w=20, h=40: side ceil(sqrt(800) * 2) = 57, center (20, 40):
    # left floor(20 - 28.5 + 0.5) = -8, top floor(40 - 28.5 + 0.5) = 12
    assert square_region([10, 20, 30, 60], 2.0) == [-8, 12, 49, 69]


def test_crop_resize_against_a_padded_canvas_and_cv2():
    rng = np.random.RandomState(0)
    img = rng.rand(10, 12, 3).astype(np.float32)
    region = [-3, -4, 15, 14]  # beyond every side: side 18
    canvas = np.ones((18, 18, 3), np.float32) * img.reshape(-1, 3).mean(0)
    canvas[4:14, 3:15] = img
    for size in (9, 36):  # down- and upscaled
        ref = mmcv.imresize(canvas, (size, size))
        out = crop_resize(
            torch.from_numpy(img).permute(2, 0, 1), region, size)
        np.testing.assert_allclose(
            out.permute(1, 2, 0).numpy(), ref, atol=1e-4)


def test_crop_to_image_and_clip_hand_computed():
    # region side 40 at (-10, 5): normalised (0.25, 0.5, 0.75, 1.0)
    box = OneStreamTracker.crop_to_image(
        torch.tensor([0.25, 0.5, 0.75, 1.0]), [-10, 5, 30, 45])
    torch.testing.assert_close(box, torch.tensor([0., 25., 20., 45.]))
    clipped = clip_box(torch.tensor([-5., 10., 20., 60.]), 30, 40)
    torch.testing.assert_close(clipped, torch.tensor([0., 10., 20., 40.]))
    # entirely outside on the right: widened to 1 px inside the image
    thin = clip_box(torch.tensor([35., 10., 50., 20.]), 30, 40)
    torch.testing.assert_close(thin, torch.tensor([29., 10., 30., 20.]))
