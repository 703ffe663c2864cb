"""Per-frame latency of a one-stream tracker with and without prompts.

Both trackers are built in ONE process from one config: the config's
tracker and the same tracker with ``model.backbone.num_prompts=0`` (the
baseline, a plain ``OneStreamTracker``: a prompt-supervised tracker tracks
as its parent; it gets the prompted tracker's weights wherever names and shapes
match). They track the same synthetic sequence (a bright square moving on
a noisy background) through their real online ``predict`` path (crop,
support cache, joint pass, center head, decoding), ALTERNATELY frame by
frame, and the median / mean per-frame times and their ratios (prompted /
baseline; the mean includes the support pass of every S-th frame) are
printed. Frame 0 (template + first support pass) is timed
separately as ``init``. Weights are random unless ``--checkpoint`` is given;
nothing is downloaded.

Example::

    python tools/analysis_tools/benchmark_sot.py \\
        configs/stpn_sot/stpn_one-stream_vit-b-p16_4xb32-100e_got10k.py \\
        --frames 30 --img-size 360 480 --threads 1 --json bench_sot.json
"""
import argparse
import json
import statistics
import time


import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='tracker config')
    parser.add_argument('--checkpoint', help='weights of the tracker')
    parser.add_argument('--frames', type=int, default=30,
                        help='frames of the synthetic sequence')
    parser.add_argument('--img-size', type=int, nargs=2, default=[360, 480],
                        metavar=('H', 'W'))
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def synthetic_sequence(num, height, width, device):
    """Frames (num, 1, 3, H, W) in the network's input range and the box
    of frame 0."""
    gen = torch.Generator().manual_seed(0)
    side = max(8, min(height, width) // 8)
    frames = torch.randn(num, 1, 3, height, width, generator=gen) * 0.3
    for t in range(num):
        x = int((width - side) * (0.2 + 0.6 * t / max(1, num - 1)))
        y = (height - side) // 2
        frames[t, :, :, y:y + side, x:x + side] += 2.
    return frames.to(device), [
        int((width - side) * 0.2), (height - side) // 2,
        int((width - side) * 0.2) + side, (height - side) // 2 + side
    ]


def build(cfg, num_prompts=None):
    from mmdet.registry import MODELS
    model_cfg = cfg.model.copy()
    model_cfg.backbone.init_cfg = None  # never download
    if num_prompts is not None:
        model_cfg.backbone.num_prompts = num_prompts
    if num_prompts == 0 and \
            model_cfg.type == 'PromptSupervisedOneStreamTracker':
        # its prompt loss is training-only: it tracks as its parent
        model_cfg.pop('prompt_loss', None)
        model_cfg.type = 'OneStreamTracker'
    return MODELS.build(model_cfg)


def share_weights(src, dst):
    """Copy every tensor of ``src`` with the same name and shape into
    ``dst`` (all but the predictor from the prompted tracker)."""
    own = dst.state_dict()
    same = {k: v for k, v in src.state_dict().items()
            if k in own and own[k].shape == v.shape}
    dst.load_state_dict(same, strict=False)


def run(args):
    torch.set_num_threads(args.threads)
    import mmstpn  # noqa: F401  (registers the modules)
    from mmdet.structures import DetDataSample, TrackDataSample
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope('mmdet')
    prompted = build(cfg)
    if prompted.backbone.num_prompts == 0:
        raise ValueError(f'{args.config}: model.backbone.num_prompts is 0; '
                         'give the prompted tracker config')
    if args.checkpoint:
        load_checkpoint(prompted, args.checkpoint, map_location='cpu')
    baseline = build(cfg, num_prompts=0)
    share_weights(prompted, baseline)
    models = dict(prompted=prompted, baseline=baseline)
    for m in models.values():
        m.to(args.device).eval()
    frames, box0 = synthetic_sequence(args.frames, *args.img_size,
                                      args.device)
    times = {name: [] for name in models}
    init = {}
    for t in range(args.frames):
        for name, model in models.items():
            meta = dict(video_name='synthetic', frame_id=t,
                        img_shape=tuple(args.img_size))
            if t == 0:
                meta['bbox'] = box0
            sample = TrackDataSample()
            sample.video_data_samples = [DetDataSample(metainfo=meta)]
            start = time.perf_counter()
            model.predict(frames[t:t + 1], [sample])
            elapsed = time.perf_counter() - start
            (times[name] if t else init.setdefault(name, [])).append(elapsed)
    res = dict(config=args.config, frames=args.frames,
               img_size=list(args.img_size), threads=args.threads,
               device=args.device)
    for name in models:
        frame_times = times[name] or init[name]
        res[name] = dict(
            median_ms=1e3 * statistics.median(frame_times),
            p10_ms=1e3 * sorted(frame_times)[len(frame_times) // 10],
            p90_ms=1e3 * sorted(frame_times)[
                min(len(frame_times) - 1, len(frame_times) * 9 // 10)],
            mean_ms=1e3 * statistics.fmean(frame_times),
            init_ms=1e3 * init[name][0],
            fps=1. / statistics.median(frame_times))
    res['ratio'] = res['prompted']['median_ms'] / res['baseline'][
        'median_ms']
    # the mean includes the every-S-th-frame support passes the median skips
    res['mean_ratio'] = res['prompted']['mean_ms'] / res['baseline'][
        'mean_ms']
    policy = prompted.backbone.test_support
    res['test_support'] = dict(mode=policy.mode,
                               num_support=policy.num_support,
                               stride=policy.stride)
    return res


def main(argv=None):
    args = parse_args(argv)
    res = run(args)
    pol = res['test_support']
    print(f'one-stream tracker, {res["frames"]} frames of '
          f'{res["img_size"][0]}x{res["img_size"][1]}, {res["threads"]} '
          f'thread(s), {res["device"]}; prompts: online K='
          f'{pol["num_support"]} S={pol["stride"]}')
    for name in ('prompted', 'baseline'):
        r = res[name]
        print(f'  {name:9s} {r["median_ms"]:8.2f} ms/frame (p10 '
              f'{r["p10_ms"]:.2f}, p90 {r["p90_ms"]:.2f}, mean '
              f'{r["mean_ms"]:.2f}), {r["fps"]:.1f} FPS, init '
              f'{r["init_ms"]:.2f} ms')
    print(f'  ratio prompted / baseline: {res["ratio"]:.3f} (median), '
          f'{res["mean_ratio"]:.3f} (mean, with the support passes)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == '__main__':
    main()
