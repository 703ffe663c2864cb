"""Track one object through a video with an mmstpn single-object tracker
and write the annotated video.

Give the video (a file or a folder of frames), the tracker's config and
checkpoint, and the target's box in the first frame (``x,y,w,h``, pixels,
GOT-10k's convention). Frames are decoded, tracked and written one at a
time with the online protocol of the tests (frame 0: the given box; every
later frame: one box, the prompts from the tracker's cache of past search
crops). Each frame goes through the config's test pipeline (frames from
memory), the data preprocessor and ``model.test_step``; the box is drawn
on the frame. The boxes and the tracker's per-frame times go to a json;
nothing is written at ``--out`` unless the whole video went through.

Example::

    python demo/sot_demo.py clip.mp4 \
        configs/stpn_sot/stpn_one-stream_vit-b-p16_4xb32-100e_got10k.py \
        tracker.pth --box 120,80,60,40 --out clip_track.mp4 --device cpu
"""
import argparse
import json
import os.path as osp
import time
from typing import List, Optional

import cv2
import mmcv
import numpy as np
from mmdet.registry import MODELS
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

from mmstpn.apis import VideoInferencer, init_model
from mmstpn.models.sot import OneStreamTracker
from mmstpn.utils.video_io import (VIDEO_OUT_FOURCC, FrameSink, GifSink,
                                   StagedOutputs, open_frames)

DEFAULT_FOLDER_FPS = 10.0


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('video', help='video file or folder of frames')
    parser.add_argument('config', help='tracker config')
    parser.add_argument('checkpoint', help='tracker checkpoint')
    parser.add_argument(
        '--allow-partial-load', action='store_true',
        help='load a checkpoint whose weights do not all fit the model '
        '(without it: an error naming the keys)')
    parser.add_argument('--box', required=True,
                        help='target box in the first frame: x,y,w,h')
    parser.add_argument('--out', required=True,
                        help='annotated video (.mp4 / .avi) or a folder '
                        '(no extension) of PNG frames')
    parser.add_argument('--json', help='boxes and times (default: --out '
                        'with _track.json)')
    parser.add_argument('--gif', help='also write an animated GIF')
    parser.add_argument('--gif-scale', type=float, default=1.0)
    parser.add_argument('--fps', type=float,
                        help='output frame rate (default: the video\'s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--thickness', type=int, default=2)
    parser.add_argument('--verbose', action='store_true',
                        help='one line per frame instead of a progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'model.backbone.test_support.stride=5')
    return parser.parse_args(argv)


def parse_box(text: str) -> List[float]:
    """``'x,y,w,h'`` -> [x, y, w, h] (w, h > 0)."""
    parts = text.split(',')
    try:
        box = [float(p) for p in parts]
    except ValueError:
        box = []
    if len(box) != 4 or not all(np.isfinite(box)):
        raise ValueError(f'--box {text!r}: expected 4 comma-separated '
                         'numbers x,y,w,h')
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f'--box {text!r}: width and height must be > 0')
    return box


def check_args(args: argparse.Namespace) -> List[float]:
    box = parse_box(args.box)
    ext = osp.splitext(args.out)[1].lower()
    if ext and ext not in VIDEO_OUT_FOURCC:
        raise ValueError(f'--out {args.out}: use .mp4, .avi or a folder '
                         '(no extension)')
    if args.gif and not args.gif.lower().endswith('.gif'):
        raise ValueError(f'--gif {args.gif}: must end with .gif')
    return box


def json_path(args: argparse.Namespace) -> str:
    if args.json:
        return args.json
    return osp.splitext(args.out.rstrip('/\\'))[0] + '_track.json'


def draw(frame: np.ndarray, box_xyxy: np.ndarray, t: int,
         thickness: int) -> np.ndarray:
    """The box (green; the given box of frame 0 in blue) and the frame
    index."""
    colour = 'blue' if t == 0 else 'green'
    out = mmcv.imshow_bboxes(
        frame.copy(), [np.asarray(box_xyxy, np.float32)[None]],
        colors=colour, thickness=thickness, show=False)
    cv2.putText(out, str(t), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (255, 255, 255), 1, cv2.LINE_AA)
    return out


def run(args: argparse.Namespace) -> dict:
    """The demo; returns the summary written to the json."""
    box = check_args(args)
    source = open_frames(args.video)

    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cls = MODELS.get(cfg.model.type)
    if model_cls is None or not issubclass(model_cls, OneStreamTracker):
        raise ValueError(f'{args.config}: model.type is {cfg.model.type}, '
                         'not a single-object tracker (OneStreamTracker); '
                         'for detectors use demo/video_demo.py')
    inferencer = VideoInferencer(init_model(
        cfg, args.checkpoint, device=args.device,
        cfg_options=args.cfg_options,
        allow_partial_load=args.allow_partial_load))
    fps = args.fps or source.fps or DEFAULT_FOLDER_FPS
    video = osp.basename(args.video.rstrip('/\\')) or args.video
    given = [box[0], box[1], box[0] + box[2], box[1] + box[3]]
    frames_out = []
    start_all = time.perf_counter()
    with StagedOutputs() as staged:
        folder_out = not osp.splitext(args.out)[1]
        sink = FrameSink(staged.stage(args.out, folder=folder_out), fps,
                         args.out)
        gif = GifSink(fps, args.gif_scale) if args.gif else None
        progress = None if args.verbose else ProgressBar(source.num_frames)
        try:
            for t, frame in enumerate(source):
                if t == 0:
                    h, w = frame.shape[:2]
                    if given[0] >= w or given[1] >= h or given[2] <= 0 or \
                            given[3] <= 0:
                        raise ValueError(
                            f'--box {args.box} lies outside the first frame '
                            f'({w}x{h}) of {args.video}')
                sample = inferencer.predict_frame(
                    frame, t, video, source.num_frames,
                    init_bbox=given if t == 0 else None)
                pred = sample.pred_track_instances.bboxes[0].cpu().numpy()
                seconds = float(sample.frame_time)
                drawn = draw(frame, pred, t, args.thickness)
                sink.write(drawn)
                if gif is not None:
                    gif.write(drawn)
                x1, y1, x2, y2 = (float(v) for v in pred)
                frames_out.append(
                    dict(frame=t, box=[x1, y1, x2 - x1, y2 - y1],
                         seconds=seconds))
                if progress is not None:
                    progress.update()
                else:
                    print(f'frame {t}: {seconds * 1000:.1f} ms, box '
                          f'{[round(v, 1) for v in frames_out[-1]["box"]]}',
                          flush=True)
        finally:
            sink.close()
            if progress is not None:
                print()
            inferencer.reset()
        if not frames_out:
            raise ValueError(f'{args.video}: no frame could be decoded '
                             f'(it declares {source.num_frames} frames)')
        seconds = np.array([f['seconds'] for f in frames_out])
        summary = dict(
            video=args.video, config=args.config,
            checkpoint=args.checkpoint, out=args.out, device=args.device,
            given_box=box, num_frames=len(frames_out),
            width=sink.size[0], height=sink.size[1], out_fps=fps,
            mean_seconds=float(seconds.mean()),
            tracker_fps=float(len(seconds) / max(seconds.sum(), 1e-12)),
            wall_seconds=time.perf_counter() - start_all,
            boxes='x, y, w, h in frame pixels (frame 0: the given box)',
            timed="the tracker's own frame_time (crop, backbone, head)")
        with open(staged.stage(json_path(args)), 'w') as f:
            json.dump(dict(summary=summary, frames=frames_out), f, indent=1)
        if gif is not None:
            gif.save(staged.stage(args.gif))
        staged.commit()
    print(f'{args.out}: {len(frames_out)} frames tracked, '
          f'{summary["tracker_fps"]:.1f} fps (tracker), boxes -> '
          f'{json_path(args)}')
    return summary


def main(argv: Optional[List[str]] = None) -> dict:
    return run(parse_args(argv))


if __name__ == '__main__':
    main()
