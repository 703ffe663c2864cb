"""Build an mmstpn model and run it on videos in memory."""
import copy
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import Compose, TransformBroadcaster
from mmcv.transforms import LoadAnnotations as BaseLoadAnnotations
from mmcv.transforms import LoadImageFromFile as BaseLoadImage
from mmdet.datasets.transforms.frame_sampling import BaseFrameSample
from mmdet.registry import DATASETS, MODELS, TRANSFORMS
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from mmstpn.structures import (SupportPolicy, find_video_context,
                               set_test_policy)
from mmstpn.utils import (checkpoint_dataset_meta, load_state_dict_checked,
                          read_checkpoint, upgrade_state_dict)

ConfigLike = Union[str, Path, Config]
Frame = Union[np.ndarray, str]
#: the packers whose items are mmdet track samples (one per video or frame)
TRACK_PACKERS = ('PackTrackClipInputs', 'PackTrackInputs')


def _clear_pretrained(cfg: Any) -> None:
    """Drop every ``Pretrained`` ``init_cfg`` below ``cfg`` (a checkpoint
    replaces them; nothing may download)."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for value in cfg.values():
            _clear_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _clear_pretrained(value)


def _config_file(config: str) -> str:
    """A ``package::folder/name.py`` config (``mmstpn::``, ``mmdet::``)
    as its file in the installed package, as mmengine resolves bases."""
    if '::' not in config:
        return config
    import mmstpn  # noqa: F401  (registers the mmstpn:: scope)
    from mmengine.config import config as config_module
    from mmengine.config.utils import (_get_external_cfg_base_path,
                                       _get_package_and_cfg_path)
    package, name = _get_package_and_cfg_path(config)
    return _get_external_cfg_base_path(
        config_module.get_installed_path(package), name)


def init_model(config: ConfigLike,
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               allow_partial_load: bool = False) -> nn.Module:
    """Build an mmstpn model (any kind: video detector, MOT / VIS tracker,
    single-object tracker) from a config and load its checkpoint.

    Args:
        config (str | Path | Config): The config: a file, or
            ``mmstpn::<folder>/<name>.py`` / ``mmdet::...`` (resolved in the
            installed packages, as ``_base_`` entries are).
        checkpoint (str, optional): Weights. None: initialised weights
            (``Pretrained`` init configs are skipped: nothing downloads).
        device (str): Where the model goes. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Config overrides (mmengine syntax).
        allow_partial_load (bool): Accept a checkpoint whose keys do not
            fit the model (missing / unexpected keys, other shapes).
            Default False: such a checkpoint is a
            ``CheckpointMismatchError`` naming the file and the first keys.

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` (the config) and
        ``dataset_meta`` (the checkpoint's, else the test dataset's; the
        palette: the config's, else the checkpoint's, else random).
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(_config_file(str(config)))
    elif not isinstance(config, Config):
        raise TypeError('config must be a file name or a Config, got '
                        f'{type(config).__name__}')
    config = copy.deepcopy(config)
    if cfg_options:
        config.merge_from_dict(cfg_options)
    _clear_pretrained(config.model)
    import mmstpn  # noqa: F401  (registers every mmstpn module)
    init_default_scope(config.get('default_scope', 'mmdet'))
    model = MODELS.build(config.model)
    dataset_meta = None
    if checkpoint is None:
        model.init_weights()
    else:
        dataset_meta = checkpoint_dataset_meta(
            _load(model, checkpoint, allow_partial_load))
    metainfo = {}
    if config.get('test_dataloader'):
        dataset_cfg = copy.deepcopy(config.test_dataloader.dataset)
        dataset_cfg['lazy_init'] = True
        metainfo = DATASETS.build(dataset_cfg).metainfo
    dataset_meta = dict(metainfo if dataset_meta is None else dataset_meta)
    dataset_meta = {k.lower(): v for k, v in dataset_meta.items()}
    # the palette: the config's, else the checkpoint's, else random (as
    # mmdet's init_detector)
    dataset_meta['palette'] = metainfo.get(
        'palette', dataset_meta.get('palette', 'random'))
    model.dataset_meta = dataset_meta
    model.cfg = config
    return model.to(device).eval()


def _load(model: nn.Module, checkpoint: str, partial: bool) -> dict:
    """Read ``checkpoint``, upgrade older layouts, load it strictly
    (:func:`~mmstpn.utils.load_state_dict_checked`)."""
    ckpt = read_checkpoint(checkpoint)
    if 'state_dict' in ckpt:
        ckpt['state_dict'] = upgrade_state_dict(ckpt['state_dict'])
    load_state_dict_checked(model, ckpt, checkpoint, allow_partial=partial)
    return ckpt


# ---------------------------------------------------------------- pipeline
def _per_frame_steps(steps: list) -> list:
    """Steps for frames in memory: the loader reads ``results['img']``,
    annotation loaders are dropped."""
    out = []
    for step in steps:
        step = copy.deepcopy(step)
        cls = TRANSFORMS.get(step['type'])
        if cls is not None and issubclass(cls, BaseLoadAnnotations):
            continue
        if cls is not None and issubclass(cls, BaseLoadImage):
            step['type'] = 'mmdet.LoadImageFromNDArray'
        out.append(step)
    return out


def build_test_pipeline(cfg: Config) -> Tuple[Compose, bool, bool]:
    """The config's test pipeline for frames in memory (as mmdet's
    ``DetInferencer`` derives it): the frame sampler is dropped (the caller
    passes the frames), the loader reads arrays, annotation loaders are
    dropped, a ``TransformBroadcaster`` keeps its shared transforms.

    Args:
        cfg (Config): The model's config (its test dataloader's pipeline).

    Returns:
        tuple: The pipeline, whether it takes per-frame lists (a clip
        pipeline) and whether it packs mmdet track samples.

    Raises:
        ValueError: A step that is not registered (names the config).
    """
    steps, broadcast, track = [], False, False
    for step in copy.deepcopy(get_test_pipeline_cfg(cfg)):
        cls = TRANSFORMS.get(step['type'])
        if cls is None:
            raise ValueError(f'{cfg.filename}: test pipeline step '
                             f'{step["type"]!r} is not registered')
        if issubclass(cls, BaseFrameSample):
            continue
        track = track or cls.__name__ in TRACK_PACKERS
        if issubclass(cls, TransformBroadcaster):
            step['transforms'] = _per_frame_steps(step['transforms'])
            broadcast = True
            steps.append(step)
        else:
            steps.extend(_per_frame_steps([step]))
    return Compose(steps), broadcast, track


def _read(frame: Frame) -> np.ndarray:
    if isinstance(frame, np.ndarray):
        return frame
    img = mmcv.imread(frame)
    if img is None:
        raise ValueError(f'{frame}: not a readable image')
    return img


class VideoInferencer:
    """Runs a built mmstpn model on the frames of a video, in order.

    The model's test-time policy is switched ONCE, through its video
    context (:func:`~mmstpn.structures.set_test_policy`), for every
    consumer (STPN backbone, SELSA / TRoI, trackers); the test pipeline is
    the config's (:func:`build_test_pipeline`).

    - ``'online'``: :meth:`predict_frame` streams a video frame by frame
      (nothing about the future is read).
    - ``'offline'``: :meth:`predict_video` gives frame 0 the support frames
      spread over the whole video (the released test) and reuses its
      prompts; a MOT / VIS model gets the whole video as one item, as its
      test dataset does.

    Args:
        model (nn.Module): From :func:`init_model`.
        mode (str, optional): ``'online'`` or ``'offline'``; None: the
            model's own policy.
        num_support (int, optional): K; None: the model's.
        stride (int, optional): S; None: the model's.

    Guarantees: each frame's result equals what ``tools/test.py`` computes
    for it with the same policy (tested); the model's per-video state is
    cleared by :meth:`reset`, at each new video and on errors.
    """

    def __init__(self,
                 model: nn.Module,
                 mode: Optional[str] = None,
                 num_support: Optional[int] = None,
                 stride: Optional[int] = None) -> None:
        if not hasattr(model, 'cfg'):
            raise ValueError('VideoInferencer needs a model from init_model '
                             '(it reads model.cfg for the test pipeline)')
        self.model = model
        self.context = find_video_context(model)
        self.policy: Optional[SupportPolicy] = None
        if self.context is not None:
            change: Dict[str, Any] = {}
            for key, value in (('mode', mode), ('num_support', num_support),
                               ('stride', stride)):
                if value is not None:
                    change[key] = value
            self.policy = set_test_policy(model, change) if change else \
                self.context.policy
        elif mode is not None and mode != 'online':
            raise ValueError(f'{type(model).__name__} has no video context '
                             f'(a per-frame model): mode={mode!r} does not '
                             'apply')
        self.pipeline, self.broadcast, self.track = build_test_pipeline(
            model.cfg)
        from mmstpn.models.sot import OneStreamTracker
        self.sot = isinstance(model, OneStreamTracker)

    @property
    def offline(self) -> bool:
        """Whether frame 0 carries support frames spread over the video."""
        return self.policy is not None and self.policy.mode == 'offline'

    def reset(self) -> None:
        """Forget every video (the model's video context)."""
        if self.context is not None:
            self.context.clear()

    # ------------------------------------------------------------ inputs
    def _item(self, frames: List[np.ndarray], frame_ids: List[int],
              video: str, num_frames: int,
              extra: Optional[Dict[str, list]] = None) -> dict:
        """Pipeline input: per-frame lists for a clip pipeline, else one
        image."""
        items = []
        for img, fid in zip(frames, frame_ids):
            h, w = img.shape[:2]
            items.append(dict(img=img, img_id=fid, frame_id=fid,
                              video_id=video, video_name=video,
                              video_length=num_frames,
                              ori_video_length=num_frames, width=w,
                              height=h))
        if not self.broadcast:
            if len(items) > 1:
                raise ValueError(
                    'support frames need a clip test pipeline '
                    '(TransformBroadcaster + PackClipInputs)')
            return items[0]
        out = {key: [item[key] for item in items] for key in items[0]}
        out.update(extra or {})
        return out

    def _run(self, data: dict):
        batch = dict(inputs=[data['inputs']],
                     data_samples=[data['data_samples']])
        with torch.no_grad():
            return self.model.test_step(batch)[0]

    # ------------------------------------------------------------ calls
    def predict_frame(self,
                      frame: Frame,
                      frame_id: int,
                      video: str = 'video',
                      num_frames: Optional[int] = None,
                      support: Sequence[Tuple[int, Frame]] = (),
                      init_bbox: Optional[Sequence[float]] = None):
        """One frame of a video (frames must come in order).

        Args:
            frame (ndarray | str): The BGR image or its file.
            frame_id (int): Its index in the video (0 starts a new video).
            video (str): The video's name (its identity in the model).
            num_frames (int, optional): The video's length, if known.
            support (Sequence[tuple[int, Frame]]): ``(frame_id, image)`` of
                the support frames this frame carries (offline frame 0).
            init_bbox (Sequence[float], optional): Single-object trackers,
                frame 0: the target's box ``x1, y1, x2, y2`` (pixels).

        Returns:
            DetDataSample: The frame's predictions (``pred_instances``;
            trackers: ``pred_track_instances``).
        """
        if not isinstance(frame_id, int) or frame_id < 0:
            raise ValueError(f'video {video!r}: frame_id must be an int >= 0,'
                             f' got {frame_id!r}')
        if self.sot and frame_id == 0 and init_bbox is None:
            raise ValueError(f'video {video!r} frame 0: a single-object '
                             'tracker needs init_bbox (x1, y1, x2, y2)')
        num = num_frames if num_frames is not None else frame_id + 1
        imgs = [_read(frame)] + [_read(f) for _, f in support]
        ids = [frame_id] + [int(i) for i, _ in support]
        if self.track and support:
            raise ValueError(
                f'video {video!r} frame {frame_id}: a tracker '
                f'({type(self.model).__name__}) takes no support frames '
                'frame by frame (they would be tracked as frames); use '
                'predict_video, which gives the whole video offline')
        extra = None
        if self.sot:
            box = None if init_bbox is None else [float(v)
                                                 for v in init_bbox]
            extra = dict(bbox=[box])
        result = self._run(self.pipeline(
            self._item(imgs, ids, video, num, extra)))
        return result[0] if self.track else result

    def predict_video(self,
                      frames: Sequence[Frame],
                      video: str = 'video',
                      init_bbox: Optional[Sequence[float]] = None) -> list:
        """Every frame of a video, under the model's policy.

        Args:
            frames (Sequence[ndarray | str]): The video's frames in order
                (random access is used in offline mode).
            video (str): Its name.
            init_bbox (Sequence[float], optional): See
                :meth:`predict_frame`.

        Returns:
            list[DetDataSample]: One per frame.
        """
        num = len(frames)
        if num == 0:
            raise ValueError(f'video {video!r} has no frames')
        self.reset()
        try:
            if self.offline and self.track:
                return self._whole_video(frames, video)
            positions = self.offline_positions(num)
            out = []
            for t in range(num):
                support = [(p, frames[p]) for p in positions] if t == 0 \
                    else []
                out.append(self.predict_frame(
                    frames[t], t, video, num, support,
                    init_bbox if t == 0 else None))
            return out
        finally:
            self.reset()

    def offline_positions(self, num_frames: int) -> List[int]:
        """The support frames frame 0 carries in offline mode.

        Args:
            num_frames (int): The video's length.

        Returns:
            list[int]: The positions the test pipeline's rule gives frame 0
            of a ``num_frames``-frame video; [] when not offline.
        """
        if not self.offline:
            return []
        from mmstpn.datasets.transforms import SupportFrameSample
        sampler = SupportFrameSample(method='from_model')
        sampler.set_test_policy(self.policy)
        return sampler.sample_support(num_frames, 0)[0]

    def _whole_video(self, frames: Sequence[Frame], video: str) -> list:
        """A MOT / VIS model's offline test item: the whole video, every
        frame with its support frames among the loaded ones."""
        from mmstpn.datasets.transforms import SupportFrameSample
        sampler = SupportFrameSample(method='from_model')
        sampler.set_test_policy(self.policy)
        num = len(frames)
        supports = [sampler.sample_support(num, t)[0] for t in range(num)]
        data = self.pipeline(self._item(
            [_read(f) for f in frames], list(range(num)), video, num,
            dict(support_inds=[list(s) for s in supports])))
        return list(self._run(data))


def inference_video(model: nn.Module,
                    frames: Sequence[Frame],
                    mode: Optional[str] = None,
                    video: str = 'video',
                    **policy) -> list:
    """Run ``model`` on a whole video (see :class:`VideoInferencer`).

    Args:
        model (nn.Module): From :func:`init_model`.
        frames (Sequence[ndarray | str]): The frames, in order.
        mode (str, optional): ``'offline'`` / ``'online'``; None: the
            model's policy.
        video (str): The video's name.
        **policy: ``num_support`` / ``stride``.

    Returns:
        list[DetDataSample]: One per frame.
    """
    return VideoInferencer(model, mode, **policy).predict_video(frames, video)


def inference_sot(model: nn.Module,
                  frames: Sequence[Frame],
                  init_bbox: Sequence[float],
                  video: str = 'video') -> np.ndarray:
    """Track one object with a single-object tracker.

    Args:
        model (nn.Module): A ``OneStreamTracker`` from :func:`init_model`.
        frames (Sequence[ndarray | str]): The frames, in order.
        init_bbox (Sequence[float]): The target in frame 0, ``x1, y1, x2,
            y2`` (pixels).
        video (str): The video's name.

    Returns:
        ndarray: ``(len(frames), 4)`` boxes ``x1, y1, x2, y2``.
    """
    results = VideoInferencer(model).predict_video(frames, video, init_bbox)
    return np.stack([
        r.pred_track_instances.bboxes[0].cpu().numpy() for r in results
    ])
