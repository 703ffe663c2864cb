"""Center head of a one-stream tracker: score map + offset + size."""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.utils import gaussian_radius, gen_gaussian_target
from mmdet.registry import MODELS
from mmengine.model import BaseModule, bias_init_with_prob
from torch import Tensor


def hann2d(height: int, width: int, device=None) -> Tensor:
    """Centered 2-D Hanning window: the outer product of
    ``hann(n + 2)[1:-1]`` (no zero rows / columns at the border), with
    ``hann(m)[k] = 0.5 - 0.5 cos(2 pi k / (m - 1))``.

    Args:
        height (int): Rows h.
        width (int): Columns w.
        device (torch.device, optional): Device of the window.

    Returns:
        Tensor: (h, w) float32 window, values in (0, 1].
    """

    def one(n: int) -> Tensor:
        return torch.hann_window(
            n + 2, periodic=False, dtype=torch.float32, device=device)[1:-1]

    return one(height)[:, None] * one(width)[None, :]


@MODELS.register_module()
class TrackCenterHead(BaseModule):
    """Center head on the search tokens of a one-stream tracker.

    Three conv towers on the (B, C, h, w) search map (each ``num_convs``
    3x3 ConvModules, widths ``feat_channels / 2**i``, then a 1x1 conv):

    - score: (B, 1, h, w) target-center probability (sigmoid);
    - offset: (B, 2, h, w) sub-cell center offset ``(dx, dy)`` in [0, 1];
    - size: (B, 2, h, w) box ``(w, h)`` as a fraction of the search crop.

    Box of cell ``(i, j)``: center ``((j + dx) / w, (i + dy) / h)``, size
    ``(sw, sh)``; all boxes are ``x1, y1, x2, y2`` normalised by the search
    crop side.

    Training (:meth:`loss`): a Gaussian heatmap target around the true
    center cell (mmdet's ``gaussian_radius`` / ``gen_gaussian_target``,
    ``min_overlap``) for ``loss_cls`` (default mmdet's
    ``GaussianFocalLoss``, averaged over the targets); offset and size are
    read at the TRUE center cell and the resulting box is compared with the
    true box by ``loss_bbox`` (``GIoULoss``) and ``loss_l1`` (``L1Loss``).

    Args:
        in_channels (int): Token width.
        feat_channels (int): Width of the first conv of each tower.
        num_convs (int): 3x3 convs per tower.
        norm_cfg (dict): Norm of the towers.
        min_overlap (float): ``gaussian_radius`` overlap of the heatmap.
        loss_cls (dict): Score-map loss.
        loss_bbox (dict): Box loss (GIoU).
        loss_l1 (dict): Box L1 loss.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 feat_channels: int = 256,
                 num_convs: int = 4,
                 norm_cfg: dict = dict(type='BN'),
                 min_overlap: float = 0.7,
                 loss_cls: dict = dict(
                     type='GaussianFocalLoss', loss_weight=1.0),
                 loss_bbox: dict = dict(type='GIoULoss', loss_weight=2.0),
                 loss_l1: dict = dict(type='L1Loss', loss_weight=5.0),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_convs < 1 or feat_channels // 2**(num_convs - 1) < 1:
            raise ValueError(
                f'TrackCenterHead: num_convs={num_convs} halvings of '
                f'feat_channels={feat_channels} leave no channel')
        self.in_channels = in_channels
        self.min_overlap = min_overlap
        self.score_branch = self._tower(in_channels, feat_channels,
                                        num_convs, 1, norm_cfg)
        self.offset_branch = self._tower(in_channels, feat_channels,
                                         num_convs, 2, norm_cfg)
        self.size_branch = self._tower(in_channels, feat_channels,
                                       num_convs, 2, norm_cfg)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_bbox = MODELS.build(loss_bbox)
        self.loss_l1 = MODELS.build(loss_l1)

    @staticmethod
    def _tower(in_channels: int, feat_channels: int, num_convs: int,
               out_channels: int, norm_cfg: dict) -> nn.Sequential:
        layers, c = [], in_channels
        for i in range(num_convs):
            width = feat_channels // 2**i
            layers.append(
                ConvModule(c, width, 3, padding=1, norm_cfg=norm_cfg))
            c = width
        layers.append(nn.Conv2d(c, out_channels, 1))
        return nn.Sequential(*layers)

    def init_weights(self) -> None:
        """mmengine's initialisation; without ``init_cfg`` the score
        branch's last bias is then set to a 0.1 prior probability."""
        super().init_weights()
        if self.init_cfg is None:  # center prior of CenterNet-style heads
            nn.init.constant_(self.score_branch[-1].bias,
                              bias_init_with_prob(0.1))

    def forward(self, tokens: Tensor,
                hw: Tuple[int, int]) -> Tuple[Tensor, Tensor, Tensor]:
        """The three maps of the search tokens.

        Args:
            tokens (Tensor): (B, h*w, C) search tokens.
            hw (tuple[int, int]): Their grid (h, w).

        Returns:
            tuple[Tensor, Tensor, Tensor]: score (B, 1, h, w), offset and
            size (B, 2, h, w), all in [0, 1] (score clamped to [1e-4,
            1 - 1e-4] for the focal loss).

        Raises:
            ValueError: Tokens that do not fit ``hw`` x ``in_channels``.
        """
        b, n, c = tokens.shape
        if n != hw[0] * hw[1] or c != self.in_channels:
            raise ValueError(
                f'TrackCenterHead: tokens of shape {tuple(tokens.shape)} do '
                f'not fit the grid {tuple(hw)} x {self.in_channels} channels')
        fmap = tokens.transpose(1, 2).reshape(b, c, *hw)
        score = self.score_branch(fmap).sigmoid().clamp(1e-4, 1 - 1e-4)
        return (score, self.offset_branch(fmap).sigmoid(),
                self.size_branch(fmap).sigmoid())

    @staticmethod
    def boxes_at(offset: Tensor, size: Tensor, ix: Tensor,
                 iy: Tensor) -> Tensor:
        """The box each item's map predicts at one cell.

        Args:
            offset (Tensor): (B, 2, h, w) offset map.
            size (Tensor): (B, 2, h, w) size map.
            ix, iy (Tensor): (B,) cell column / row of each item.

        Returns:
            Tensor: (B, 4) ``x1, y1, x2, y2`` normalised by the crop side.
        """
        b, _, h, w = offset.shape
        rows = torch.arange(b, device=offset.device)
        dx, dy = offset[rows, 0, iy, ix], offset[rows, 1, iy, ix]
        sw, sh = size[rows, 0, iy, ix], size[rows, 1, iy, ix]
        cx = (ix.to(offset.dtype) + dx) / w
        cy = (iy.to(offset.dtype) + dy) / h
        return torch.stack([cx - sw / 2, cy - sh / 2, cx + sw / 2,
                            cy + sh / 2], dim=1)

    def decode(self,
               score: Tensor,
               offset: Tensor,
               size: Tensor,
               window: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Box at the peak of ``score`` (times ``window``).

        Args:
            score (Tensor): (B, 1, h, w) score map.
            offset (Tensor): (B, 2, h, w) offset map.
            size (Tensor): (B, 2, h, w) size map.
            window (Tensor, optional): (h, w) weights, e.g. :func:`hann2d`.

        Returns:
            tuple: normalised boxes (B, 4) and the raw score at the peak
            (B,).
        """
        b, _, h, w = score.shape
        response = score if window is None else score * window
        idx = response.flatten(1).argmax(dim=1)
        iy, ix = idx // w, idx % w
        peak = score.flatten(1)[torch.arange(b, device=score.device), idx]
        return self.boxes_at(offset, size, ix, iy), peak

    def targets(self, gt_boxes: Tensor,
                hw: Tuple[int, int]) -> Tuple[Tensor, Tensor, Tensor]:
        """Training targets of true boxes.

        Args:
            gt_boxes (Tensor): (B, 4) ``x1, y1, x2, y2`` normalised by the
                crop side.
            hw (tuple[int, int]): The map grid (h, w).

        Returns:
            tuple[Tensor, Tensor, Tensor]: Gaussian heatmap (B, 1, h, w)
            and the center cells ``ix``, ``iy`` (B,).
        """
        h, w = hw
        heat = gt_boxes.new_zeros(gt_boxes.shape[0], 1, h, w)
        cx = (gt_boxes[:, 0] + gt_boxes[:, 2]) / 2 * w
        cy = (gt_boxes[:, 1] + gt_boxes[:, 3]) / 2 * h
        ix = cx.floor().long().clamp(0, w - 1)
        iy = cy.floor().long().clamp(0, h - 1)
        for i, box in enumerate(gt_boxes.tolist()):
            bw, bh = (box[2] - box[0]) * w, (box[3] - box[1]) * h
            radius = max(0, int(gaussian_radius((math.ceil(bh), math.ceil(
                bw)), self.min_overlap)))
            gen_gaussian_target(heat[i, 0], [int(ix[i]), int(iy[i])],
                                radius)
        return heat, ix, iy

    def loss(self, tokens: Tensor, hw: Tuple[int, int],
             gt_boxes: Tensor) -> Dict[str, Tensor]:
        """Losses of the search tokens against the true boxes.

        Args:
            tokens (Tensor): (B, h*w, C) search tokens.
            hw (tuple[int, int]): Their grid (h, w).
            gt_boxes (Tensor): (B, 4) ``x1, y1, x2, y2`` normalised by the
                crop side.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``, ``loss_l1``.
        """
        score, offset, size = self(tokens, hw)
        heat, ix, iy = self.targets(gt_boxes.to(score.dtype), hw)
        num = max(1., float(heat.eq(1).sum()))
        boxes = self.boxes_at(offset, size, ix, iy)
        gt = gt_boxes.to(boxes.dtype)
        return dict(
            loss_cls=self.loss_cls(score, heat, avg_factor=num),
            loss_bbox=self.loss_bbox(boxes, gt),
            loss_l1=self.loss_l1(boxes, gt))
