"""OSTrack-style one-stream tracker on an STPN ViT backbone."""
import time
from dataclasses import dataclass
from typing import Dict, Hashable, List, Optional, Tuple

import torch
from mmdet.models.mot import BaseMOTModel
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList
from mmengine.structures import InstanceData
from torch import Tensor

from mmstpn.structures import ClipBatch, ClipMeta, VideoContext
from ..backbones import STPNOneStreamViT
from .center_head import hann2d
from .crop import clip_box, crop_resize, square_region


#: the tracker's slot in the video context's per-video state
SLOT = 'track'


@dataclass
class TrackState:
    """What the tracker keeps between the frames of ONE sequence.

    Kept in the model's video context (slot ``'track'`` of the sequence):
    created at frame 0 of a sequence, updated by every later frame, gone
    with the context's reset rule (another sequence, ``train()``, the end
    of a val / test run).

    Args:
        sequence (Hashable): The sequence (ClipMeta ``video_key``).
        frame_id (int): Last frame tracked.
        template (Tensor): (1, C, Ht, Wt) template crop of frame 0.
        box (Tensor): (4,) last estimate ``x1, y1, x2, y2`` in the network
            input's pixels.
    """

    sequence: Hashable
    frame_id: int
    template: Tensor
    box: Tensor


@MODELS.register_module()
class OneStreamTracker(BaseMOTModel):
    """One-stream transformer tracker (OSTrack style) with STPN prompts.

    The template crop (``template_factor`` x the box, ``template_size``
    pixels) and the search crop (``search_factor`` x, ``search_size``) run
    as one joint token sequence through the backbone
    (:class:`STPNOneStreamViT`, its :meth:`forward_tracking`); the
    :class:`TrackCenterHead` reads the search tokens.

    Prompts (``backbone.num_prompts > 0``) come from SUPPORT SEARCH CROPS of
    past frames: in training the K support crops the pipeline carries
    (their unprompted passes without gradient, the predictor with; with
    the backbone's default ``support_pass='joint'`` each support crop runs
    with the item's template, at test with the sequence's); at test
    the backbone's ``test_support`` must be ``mode='online'``: the
    unprompted pass of the search crop of every S-th frame (frame 0: the
    crop around the given box) is cached once in the video context under
    the sequence, and frame t uses the K latest cached crops before it.
    ``num_prompts=0``: the same tracker without prompts (baseline).

    Inputs (see :class:`~mmstpn.models.SOTDataPreprocessor`):

    - training: ``dict(template=(N, C, Ht, Wt), search=ClipBatch)`` with
      the search crop as key frame and its support crops;
      ``data_samples``: one ``TrackDataSample`` per item whose frames are
      ``[template, search, supports...]``, the search frame's
      ``gt_instances.bboxes`` in search-crop pixels.
    - test (online protocol): ``(N, 1, C, H, W)`` whole frames (mmdet's
      ``PackTrackInputs`` + ``TrackDataPreprocessor``), processed one item
      after the other (a batch equals its items one by one). Frame 0: the
      template is cropped around its given box (``gt_instances.bboxes``,
      else the ``bbox`` metainfo, else ``instances``), the output is that
      box. Frame t: search region around the previous estimate, the
      Hanning-windowed score peak + offset + size give the box, mapped back
      to the image and clipped to it. Each frame data sample gets
      ``pred_track_instances`` (one box in the ORIGINAL image,
      ``scale_factor`` undone) and ``frame_time`` (seconds, measured).

    Args:
        backbone (dict): ``STPNOneStreamViT``.
        head (dict): ``TrackCenterHead``.
        data_preprocessor (dict, optional): ``SOTDataPreprocessor``.
        template_factor (float): Template context. Defaults to 2.0.
        template_size (int): Template side. Defaults to 128.
        search_factor (float): Search context. Defaults to 4.0.
        search_size (int): Search side. Defaults to 256.
        window (bool): Hanning window on the test score map.
        init_cfg (dict, optional): Initialisation config.

    See docs/sot.md.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 template_factor: float = 2.0,
                 template_size: int = 128,
                 search_factor: float = 4.0,
                 search_size: int = 256,
                 window: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor, init_cfg)
        self.backbone = MODELS.build(backbone)
        if not isinstance(self.backbone, STPNOneStreamViT):
            raise ValueError(
                'OneStreamTracker: model.backbone must be a tracker backbone '
                "(type='STPNOneStreamViT'), got "
                f'{type(self.backbone).__name__}')
        head = dict(head)
        head.setdefault('in_channels', self.backbone.embed_dims)
        self.head = MODELS.build(head)
        self.template_factor = template_factor
        self.template_size = template_size
        self.search_factor = search_factor
        self.search_size = search_size
        self.window = window

    # ------------------------------------------------------------- state
    @property
    def video_context(self) -> VideoContext:
        """The model's video context (the backbone's)."""
        return self.backbone.video_context

    @property
    def state(self) -> Optional[TrackState]:
        """The state of the sequence being tracked (None: none)."""
        states = list(self.video_context.slot(SLOT).values())
        return states[-1] if states else None

    # ------------------------------------------------------------- training
    def loss(self, inputs: Dict, data_samples: TrackSampleList,
             **kwargs) -> dict:
        """Center-head losses of a batch of (template, search, supports).

        Args:
            inputs (dict): ``template`` (N, C, Ht, Wt) and ``search``
                (ClipBatch of (N, 1+K, C, Hs, Ws)).
            data_samples (list[TrackDataSample]): Frames ``[template,
                search, supports...]`` of each item.

        Returns:
            dict: ``loss_cls``, ``loss_bbox``, ``loss_l1``.
        """
        return self.loss_and_prompts(inputs, data_samples)[0]

    def loss_and_prompts(self, inputs: Dict, data_samples: TrackSampleList
                         ) -> Tuple[dict, Optional[Tensor]]:
        """:meth:`loss` and the prompts that made it, e.g. for an auxiliary
        loss on the prompts.

        Args:
            inputs (dict): As :meth:`loss`.
            data_samples (list[TrackDataSample]): As :meth:`loss`.

        Returns:
            tuple: The loss dict and the (N, P, d) prompts (None without
            prompts).

        Raises:
            ValueError: Inputs that are not ``dict(template, search)``,
                non-square search crops, or a search frame without exactly
                one gt box.
        """
        if not isinstance(inputs, dict) or 'template' not in inputs or \
                'search' not in inputs:
            raise ValueError(
                'OneStreamTracker.loss expects inputs=dict(template, search) '
                '(PackSOTInputs + SOTDataPreprocessor)')
        template, search = inputs['template'], inputs['search']
        frames = search.frames if isinstance(search, ClipBatch) else search
        side = frames.shape[-1]
        if frames.shape[-2] != side:
            raise ValueError(f'search crops must be square, got '
                             f'{tuple(frames.shape[-2:])}')
        gt = torch.stack([
            self._search_box(ds, i) for i, ds in enumerate(data_samples)
        ]).to(frames.device) / side
        tokens, hw, prompts = self.backbone.forward_tracking(template, search)
        return self.head.loss(tokens, hw, gt), prompts

    @classmethod
    def _search_box(cls, track_sample, index: int) -> Tensor:
        frames = track_sample.video_data_samples
        roles = [f.metainfo.get('frame_role') for f in frames]
        pos = roles.index('search') if 'search' in roles else 1
        return cls.frame_box(frames[pos], index, 'search')

    @staticmethod
    def frame_box(frame, index: int, role: str) -> Tensor:
        """The one gt box of a training frame.

        Args:
            frame (DetDataSample): The frame.
            index (int): Its item in the batch (named in errors).
            role (str): Its role (named in errors).

        Returns:
            Tensor: (4,) ``x1, y1, x2, y2`` in crop pixels.

        Raises:
            ValueError: Not exactly one gt box (naming video and frame).
        """
        gt = frame.get('gt_instances')
        boxes = None if gt is None else gt.get('bboxes')
        boxes = getattr(boxes, 'tensor', boxes)
        if boxes is None or boxes.shape[0] != 1:
            num = 0 if boxes is None else boxes.shape[0]
            raise ValueError(
                f'OneStreamTracker: item {index} (video '
                f'{frame.metainfo.get("video_name")!r}, frame '
                f'{frame.metainfo.get("frame_id")}): the {role} frame '
                f'needs exactly one gt box, got {num}')
        return boxes[0].float()

    # ------------------------------------------------------------- test
    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: TrackSampleList,
                **kwargs) -> TrackSampleList:
        """Track: one frame per item, in order (see the class docstring).

        Args:
            inputs (Tensor): (N, 1, C, H, W) frames.
            data_samples (list[TrackDataSample]): One frame each.

        Returns:
            list[TrackDataSample]: The inputs' samples with
            ``pred_track_instances`` and ``frame_time`` on each frame.
        """
        if not isinstance(inputs, Tensor) or inputs.dim() != 5 or \
                inputs.shape[1] != 1:
            shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else \
                type(inputs).__name__
            raise ValueError(
                'OneStreamTracker.predict expects (N, 1, C, H, W) frames '
                f'(TrackImgSampler + PackTrackInputs), got {shape}')
        bb = self.backbone
        if bb.predictor is not None and bb.test_support.mode != 'online':
            raise ValueError(
                'OneStreamTracker tracks causally: the prompts come from the '
                'cached search crops of past frames, so '
                "model.backbone.test_support.mode must be 'online', got "
                f'{bb.test_support.describe()}')
        for i, track_sample in enumerate(data_samples):
            if len(track_sample) != 1:
                raise ValueError(
                    f'OneStreamTracker.predict: item {i} has '
                    f'{len(track_sample)} frames; one frame per item')
            self._track_frame(inputs[i, 0], track_sample[0])
        return data_samples

    def _track_frame(self, img: Tensor, ds) -> None:
        meta = ds.metainfo
        seq = meta.get('video_name', meta.get('video_id'))
        frame_id = meta.get('frame_id')
        if seq is None or frame_id is None:
            raise ValueError(
                'OneStreamTracker.predict: a frame without video_name / '
                f'video_id or frame_id (img_path={meta.get("img_path")!r})')
        h, w = meta.get('img_shape', img.shape[-2:])
        img = img[:, :h, :w]
        scale = self._scale(meta)
        sync = img.is_cuda
        if sync:
            torch.cuda.synchronize(img.device)
        start = time.perf_counter()
        if frame_id == 0:
            box = self._given_box(ds, seq).to(img.device) * scale
            self._init(img, box, seq)
        else:
            box = self._track(img, seq, frame_id)
        if sync:
            torch.cuda.synchronize(img.device)
        elapsed = time.perf_counter() - start
        ds.pred_track_instances = InstanceData(
            bboxes=(box / scale)[None].float(),
            scores=box.new_ones(1),
            instances_id=torch.zeros(1, dtype=torch.long,
                                     device=box.device))
        ds.set_metainfo(dict(frame_time=elapsed))

    @staticmethod
    def _scale(meta: dict) -> Tensor:
        sf = meta.get('scale_factor', (1., 1.))
        sx, sy = (float(v) for v in sf[:2])
        return torch.tensor([sx, sy, sx, sy])

    @staticmethod
    def _given_box(ds, seq) -> Tensor:
        box = None
        gt = ds.get('gt_instances')
        if gt is not None and 'bboxes' in gt and len(gt.bboxes):
            box = getattr(gt.bboxes, 'tensor', gt.bboxes)[0]
        elif ds.metainfo.get('bbox') is not None:
            box = ds.metainfo['bbox']
        elif ds.metainfo.get('instances'):
            box = ds.metainfo['instances'][0]['bbox']
        if box is None:
            raise ValueError(
                f'OneStreamTracker: sequence {seq!r} frame 0 carries no '
                'given box (gt_instances, the bbox metainfo or instances); '
                "add 'bbox' to PackTrackInputs.meta_keys")
        box = torch.as_tensor(box, dtype=torch.float32).reshape(4)
        if not (box[2] > box[0] and box[3] > box[1]):
            raise ValueError(f'OneStreamTracker: sequence {seq!r} frame 0: '
                             f'given box {box.tolist()} is empty')
        return box

    def _init(self, img: Tensor, box: Tensor, seq: Hashable) -> None:
        region = square_region(box.tolist(), self.template_factor)
        template = crop_resize(img, region, self.template_size)[None]
        self.video_context.enter_batch([ClipMeta(seq, 0, 0)])
        self.video_context.video(seq).slots[SLOT] = TrackState(
            seq, 0, template, box)
        if self.backbone.predictor is not None:
            # frame 0's search crop (around the given box) is the first
            # support of the sequence: cache its unprompted pass
            search = self._search_crop(img, box)[0]
            self.backbone.prompts_for(
                ClipBatch(search[None, None], [ClipMeta(seq, 0, 0)]),
                context=self.backbone.support_context(template))

    def _search_crop(self, img: Tensor, box: Tensor):
        region = square_region(box.tolist(), self.search_factor)
        return crop_resize(img, region, self.search_size), region

    def _track(self, img: Tensor, seq: Hashable, frame_id: int) -> Tensor:
        last_state = self.state
        self.video_context.enter_batch([ClipMeta(seq, frame_id, 0)])
        state = self.video_context.video(seq).slots.get(SLOT)
        if state is None or frame_id <= state.frame_id:
            last = None if last_state is None else (last_state.sequence,
                                                    last_state.frame_id)
            raise ValueError(
                f'OneStreamTracker: sequence {seq!r} frame {frame_id} '
                f'arrived, but the tracker holds {last} (sequence, last '
                'frame): a sequence must start at frame 0 and its frames '
                'must reach one process in order (TrackImgSampler)')
        search, region = self._search_crop(img, state.box)
        clips = ClipBatch(search[None, None], [ClipMeta(seq, frame_id, 0)])
        tokens, hw, _ = self.backbone.forward_tracking(state.template, clips)
        score, offset, size = self.head(tokens, hw)
        window = hann2d(*hw, device=score.device) if self.window else None
        norm_box, _ = self.head.decode(score, offset, size, window)
        box = self.crop_to_image(norm_box[0], region)
        box = clip_box(box, img.shape[-1], img.shape[-2])
        state.box, state.frame_id = box, frame_id
        return box

    @staticmethod
    def crop_to_image(norm_box: Tensor, region: List[int]) -> Tensor:
        """A box normalised by the crop side, in image pixels.

        Args:
            norm_box (Tensor): (4,) or (B, 4) normalised ``x1, y1, x2, y2``.
            region (list[int]): The crop region ``[x1, y1, x2, y2)`` in the
                image.

        Returns:
            Tensor: ``region[:2] + norm_box * side`` (whatever the crop's
            output size).
        """
        side = region[2] - region[0]
        offset = norm_box.new_tensor(region[:2] * 2)
        return offset + norm_box * side
