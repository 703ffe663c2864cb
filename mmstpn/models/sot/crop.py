"""Square search / template regions around a box, cropped on tensors.

The region rule is the one of the SOT training transform
(``SOTCropRegion``, no jitter), so test-time crops match the training
crops: side ``ceil(sqrt(w h) * factor)`` image pixels, top-left corner
``floor(center - side / 2 + 0.5)``, x2 / y2 exclusive.
"""
import math
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def square_region(box: Sequence[float], factor: float) -> List[int]:
    """The square region around a box (the module's rule).

    Args:
        box (Sequence[float]): ``x1, y1, x2, y2``.
        factor (float): Region side / sqrt(box area).

    Returns:
        list[int]: ``[x1, y1, x2, y2)`` (x2 / y2 exclusive) of side
        ``ceil(sqrt(w h) * factor)`` (at least 1), centered on the box.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(1, math.ceil(math.sqrt(max(x2 - x1, 0.) * max(y2 - y1, 0.))
                            * factor))
    left = math.floor((x1 + x2) / 2 - side / 2 + 0.5)
    top = math.floor((y1 + y2) / 2 - side / 2 + 0.5)
    return [left, top, left + side, top + side]


def crop_resize(img: Tensor, region: Sequence[int], out_size: int) -> Tensor:
    """Crop ``region`` of a (C, H, W) image and resize it to ``out_size``
    squared (bilinear, half-pixel centers); outside the image the crop is
    filled with the per-channel image mean (SOTCropRegion's 'mean' pad).

    Args:
        img (Tensor): (C, H, W) image.
        region (Sequence[int]): ``[x1, y1, x2, y2)``.
        out_size (int): Output side.

    Returns:
        Tensor: (C, out_size, out_size).
    """
    c, h, w = img.shape
    x1, y1, x2, y2 = region
    step = (x2 - x1) / out_size
    # source coordinate of output pixel j: x1 + (j + 0.5) * step - 0.5
    grid_1d = (torch.arange(out_size, device=img.device, dtype=img.dtype) +
               0.5) * step - 0.5
    xs = (x1 + grid_1d + 0.5) * 2 / w - 1  # grid_sample, align_corners=False
    ys = (y1 + grid_1d + 0.5) * 2 / h - 1
    grid = torch.stack(torch.meshgrid(ys, xs, indexing='ij')[::-1], dim=-1)
    mean = img.reshape(c, -1).mean(1).view(c, 1, 1)
    out = F.grid_sample((img - mean)[None], grid[None], mode='bilinear',
                        padding_mode='zeros', align_corners=False)[0]
    return out + mean


def clip_box(box: Tensor, width: float, height: float,
             min_size: float = 1.) -> Tensor:
    """Clip a box to the image; a box thinner than ``min_size`` is widened
    to it around its clipped center (kept in the image), so the next search
    region stays defined.

    Args:
        box (Tensor): (4,) ``x1, y1, x2, y2``.
        width, height (float): The image size.
        min_size (float): Smallest side. Defaults to 1.

    Returns:
        Tensor: (4,) the clipped box (a new tensor).
    """
    out = box.clone()
    for lo, hi, size in ((0, 2, width), (1, 3, height)):
        a = out[lo].clamp(0, size)
        b = out[hi].clamp(0, size)
        if b - a < min_size:
            half = min(min_size, size) / 2
            center = ((a + b) / 2).clamp(half, size - half)
            a, b = center - half, center + half
        out[lo], out[hi] = a, b
    return out
