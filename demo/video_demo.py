"""Run an mmstpn video model on a video and write the annotated video.

Frames are decoded, run and written one at a time (memory does not grow
with the video's length). The STPN backbone's test-time support policy is
set from the command line: ``online`` (default, causal: the K latest of
every S-th past frame) or ``offline`` (the released mode: K frames spread
over the whole video, read by index before the main pass; prompts computed
at frame 0 and reused). Each frame goes through the config's test pipeline
without its support-frame sampler (frames come from memory), the model's
data preprocessor and ``model.test_step``; predictions are drawn with
mmdet's ``DetLocalVisualizer`` (boxes, class, score, masks) or, when the
prediction has ``pred_track_instances``, ``TrackLocalVisualizer`` (track
ids). Per-frame times go to a json; nothing is written at ``--out`` unless
the whole video went through.

Example::

    python demo/video_demo.py clip.mp4 CONFIG CHECKPOINT --out clip_det.mp4 \
        --device cpu --mode online --num-support 14 --stride 1
"""
import argparse
import copy
import json
import os
import os.path as osp
import pickle
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch


import mmstpn  # noqa: E402,F401  (registers mmstpn; checkpoint types)
from mmcv.transforms import Compose, TransformBroadcaster  # noqa: E402
from mmcv.transforms import LoadAnnotations as BaseLoadAnnotations  # noqa
from mmcv.transforms import LoadImageFromFile as BaseLoadImage  # noqa: E402
from mmdet.apis import init_detector  # noqa: E402
from mmdet.datasets.transforms.frame_sampling import \
    BaseFrameSample  # noqa: E402
from mmdet.registry import TRANSFORMS, VISUALIZERS  # noqa: E402
from mmdet.structures import DetDataSample  # noqa: E402
from mmdet.utils import get_test_pipeline_cfg  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

from mmstpn.datasets.transforms import SupportFrameSample  # noqa: E402
from mmstpn.structures import SupportPolicy, find_video_context  # noqa: E402
from mmstpn.utils import (checkpoint_dataset_meta,  # noqa: E402
                          load_checkpoint_strict)
from mmstpn.utils.video_io import (VIDEO_OUT_FOURCC, FrameSink,
                                    FrameSource, GifSink, StagedOutputs,
                                    open_frames)

DEFAULT_FOLDER_FPS = 10.0


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('video', help='video file (mp4, avi, ...) or a '
                        'folder of frames (natural file-name order)')
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help='model checkpoint')
    parser.add_argument(
        '--allow-partial-load', action='store_true',
        help='load a checkpoint whose weights do not all fit the model '
        '(without it: an error naming the keys)')
    parser.add_argument(
        '--out', required=True,
        help='annotated video: .mp4 / .avi, or a path without extension '
        'for a folder of lossless PNG frames (must not exist or be empty)')
    parser.add_argument(
        '--device', default='cuda:0' if torch.cuda.is_available() else 'cpu',
        help='cpu, cuda, cuda:1, ... (default: cuda:0 when available)')
    parser.add_argument(
        '--mode', choices=('online', 'offline'), default='online',
        help="the backbone's test-time support: online (causal, default) "
        'or offline (K frames spread over the whole video)')
    parser.add_argument(
        '--num-support', type=int, default=None,
        help='K (default: model.backbone.test_support.num_support)')
    parser.add_argument(
        '--stride', type=int, default=None,
        help='S of online mode: every S-th frame is kept as a support '
        'candidate (default: model.backbone.test_support.stride)')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw (and dump) predictions with score > thr')
    parser.add_argument('--max-dets', type=int, default=100,
                        help='draw at most this many boxes per frame (the '
                        'highest scores)')
    parser.add_argument('--fps', type=float, default=None,
                        help='output frame rate (default: the video\'s, '
                        f'{DEFAULT_FOLDER_FPS:g} for a folder of frames)')
    parser.add_argument('--gif', default=None,
                        help='also write an animated GIF here (Pillow; kept '
                        'in memory until the end: for short clips)')
    parser.add_argument('--gif-scale', type=float, default=1.0,
                        help='resize factor of the GIF frames')
    parser.add_argument(
        '--timings', default=None,
        help='per-frame times json (default: OUT without extension + '
        '_timings.json)')
    parser.add_argument('--dump', default=None,
                        help='pickle the drawn predictions of every frame '
                        '(list of dicts: frame, bboxes, scores, labels, ...)')
    parser.add_argument('--verbose', action='store_true',
                        help='print one line per frame instead of a '
                        'progress bar')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings (key=value, mmengine syntax)')
    return parser.parse_args(argv)


# ------------------------------------------------------------------ checks
def check_args(args: argparse.Namespace) -> None:
    """Errors for arguments that would fail late (nothing is read yet)."""
    for name in ('config', 'checkpoint'):
        if not osp.isfile(getattr(args, name)):
            raise FileNotFoundError(f'{getattr(args, name)}: no such {name} '
                                    'file')
    ext = osp.splitext(args.out)[1].lower()
    if ext and ext not in VIDEO_OUT_FOURCC:
        raise ValueError(f'--out {args.out}: unsupported extension {ext!r}; '
                         f'use one of {sorted(VIDEO_OUT_FOURCC)} or no '
                         'extension for a folder of PNG frames')
    if not ext and osp.exists(args.out) and (not osp.isdir(args.out)
                                             or os.listdir(args.out)):
        raise ValueError(f'--out {args.out}: a frame-folder output must not '
                         'exist or be an empty folder')
    if args.gif is not None and not args.gif.lower().endswith('.gif'):
        raise ValueError(f'--gif {args.gif}: the file name must end in .gif')
    if args.max_dets < 0:
        raise ValueError(f'--max-dets must be >= 0, got {args.max_dets}')
    if args.gif_scale <= 0:
        raise ValueError(f'--gif-scale must be > 0, got {args.gif_scale}')


def timings_path(args: argparse.Namespace) -> str:
    """Where the per-frame times go."""
    if args.timings:
        return args.timings
    return osp.splitext(args.out.rstrip('/\\'))[0] + '_timings.json'


# ------------------------------------------------------------------ model
def build_model(
        args: argparse.Namespace,
        check: Optional[Callable[[torch.nn.Module], None]] = None
) -> torch.nn.Module:
    """mmdet's ``init_detector`` from the config, then the checkpoint
    loaded strictly (:func:`mmstpn.utils.load_checkpoint_strict`: an
    unreadable file or weights that do not fit the model are an error
    naming the file and the keys, unless ``--allow-partial-load``); the
    model's ``dataset_meta`` comes from the checkpoint as in
    ``init_detector`` (palette: config, then checkpoint, then random).
    ``check(model)`` runs before the checkpoint is read."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'init_cfg' in cfg.model.get('backbone', {}):
        cfg.model.backbone.init_cfg = None  # no pretrained download
    with warnings.catch_warnings(record=True) as caught:
        model = init_detector(cfg, None, device=args.device)
    for w in caught:  # all but its "COCO classes" note (not so here)
        if 'checkpoint is None' not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename,
                                   w.lineno)
    if check is not None:
        check(model)
    checkpoint = load_checkpoint_strict(
        model, args.checkpoint,
        allow_partial=getattr(args, 'allow_partial_load', False))
    config_palette = model.dataset_meta.get('palette')
    meta = checkpoint_dataset_meta(checkpoint)
    if meta is None:
        warnings.warn(f'{args.checkpoint}: no dataset_meta in the '
                      'checkpoint; using COCO class names')
    else:
        model.dataset_meta = meta
        if config_palette != 'random' or 'palette' not in meta:
            model.dataset_meta['palette'] = config_palette
    return model


def set_support_policy(model: torch.nn.Module,
                       args: argparse.Namespace) -> Optional[SupportPolicy]:
    """Give every STPN backbone of ``model`` the demo's policy (its
    ``num_support`` / ``stride`` unless given); None for a model without
    STPN backbone (a per-frame detector)."""
    context = find_video_context(model)
    if context is None:
        return None
    change = dict(mode=args.mode)
    if args.num_support is not None:
        change['num_support'] = args.num_support
    if args.stride is not None:
        change['stride'] = args.stride
    return context.set_policy(change)  # one switch for every consumer


def offline_support_positions(policy: SupportPolicy,
                              num_frames: int) -> List[int]:
    """The frames that frame 0 carries in offline mode (the test
    pipeline's ``SupportFrameSample`` rule: spread over the video)."""
    sampler = SupportFrameSample(method='from_model')
    sampler.set_test_policy(policy)
    return sampler.sample_support(num_frames, 0)[0]


# ------------------------------------------------------------------ data
def _per_frame_steps(steps: list) -> list:
    """A frame's transforms with the loader reading ``results['img']``
    (mmdet's ``LoadImageFromNDArray``) and no annotation loading."""
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


def build_frame_pipeline(cfg: Config) -> Tuple[Compose, bool]:
    """The config's test pipeline for frames in memory.

    The support-frame sampler is dropped (the demo passes the frames), the
    loader reads arrays, annotation loaders are dropped; a
    ``TransformBroadcaster`` keeps its shared per-frame transforms.

    Returns:
        tuple[Compose, bool]: The pipeline and whether it takes per-frame
        lists (a ``TransformBroadcaster`` clip pipeline).
    """
    steps, broadcast = [], False
    for step in copy.deepcopy(get_test_pipeline_cfg(cfg)):
        cls = TRANSFORMS.get(step['type'])
        if cls is None:
            raise ValueError(f'{cfg.filename}: test pipeline step '
                             f'{step["type"]!r} is not registered')
        if issubclass(cls, BaseFrameSample):
            continue
        if issubclass(cls, TransformBroadcaster):
            step['transforms'] = _per_frame_steps(step['transforms'])
            broadcast = True
            steps.append(step)
        else:
            steps.extend(_per_frame_steps([step]))
    return Compose(steps), broadcast


def clip_inputs(frames: List[np.ndarray], frame_ids: List[int],
                video_key: str, num_frames: int, broadcast: bool) -> dict:
    """Pipeline input of one key frame (``frames[0]``) and its support
    frames: per-frame lists for a clip pipeline, else one image."""
    items = [
        dict(img=img, img_id=fid, frame_id=fid, video_id=video_key,
             video_length=num_frames)
        for img, fid in zip(frames, frame_ids)
    ]
    if not broadcast:
        if len(items) > 1:
            raise ValueError('offline mode needs a clip test pipeline '
                             '(TransformBroadcaster + PackClipInputs) to '
                             'carry the support frames')
        return items[0]
    return {key: [item[key] for item in items] for key in items[0]}


def predict(model: torch.nn.Module, pipeline: Compose,
            inputs: dict) -> DetDataSample:
    """Pipeline, data preprocessor and ``test_step`` of one frame."""
    data = pipeline(inputs)
    batch = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
    with torch.no_grad():
        return model.test_step(batch)[0]


def kept_instances(sample: DetDataSample, score_thr: float,
                   max_dets: int) -> Tuple[str, InstanceData]:
    """The predictions that are drawn: ``score > score_thr``, at most
    ``max_dets`` (highest scores first); track predictions when the sample
    has them."""
    key = 'pred_track_instances' if 'pred_track_instances' in sample \
        else 'pred_instances'
    inst = getattr(sample, key).cpu()
    if 'scores' in inst:
        inst = inst[inst.scores > score_thr]
        order = torch.argsort(inst.scores, descending=True, stable=True)
        inst = inst[order[:max_dets]]
    else:
        inst = inst[:max_dets]
    return key, inst


def to_record(frame: int, inst: InstanceData) -> Dict[str, np.ndarray]:
    """A picklable record of one frame's drawn predictions."""
    record = dict(frame=frame)
    for field in ('bboxes', 'scores', 'labels', 'instances_id', 'masks'):
        if field in inst:
            value = getattr(inst, field)
            record[field] = value.numpy() if isinstance(
                value, torch.Tensor) else np.asarray(value)
    return record


class Drawer:
    """mmdet's visualizers on original frames.

    Args:
        cfg (Config): The model config (``visualizer`` settings; default
            ``DetLocalVisualizer``).
        dataset_meta (dict): ``classes`` and ``palette``.
    """

    _count = 0

    def __init__(self, cfg: Config, dataset_meta: dict) -> None:
        Drawer._count += 1
        self.name = f'video_demo_{os.getpid()}_{Drawer._count}'
        vis_cfg = copy.deepcopy(
            cfg.get('visualizer') or dict(type='DetLocalVisualizer'))
        vis_cfg.update(name=self.name, vis_backends=None, save_dir=None)
        self.det = VISUALIZERS.build(vis_cfg)
        self.det.dataset_meta = dataset_meta
        self.dataset_meta = dataset_meta
        self.track = None

    def draw(self, frame: np.ndarray, key: str, inst: InstanceData,
             metainfo: dict, score_thr: float) -> np.ndarray:
        """The BGR ``frame`` with ``inst`` drawn (a new array)."""
        sample = DetDataSample(metainfo=metainfo)
        setattr(sample, key, inst)
        visualizer = self.det
        if key == 'pred_track_instances':
            if self.track is None:
                try:
                    import seaborn  # noqa: F401
                except ImportError as e:
                    raise ImportError(
                        'the model predicts pred_track_instances; drawing '
                        "their ids uses mmdet's TrackLocalVisualizer, which "
                        'needs seaborn: pip install seaborn') from e
                self.track = VISUALIZERS.build(
                    dict(type='TrackLocalVisualizer',
                         name=self.name + '_track'))
                self.track.dataset_meta = self.dataset_meta
            visualizer = self.track
        visualizer.add_datasample(
            'frame', frame[..., ::-1].copy(), sample, draw_gt=False,
            pred_score_thr=score_thr)
        return np.ascontiguousarray(visualizer.get_image()[..., ::-1])


# ------------------------------------------------------------------ run
def _sync(device: str) -> None:
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def run(args: argparse.Namespace) -> dict:
    """The demo; returns the summary written to the timings json."""
    check_args(args)
    source: FrameSource = open_frames(args.video)
    model = build_model(args)
    policy = set_support_policy(model, args)
    pipeline, broadcast = build_frame_pipeline(model.cfg)
    positions = offline_support_positions(policy, source.num_frames) \
        if policy is not None and policy.mode == 'offline' else []
    drawer = Drawer(model.cfg, model.dataset_meta)
    fps = args.fps or source.fps or DEFAULT_FOLDER_FPS
    video_key = args.video
    frames_out: List[dict] = []
    records: List[dict] = []
    start_all = time.perf_counter()
    with StagedOutputs() as staged:
        folder_out = not osp.splitext(args.out)[1]
        sink = FrameSink(staged.stage(args.out, folder=folder_out), fps,
                         args.out)
        gif = GifSink(fps, args.gif_scale) if args.gif else None
        progress = None if args.verbose else ProgressBar(source.num_frames)
        try:
            for t, frame in enumerate(source):
                frames, ids = [frame], [t]
                if t == 0 and positions:
                    ids += positions
                    frames += source.read_frames(positions)
                inputs = clip_inputs(frames, ids, video_key,
                                     source.num_frames, broadcast)
                _sync(args.device)
                tic = time.perf_counter()
                sample = predict(model, pipeline, inputs)
                _sync(args.device)
                seconds = time.perf_counter() - tic
                key, inst = kept_instances(sample, args.score_thr,
                                           args.max_dets)
                drawn = drawer.draw(frame, key, inst, sample.metainfo,
                                    args.score_thr)
                sink.write(drawn)
                if gif is not None:
                    gif.write(drawn)
                frames_out.append(
                    dict(frame=t, seconds=seconds, num_boxes=len(inst)))
                if args.dump:
                    records.append(to_record(t, inst))
                if progress is not None:
                    progress.update()
                else:
                    print(f'frame {t}: {seconds * 1000:.1f} ms, '
                          f'{len(inst)} boxes', flush=True)
        finally:
            sink.close()
            if progress is not None:
                print()  # end the progress bar's line (also on an error)
            context = find_video_context(model)
            if context is not None:
                context.clear()
        if not frames_out:
            raise ValueError(f'{args.video}: no frame could be decoded '
                             f'(it declares {source.num_frames} frames)')
        if len(frames_out) != source.num_frames:
            print(f'warning: {args.video} declares {source.num_frames} '
                  f'frames but {len(frames_out)} were decoded')
        summary = summarize(args, policy, frames_out, fps, sink,
                            time.perf_counter() - start_all)
        with open(staged.stage(timings_path(args)), 'w') as f:
            json.dump(dict(summary=summary, frames=frames_out), f, indent=1)
        if args.dump:
            with open(staged.stage(args.dump), 'wb') as f:
                pickle.dump(records, f)
        if gif is not None:
            gif.save(staged.stage(args.gif))
        staged.commit()
    mean_ms = summary['mean_seconds'] * 1000
    print(f'{args.out}: {summary["num_frames"]} frames {sink.size[0]}x'
          f'{sink.size[1]} at {fps:g} fps; model {mean_ms:.1f} ms/frame '
          f'mean ({summary["model_fps"]:.2f} fps), timings -> '
          f'{timings_path(args)}')
    return summary


def summarize(args: argparse.Namespace, policy: Optional[SupportPolicy],
              frames: List[dict], fps: float, sink: FrameSink,
              wall: float) -> dict:
    """The summary entry of the timings json."""
    seconds = np.array([f['seconds'] for f in frames])
    return dict(
        video=args.video,
        config=args.config,
        checkpoint=args.checkpoint,
        out=args.out,
        device=str(args.device),
        mode=None if policy is None else policy.mode,
        num_support=None if policy is None else policy.num_support,
        stride=None if policy is None else policy.stride,
        score_thr=args.score_thr,
        num_frames=len(frames),
        width=sink.size[0],
        height=sink.size[1],
        out_fps=fps,
        total_seconds=float(seconds.sum()),
        mean_seconds=float(seconds.mean()),
        median_seconds=float(np.median(seconds)),
        max_seconds=float(seconds.max()),
        model_fps=float(len(frames) / max(seconds.sum(), 1e-12)),
        wall_seconds=wall,
        total_boxes=int(sum(f['num_boxes'] for f in frames)),
        timed='test pipeline + data preprocessor + model.test_step per '
        'frame (not decoding, drawing or writing)')


def main(argv: Optional[List[str]] = None) -> dict:
    return run(parse_args(argv))


if __name__ == '__main__':
    main()
