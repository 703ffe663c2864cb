"""Square template / search crops around the target, with jitter."""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS

Draw = Tuple[float, float, float, float]


def crop_square(img: np.ndarray, region: Sequence[int], out_size: int,
                pad_val: Union[str, float, Sequence[float]]) -> np.ndarray:
    """Crop ``region`` ([x1, y1, x2, y2), integers) padding outside the
    image, then resize to ``out_size`` x ``out_size`` (bilinear).

    Args:
        img (np.ndarray): (H, W, C) image.
        region (Sequence[int]): x1, y1, x2, y2 (x2 / y2 exclusive).
        out_size (int): Output side.
        pad_val: 'mean' (per-channel image mean) or a value / per-channel
            values.

    Returns:
        np.ndarray: (out_size, out_size, C) crop, dtype of ``img``.
    """
    x1, y1, x2, y2 = (int(v) for v in region)
    height, width = img.shape[:2]
    chn = 1 if img.ndim == 2 else img.shape[2]
    if isinstance(pad_val, str):
        fill = img.reshape(-1, chn).mean(0).tolist()
    elif isinstance(pad_val, (int, float)):
        fill = [float(pad_val)] * chn
    else:
        fill = [float(v) for v in pad_val]
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        # mmcv.imcrop copies a wrong strip for regions outside the image
        shape = (y2 - y1, x2 - x1) + ((chn, ) if img.ndim == 3 else ())
        patch = np.ones(shape, img.dtype) * np.array(fill, img.dtype)
    else:
        patch = mmcv.imcrop(
            img, np.array([x1, y1, x2 - 1, y2 - 1]), pad_fill=fill)
    return mmcv.imresize(patch, (out_size, out_size))


@TRANSFORMS.register_module()
class SOTCropRegion(BaseTransform):
    """Template and search crops of a :class:`SOTPairSample` item.

    Input: a dict of lists (one entry per frame, e.g. after
    ``TransformBroadcaster(LoadImageFromFile)``) with ``img``, ``bbox``
    (``x1, y1, x2, y2`` in the image) and ``frame_role``. Each frame is
    cropped to a square around its target and resized:

    - a box ``w x h`` is jittered to ``w' = w * exp(N(0,1) * s)``,
      ``h' = h * exp(N(0,1) * s)`` (``s`` = scale jitter) and its center
      moved by ``(U - 0.5) * sqrt(w' h') * c`` in x and in y (``c`` =
      center jitter, ``U`` uniform in [0, 1));
    - the crop side is ``ceil(sqrt(w' h') * factor)`` pixels, its top-left
      corner ``floor(center - side / 2 + 0.5)`` (the target center is
      within half an image pixel of the crop center); outside the image
      it is padded with ``pad_val``; then resized to ``size`` x ``size``.

    Template frames use ``template_factor`` / ``template_size`` and their
    own jitter (default none); the search frame uses ``search_factor`` /
    ``search_size`` and the search jitter. ONE jitter draw per sample is
    made for the search frame and shared by its support frames: with
    ``support_region='own'`` each support is cropped around its own box
    with the search's draw (same relative scale and shift); with
    ``'search'`` each support is cropped at exactly the search frame's
    region (same pixels of an earlier frame).

    Output per frame: ``img`` (the crop), ``img_shape``, ``gt_bboxes``
    ((1, 4) float32, ``x1, y1, x2, y2`` of the TRUE box in the crop,
    clipped to it when ``clip_boxes``), ``gt_bboxes_labels`` ([0]),
    ``crop_region`` (the region in the image, x2 / y2 exclusive) and
    ``crop_scale`` (output pixels per image pixel).

    Args:
        template_factor (float): Context of the template crop. Defaults to
            2.0.
        template_size (int): Template output side. Defaults to 128.
        search_factor (float): Context of the search crop. Defaults to 4.0.
        search_size (int): Search output side. Defaults to 256.
        template_jitter (Sequence[float]): (scale, center) jitter of the
            template. Defaults to (0, 0).
        search_jitter (Sequence[float]): (scale, center) jitter of the
            search frame. Defaults to (0.25, 3.0) (OSTrack's).
        support_region (str): 'own' or 'search'. Defaults to 'own'.
        search_center (str): Where the search crop is centered before the
            jitter: ``'own'`` (default) on its own box (OSTrack);
            ``'previous'`` on the box of the latest support frame before it
            (with ``SOTPairSample(support_sampling='recent')`` the previous
            frame), as the online tracker centers frame t on its estimate
            of frame t-1: the target then sits where the motion put it,
            next to any distractor that follows it. The motion term is part
            of the shared draw, so ``support_region='own'`` crops each
            support with the same relative shift (around its own box: one
            frame further back for a steady motion). An item without an
            earlier support frame falls back to ``'own'``.
        pad_val: 'mean' or a value / per-channel values. Defaults to
            'mean'.
        clip_boxes (bool): Clip the boxes to the crop. Defaults to True.
    """

    def __init__(self,
                 template_factor: float = 2.0,
                 template_size: int = 128,
                 search_factor: float = 4.0,
                 search_size: int = 256,
                 template_jitter: Sequence[float] = (0.0, 0.0),
                 search_jitter: Sequence[float] = (0.25, 3.0),
                 support_region: str = 'own',
                 pad_val: Union[str, float, Sequence[float]] = 'mean',
                 clip_boxes: bool = True,
                 search_center: str = 'own') -> None:
        for name, val in (('template_factor', template_factor),
                          ('search_factor', search_factor),
                          ('template_size', template_size),
                          ('search_size', search_size)):
            if val <= 0:
                raise ValueError(f'{name} must be > 0, got {val!r}')
        for name, val in (('template_jitter', template_jitter),
                          ('search_jitter', search_jitter)):
            if len(val) != 2 or min(val) < 0:
                raise ValueError(f'{name} must be (scale, center) >= 0, got '
                                 f'{val!r}')
        if search_center not in ('own', 'previous'):
            raise ValueError("search_center must be 'own' or 'previous', "
                             f'got {search_center!r}')
        self.search_center = search_center
        if support_region not in ('own', 'search'):
            raise ValueError("support_region must be 'own' or 'search', got "
                             f'{support_region!r}')
        if isinstance(pad_val, str) and pad_val != 'mean':
            raise ValueError(f"pad_val must be 'mean' or numbers, got "
                             f'{pad_val!r}')
        self.template_factor = float(template_factor)
        self.template_size = int(template_size)
        self.search_factor = float(search_factor)
        self.search_size = int(search_size)
        self.template_jitter = tuple(float(v) for v in template_jitter)
        self.search_jitter = tuple(float(v) for v in search_jitter)
        self.support_region = support_region
        self.pad_val = pad_val
        self.clip_boxes = clip_boxes

    @staticmethod
    def draw_jitter(jitter: Sequence[float]) -> Draw:
        """One random jitter draw (numpy's global random state).

        Args:
            jitter (Sequence[float]): ``(scale, center)`` jitter.

        Returns:
            tuple: ``(scale_w, scale_h, shift_x, shift_y)``.
        """
        scale, center = jitter
        return (math.exp(np.random.randn() * scale),
                math.exp(np.random.randn() * scale),
                (np.random.rand() - 0.5) * center,
                (np.random.rand() - 0.5) * center)

    @staticmethod
    def region(bbox: Sequence[float], draw: Draw,
               factor: float) -> List[int]:
        """The integer crop region ``[x1, y1, x2, y2)`` of a box.

        Args:
            bbox (Sequence[float]): ``x1, y1, x2, y2``.
            draw (tuple): From :meth:`draw_jitter`.
            factor (float): Crop side / sqrt(jittered area).

        Returns:
            list[int]: The square region.
        """
        x1, y1, x2, y2 = (float(v) for v in bbox)
        sw, sh, dx, dy = draw
        size = math.sqrt((x2 - x1) * sw * (y2 - y1) * sh)
        cx = (x1 + x2) / 2 + dx * size
        cy = (y1 + y2) / 2 + dy * size
        side = max(1, math.ceil(size * factor))
        left = math.floor(cx - side / 2 + 0.5)
        top = math.floor(cy - side / 2 + 0.5)
        return [left, top, left + side, top + side]

    def _crop(self, img: np.ndarray, bbox: Sequence[float],
              region: List[int], out_size: int) -> Dict[str, object]:
        crop = crop_square(img, region, out_size, self.pad_val)
        scale = out_size / (region[2] - region[0])
        box = (np.asarray(bbox, np.float64) -
               np.array(region[:2] * 2, np.float64)) * scale
        if self.clip_boxes:
            box = np.clip(box, 0, out_size)
        return dict(
            img=crop,
            img_shape=crop.shape[:2],
            gt_bboxes=box.astype(np.float32).reshape(1, 4),
            gt_bboxes_labels=np.zeros(1, np.int64),
            crop_region=region,
            crop_scale=scale)

    def transform(self, results: Dict[str, List]) -> Dict[str, List]:
        """Crop every frame (see the class docstring).

        Args:
            results (dict[str, list]): The sampled frames.

        Returns:
            dict[str, list]: The same frames, cropped.
        """
        roles = results.get('frame_role')
        if roles is None or 'img' not in results or 'bbox' not in results:
            raise KeyError('SOTCropRegion needs the per-frame lists img, '
                           'bbox and frame_role (SOTPairSample + '
                           'LoadImageFromFile)')
        names = results.get('video_name') or [None] * len(roles)
        frame_ids = results.get('frame_id') or [None] * len(roles)
        if 'search' not in roles and 'support' in roles:
            raise ValueError('support frames without a search frame')
        search_draw = self.draw_jitter(self.search_jitter)
        search_region: Optional[List[int]] = None
        if 'search' in roles:
            i = roles.index('search')
            self._check_box(results['bbox'][i], names[i], frame_ids[i])
            if self.search_center == 'previous':
                search_draw = self._motion_draw(results, i, search_draw)
            search_region = self.region(results['bbox'][i], search_draw,
                                        self.search_factor)
        outs = []
        for i, role in enumerate(roles):
            bbox = results['bbox'][i]
            self._check_box(bbox, names[i], frame_ids[i])
            if role == 'template':
                region = self.region(bbox,
                                     self.draw_jitter(self.template_jitter),
                                     self.template_factor)
                size = self.template_size
            elif role == 'search' or self.support_region == 'search':
                region, size = search_region, self.search_size
            elif role == 'support':
                region = self.region(bbox, search_draw, self.search_factor)
                size = self.search_size
            else:
                raise ValueError(f'unknown frame_role {role!r} of sequence '
                                 f'{names[i]!r} frame {frame_ids[i]}')
            outs.append(self._crop(results['img'][i], bbox, region, size))
        for key in outs[0]:
            results[key] = [o[key] for o in outs]
        return results

    @staticmethod
    def _motion_draw(results: Dict[str, List], i: int, draw: Draw) -> Draw:
        """``draw`` with the shift from the search box (frame ``i``) to the
        box of the latest support frame before it added, in units of the
        search box's jittered size (unchanged without such a frame)."""
        roles, boxes = results['frame_role'], results['bbox']
        ids = results.get('frame_id') or [None] * len(roles)
        earlier = [
            j for j, r in enumerate(roles) if r == 'support'
            and ids[j] is not None and ids[i] is not None and ids[j] < ids[i]
        ]
        if not earlier:
            return draw
        j = max(earlier, key=lambda k: ids[k])
        sx1, sy1, sx2, sy2 = (float(v) for v in boxes[i])
        px1, py1, px2, py2 = (float(v) for v in boxes[j])
        sw, sh, dx, dy = draw
        size = math.sqrt((sx2 - sx1) * sw * (sy2 - sy1) * sh)
        return (sw, sh, dx + ((px1 + px2) - (sx1 + sx2)) / 2 / size,
                dy + ((py1 + py2) - (sy1 + sy2)) / 2 / size)

    @staticmethod
    def _check_box(bbox, name, frame_id) -> None:
        if bbox is None or not (bbox[2] > bbox[0] and bbox[3] > bbox[1]):
            raise ValueError(f'sequence {name!r} frame {frame_id}: no '
                             f'positive target box to crop around ({bbox})')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}('
                f'template_factor={self.template_factor}, '
                f'template_size={self.template_size}, '
                f'search_factor={self.search_factor}, '
                f'search_size={self.search_size}, '
                f'template_jitter={self.template_jitter}, '
                f'search_jitter={self.search_jitter}, '
                f'support_region={self.support_region!r}, '
                f'pad_val={self.pad_val!r}, clip_boxes={self.clip_boxes}, '
                f'search_center={self.search_center!r})')
