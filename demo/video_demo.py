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
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmengine.config import Config, DictAction
from mmengine.structures import InstanceData
from mmengine.utils import ProgressBar

from mmstpn.apis import VideoInferencer, init_model
from mmstpn.structures import SupportPolicy, find_video_context
from mmstpn.utils.video_io import (VIDEO_OUT_FOURCC, FrameSink, FrameSource,
                                   GifSink, StagedOutputs, open_frames)

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
def build_inferencer(args: argparse.Namespace) -> VideoInferencer:
    """The model (:func:`mmstpn.apis.init_model`: strict checkpoint load,
    ``--allow-partial-load`` to opt out) and the demo's policy, switched once
    for every consumer of the model's video context."""
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options,
                       allow_partial_load=args.allow_partial_load)
    if find_video_context(model) is None:  # a per-frame detector
        return VideoInferencer(model)
    return VideoInferencer(model, args.mode, args.num_support, args.stride)


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
    inferencer = build_inferencer(args)
    model, policy = inferencer.model, inferencer.policy
    positions = inferencer.offline_positions(source.num_frames)
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
                support = list(zip(positions, source.read_frames(
                    positions))) if t == 0 and positions else []
                _sync(args.device)
                tic = time.perf_counter()
                sample = inferencer.predict_frame(
                    frame, t, video_key, source.num_frames, support)
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
            inferencer.reset()
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
