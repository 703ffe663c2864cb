"""Speed and cost benchmark of an (STPN) detector, optionally against a
baseline, with ratios and the cost goals (docs/tools.md).

Measures INFERENCE only, on synthetic frames (no data loader, no
pre-processing): a video of L frames is fed one frame at a time through the
detector's real ``predict`` path (backbone, neck, RPN, RoI head, NMS), in
the STPN test-time modes:

* offline (released test): frame 0 carries K support frames spread over the
  whole video; the prompts are computed there, cached and reused by the
  later frames. The per-video prompt computation is INCLUDED and amortised
  over the video (the authors' speed test left it out).
* online (causal): every S-th frame's unprompted pass is cached; each frame
  takes the K latest cached embeddings as its support.

With ``--compare OTHER_CONFIG`` or ``--baseline-from-config`` (the same
config with ``model.backbone.num_prompts=0``) both detectors are built in
one process and measured ALTERNATELY frame by frame on the same frames, and
the ratios (first / second) are printed with PASS/FAIL against the cost
goals of docs/tools.md (never enforced: the exit code does not depend on
them).

``--throughput 1 4 8`` adds batched offline inference (the later frames of
a video in batches of B, prompts from the cache: frames/s per batch size);
``--compile`` adds eager vs ``torch.compile`` d backbone passes of every
model (compile time, compiled-vs-eager difference, ratios).

``--also NAME=CONFIG`` (repeatable) adds detectors to the same alternating
run, e.g. SELSA / Temporal RoI Align / STPN + SELSA next to STPN and the
single-frame baseline at the same backbone and input. SELSA-type detectors
get their reference frames like STPN its support frames: offline, frame 0
carries the K frames spread over the video (their backbone pass, RPN
proposals and reference head states are computed there and kept in the
model's memory), later frames reuse the memory; online, the model keeps
its past key frames. Their per-frame latency (reference work and memory
included) is reported as a ratio to the baseline (``latency_vs_baseline``).

Reported per model and mode: per-frame latency (median-based, with the
p10/median/p90 of the frame times and the per-repeat range of the ratios),
FPS, parameters (total, predictor), FLOPs per frame of the whole detector
including attention (mmengine's FlopAnalyzer with handles for
scaled_dot_product_attention, softmax and element-wise ops), peak memory,
and with ``--train-step`` the training step time and peak training memory
(K=2 support frames, AdamW).

Backbone weights are never downloaded: every ``init_cfg`` / ``pretrained``
inside ``model.backbone`` is set to None and the weights are random unless
``--checkpoint`` is given. Without ``--compare-checkpoint`` the baseline
gets the main model's weights wherever names and shapes match
(``--no-share-weights`` to keep its own), so both see the same proposals.

Examples::

    # STPN vs. the same detector without prompts, CPU-sized
    python tools/analysis_tools/benchmark.py \\
        configs/_base_/models/stpn_faster-rcnn_swin-t-p4-w7_fpn.py \\
        --baseline-from-config --img-size 320 512 --frame-cap 30 \\
        --online-length 60 --threads 1 --train-step --json bench.json

    # STPN, SELSA and TRoI against the single-frame baseline (toy configs,
    # T=faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py)
    python tools/analysis_tools/benchmark.py configs/stpn/stpn_$T \
        --compare configs/stpn/$T --also selsa=configs/selsa/selsa_$T \
        --also troi=configs/temporal_roi_align/troi_$T \
        --img-size 128 128 --video-lengths 16 --mode offline --threads 1 \
        --no-flops --no-memory

    # two configs, full ImageNet VID mean-length videos, on a GPU
    python tools/analysis_tools/benchmark.py STPN_CFG --compare BASE_CFG \\
        --checkpoint stpn.pth --compare-checkpoint base.pth --device cuda
"""
import argparse
import contextlib
import copy
import os.path as osp
import sys
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmstpn  # noqa: F401  (registers the STPN modules)
from mmstpn.utils.benchmark_utils import (BenchSettings, format_report,
                                          run_benchmark, share_weights,
                                          write_json)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Inference / training cost benchmark of a detector, '
        'optionally against a baseline (ratios and the cost goals of '
        'docs/tools.md)',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('config', help='config of the (STPN) detector')
    p.add_argument('--checkpoint', help='weights of the detector')
    cmp = p.add_mutually_exclusive_group()
    cmp.add_argument(
        '--compare',
        metavar='OTHER_CONFIG',
        help='baseline config, measured alternately in the same process')
    cmp.add_argument(
        '--baseline-from-config',
        action='store_true',
        help='baseline = CONFIG with model.backbone.num_prompts=0')
    p.add_argument('--compare-checkpoint', help='weights of the baseline')
    p.add_argument(
        '--also',
        metavar='NAME=CONFIG',
        action='append',
        default=[],
        help='one more detector measured in the same run (repeatable; '
        'e.g. selsa=configs/selsa/...): SELSA-type detectors get their '
        'reference frames as STPN gets its support frames; its per-frame '
        'latency is reported as a ratio to the baseline')
    p.add_argument(
        '--also-checkpoint',
        metavar='NAME=CHECKPOINT',
        action='append',
        default=[],
        help='weights of an --also model (default: the main model\'s '
        'weights wherever names and shapes match, unless '
        '--no-share-weights)')
    p.add_argument(
        '--no-share-weights',
        action='store_true',
        help='do not copy the main model\'s weights into the baseline')
    p.add_argument(
        '--mode', choices=('offline', 'online', 'both'), default='both')
    p.add_argument(
        '--video-lengths',
        type=int,
        nargs='+',
        default=[30, 100, 317],
        help='offline video lengths L (317: ImageNet VID val mean)')
    p.add_argument(
        '--online-length',
        type=int,
        default=100,
        help='frames of the online video')
    p.add_argument(
        '--num-support', type=int, default=14, help='test-time K')
    p.add_argument(
        '--stride', type=int, default=4, help='online support stride S')
    p.add_argument(
        '--img-size',
        type=int,
        nargs=2,
        default=[600, 1000],
        metavar=('H', 'W'),
        help='frame size (img_shape); the batch input is padded')
    p.add_argument(
        '--pad-divisor',
        type=int,
        help='pad the batch input to multiples of it (default: the '
        'config\'s data_preprocessor.pad_size_divisor, else 32)')
    p.add_argument(
        '--warmup', type=int, default=2, help='warm-up frames per mode')
    p.add_argument(
        '--repeats',
        type=int,
        default=3,
        help='passes over the videos of each mode')
    p.add_argument(
        '--frame-cap',
        type=int,
        help='run at most this many frames per offline video and '
        'extrapolate longer ones (frame 0 + median later frame; marked *): '
        'every offline frame after frame 0 does the same work')
    p.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='cpu, cuda or cuda:N')
    p.add_argument(
        '--amp',
        choices=('fp16', 'bf16'),
        help='run every measured pass (inference, training step, memory, '
        'throughput) under torch.autocast in this dtype (the models stay '
        'fp32, as with tools/train.py --amp); default: fp32. For CUDA: on '
        "the CPU mmcv's NMS has no fp16 / bf16 kernel")
    p.add_argument(
        '--threads',
        type=int,
        help='torch CPU threads (on a CPU shared with other jobs, 1 avoids '
        'OpenMP oversubscription stalls)')
    p.add_argument(
        '--train-step',
        action='store_true',
        help='also time a training step and its peak memory')
    p.add_argument(
        '--train-num-support',
        type=int,
        default=2,
        help='support frames per item in the training step')
    p.add_argument('--train-batch-size', type=int, default=1)
    p.add_argument(
        '--train-steps',
        type=int,
        default=5,
        help='timed training steps per model (after max(1, warmup))')
    p.add_argument(
        '--no-flops', action='store_true', help='skip the FLOP count')
    p.add_argument(
        '--no-memory', action='store_true', help='skip peak memory')
    p.add_argument(
        '--throughput',
        type=int,
        nargs='+',
        metavar='BATCH',
        help='also measure batched offline inference: frames/s with the '
        'later frames of a video in batches of each size (e.g. 1 4 8; '
        'frame 0 runs alone and computes the prompts)')
    p.add_argument(
        '--throughput-frames',
        type=int,
        default=16,
        help='timed later frames per batch size (rounded up to whole '
        'batches; one warm-up batch before)')
    p.add_argument(
        '--compile',
        action='store_true',
        help='also measure every model with its backbone passes under '
        'torch.compile (eager vs compiled, alternating; includes the '
        'compilation time and the compiled-vs-eager difference)')
    p.add_argument(
        '--compile-backend',
        default='inductor',
        help='torch.compile backend for --compile')
    p.add_argument(
        '--compile-mode',
        help='torch.compile mode for --compile (e.g. max-autotune, '
        'reduce-overhead on CUDA)')
    p.add_argument(
        '--compile-frames',
        type=int,
        default=6,
        help='frames per offline video (frame 0 included) per repeat in '
        'the --compile phase')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', metavar='FILE', help='write every figure')
    p.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings (applied to both configs)')
    args = p.parse_args(argv)
    if args.compare_checkpoint and not (args.compare
                                        or args.baseline_from_config):
        p.error('--compare-checkpoint needs --compare or '
                '--baseline-from-config')
    for name in ('repeats', 'num_support', 'stride', 'online_length',
                 'train_num_support', 'train_batch_size'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0 or args.train_steps < 0:
        p.error('--warmup and --train-steps must be >= 0')
    if args.throughput and min(args.throughput) < 1:
        p.error('--throughput batch sizes must be >= 1')
    if args.throughput_frames < 1:
        p.error('--throughput-frames must be >= 1')
    if args.compile_frames < 2:
        p.error('--compile-frames must be >= 2 (frame 0 and a later one)')
    args.also = _named(p, '--also', args.also)
    args.also_checkpoint = _named(p, '--also-checkpoint',
                                  args.also_checkpoint)
    for name in args.also_checkpoint:
        if name not in args.also:
            p.error(f'--also-checkpoint {name}=...: no --also {name}=...')
    if args.also and not (args.compare or args.baseline_from_config):
        p.error('--also needs a baseline (--compare or '
                '--baseline-from-config) for its latency ratios')
    if args.frame_cap is not None and args.frame_cap < 1:
        p.error('--frame-cap must be >= 1')
    if min(args.video_lengths) < 1:
        p.error('--video-lengths must be >= 1')
    return args


def _named(parser, flag, items):
    """``['a=x', 'b=y']`` -> ``{'a': 'x', 'b': 'y'}`` (errors name the flag
    and the item)."""
    out = {}
    for item in items:
        name, sep, value = item.partition('=')
        if not sep or not name or not value:
            parser.error(f'{flag} {item!r}: expected NAME=VALUE')
        if name in out or name in ('main', 'baseline'):
            parser.error(f'{flag} {item!r}: the name {name!r} is taken')
        out[name] = value
    return out


def strip_init(cfg):
    """Set every ``init_cfg`` / ``pretrained`` in a (nested) config to None
    so that building downloads nothing."""
    if isinstance(cfg, dict):
        for key in list(cfg):
            if key in ('init_cfg', 'pretrained'):
                cfg[key] = None
            else:
                strip_init(cfg[key])
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            strip_init(item)
    return cfg


def load_config(path, options=None, no_prompts=False):
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    if no_prompts:
        cfg.model.backbone.num_prompts = 0
    return cfg


def build_detector(cfg, checkpoint=None, device='cpu'):
    """Build ``cfg.model`` (mmdet registry, no backbone download), load the
    checkpoint, move to ``device``, eval mode."""
    from mmdet.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = copy.deepcopy(cfg.model)
    if 'backbone' in model_cfg:
        strip_init(model_cfg['backbone'])
    model_cfg.pop('pretrained', None)
    model = MODELS.build(model_cfg)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval()


def pad_divisor(cfg, given=None):
    if given:
        return given
    pre = cfg.model.get('data_preprocessor') or {}
    return pre.get('pad_size_divisor') or 32


def compile_options(args):
    """``torch.compile`` arguments of ``--compile`` (None without it)."""
    if not args.compile:
        return None
    options = dict(backend=args.compile_backend)
    if args.compile_mode:
        options['mode'] = args.compile_mode
    return options


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = load_config(args.config, args.cfg_options)
    models = {'main': build_detector(cfg, args.checkpoint, args.device)}
    labels = {'main': osp.basename(args.config)}
    if args.compare or args.baseline_from_config:
        if args.compare:
            other = load_config(args.compare, args.cfg_options)
            labels['baseline'] = osp.basename(args.compare)
        else:
            other = load_config(args.config, args.cfg_options,
                                no_prompts=True)
            labels['baseline'] = (osp.basename(args.config) +
                                  ' with backbone.num_prompts=0')
        models['baseline'] = build_detector(other, args.compare_checkpoint,
                                            args.device)
        if not args.no_share_weights and not args.compare_checkpoint:
            copied, total = share_weights(models['main'], models['baseline'])
            labels['baseline'] += (f' [{copied}/{total} tensors shared '
                                   'with main]')
    for name, path in args.also.items():
        models[name] = build_detector(
            load_config(path, args.cfg_options),
            args.also_checkpoint.get(name), args.device)
        labels[name] = osp.basename(path)
        if not args.no_share_weights and name not in args.also_checkpoint:
            copied, total = share_weights(models['main'], models[name])
            labels[name] += f' [{copied}/{total} tensors shared with main]'
    settings = BenchSettings(
        img_size=tuple(args.img_size),
        pad_divisor=pad_divisor(cfg, args.pad_divisor),
        video_lengths=args.video_lengths,
        online_length=args.online_length,
        num_support=args.num_support,
        stride=args.stride,
        modes=('offline', 'online') if args.mode == 'both' else
        (args.mode, ),
        warmup=args.warmup,
        repeats=args.repeats,
        frame_cap=args.frame_cap,
        device=args.device,
        flops=not args.no_flops,
        memory=not args.no_memory,
        train_step=args.train_step,
        train_num_support=args.train_num_support,
        train_batch_size=args.train_batch_size,
        train_steps=args.train_steps,
        seed=args.seed,
        throughput_batches=tuple(args.throughput or ()),
        throughput_frames=args.throughput_frames,
        compile=compile_options(args),
        compile_frames=args.compile_frames,
        extra=dict(
            config=args.config,
            compare=args.compare,
            baseline_from_config=args.baseline_from_config,
            checkpoint=args.checkpoint,
            compare_checkpoint=args.compare_checkpoint,
            also=args.also,
            also_checkpoint=args.also_checkpoint,
            amp=args.amp or 'fp32',
            cfg_options=dict(args.cfg_options or {})))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    with amp_context(args.amp, args.device):
        results = run_benchmark(models, settings, labels, log)
    print(format_report(results))
    if args.json:
        write_json(results, args.json)
        print(f'\nwrote {args.json}')


def amp_context(amp: Optional[str], device: str):
    """``torch.autocast`` for ``--amp`` (a no-op context without it)."""
    if amp is None:
        return contextlib.nullcontext()
    dtype = dict(fp16=torch.float16, bf16=torch.bfloat16)[amp]
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


if __name__ == '__main__':
    main()
