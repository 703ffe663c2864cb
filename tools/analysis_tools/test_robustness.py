"""Robustness of a video detector to corrupted key / support frames, and
test-time ablations (the video version of mmdet's test_robustness.py).

For every corruption x severity x target, ``ClipCorrupt`` is inserted into
the test pipeline (after ``TransformBroadcaster``, before ``PackClipInputs``;
``--corrupt-stage loaded`` corrupts right after ``LoadImageFromFile``,
before ``Resize``, as mmdet does for images) and every setting is tested by
a fresh runner (``Runner.from_cfg``) with the config's evaluator
(``VIDMetric``: AP50 overall, motion split, ``deteriorated`` subset, ...).
The clean test (severity 0) is always run.

Targets (which frames of a clip are corrupted; see ``ClipCorrupt``):

* ``key``: the evaluated frames; ``support``: the frames the prompts come
  from; ``both``: all.
* offline (``test_with_adaptive_stride``, released): frame 0 carries the K
  support frames spread over the video and its prompts serve the whole
  video, so ``support`` = clean frames with prompts from corrupted frames.
* online: no support frames are loaded (each frame's cached pass is the
  support of the later frames): ``support`` is not definable (error),
  ``key`` = ``both`` = every frame corrupted for its own pass and as
  support (run once, reported under both names).
* a single-frame model (``num_ref_imgs=0``, the baseline): ``support`` =
  the clean result, ``both`` = ``key`` (reused, not re-run).

Every frame's corruption is seeded from (image path, corruption, severity,
``--corruption-seed``): the same frame is corrupted identically as key and
as support, and runs are reproducible.

``--max-videos N`` tests on the first N videos of the test set only (the
dataset's ``indices=N``; VIDMetric evaluates only the predicted frames):
for smoke runs.

``--compare CONFIG2 CHECKPOINT2`` runs a second model (e.g. the
single-frame baseline) under the same settings and prints both side by side.

``--sweep KEY=V1,V2 ...`` runs the CLEAN test for each value (one key at a
time, the others as in the config; ``--sweep-grid``: every combination):
SupportFrameSample keys ``num_ref_imgs`` (K), ``stride`` (S; used by
``online`` and ``test_with_fix_stride``, no effect on
``test_with_adaptive_stride``), ``method``, ``frame_range``; ``num_prompts``
(N_P: only when the checkpoint fits the changed model, checked strictly:
the attention / mixer predictors have N_P-sized weights, so an N_P sweep
needs one checkpoint per N_P: ``--sweep-checkpoints 2=np2.pth,5=np5.pth``);
or any dotted config key (``model.test_cfg.rcnn.score_thr=0.01,0.05``).
Without an explicit ``--corruptions``, ``--sweep`` runs the sweep only.

Examples::

    # STPN vs. its single-frame baseline on the toy set, 15 corruptions
    C=configs/stpn; T=swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid
    python tools/analysis_tools/test_robustness.py \\
        $C/stpn_faster-rcnn_$T.py STPN.pth \\
        --compare $C/faster-rcnn_$T.py BASE.pth --names STPN baseline \\
        --work-dir work_dirs/robustness_toy --plot-per-corruption

    # quick look: two corruptions, severity 3, first 2 videos
    python tools/analysis_tools/test_robustness.py CFG CKPT \\
        --corruptions gaussian_noise motion_blur --severities 3 \\
        --max-videos 2

    # test-time K and stride (online) ablation
    python tools/analysis_tools/test_robustness.py CFG CKPT \\
        --sweep num_ref_imgs=2,4,8,14 --out sweep.json
    python tools/analysis_tools/test_robustness.py CFG CKPT --sweep-grid \\
        --sweep method=online num_ref_imgs=2,8,14 stride=1,4

Outputs (main process): the tables on stdout, ``--out`` (JSON: ONE store
of every run, corrupted and swept, with its setting and full metric dict,
plus P / mPC / rPC and means per metric, see
``mmstpn/utils/robustness_utils/results.py``; written after every run,
``--resume`` skips the runs it already holds), ``--plot``
(metric vs severity, one line per target and model, mean over the
corruptions), ``<plot>_per_corruption.png`` with ``--plot-per-corruption``,
``<plot>_sweep.png`` for sweeps.
"""
import argparse
import gc
import os.path as osp
import time
import warnings
from typing import Any, Dict, List, Optional

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.runner import load_checkpoint

import mmstpn  # noqa: F401  (registers modules, checkpoint globals)
from mmstpn.datasets.transforms.corruption import (CLIP_CORRUPT_TARGETS,
                                                   CORRUPTION_GROUPS,
                                                   resolve_corruptions)
from mmstpn.utils import launch
from mmstpn.utils.robustness_utils import (
    CLEAN, CORRUPT_STAGES, DEFAULT_METRIC, RobustnessResults,
    apply_support_setting, effective_target, get_metric,
    innermost_test_dataset, insert_clip_corrupt, parse_sweep,
    parse_sweep_checkpoints, setting_label, split_setting, support_mode,
    support_settings, sweep_settings, with_test_pipeline)
from mmstpn.utils.robustness_utils.plots import (plot_per_corruption,
                                                 plot_severity, plot_sweep,
                                                 suffixed)
from mmstpn.utils.robustness_utils.tables import format_report, format_sweep


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Test a video detector under corrupted key / support '
        'frames (imagecorruptions) and under test-time settings',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='corruption groups: ' + ', '.join(
            f'{k} ({len(v)})' for k, v in CORRUPTION_GROUPS.items()))
    p.add_argument('config', help='test config file path')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument(
        '--corruptions',
        nargs='+',
        help='corruption names and/or groups: benchmark (the 15 of '
        'ImageNet-C / COCO-C; the default), all (19), noise, blur, weather, '
        'digital, holdout, none')
    p.add_argument(
        '--severities',
        type=int,
        nargs='+',
        default=[1, 2, 3, 4, 5],
        help='severities 1..5 (the clean test, 0, is always run)')
    p.add_argument(
        '--target',
        nargs='+',
        choices=CLIP_CORRUPT_TARGETS,
        help='frames to corrupt (default: key support both; key only for '
        'an online model)')
    p.add_argument(
        '--corrupt-stage',
        choices=CORRUPT_STAGES,
        default='clip',
        help='clip: the frames the network sees (after the '
        'TransformBroadcaster, i.e. after Resize); loaded: right after '
        'LoadImageFromFile (source size, as mmdet)')
    p.add_argument(
        '--corruption-seed',
        type=int,
        default=0,
        help='mixed into every frame\'s corruption seed')
    p.add_argument(
        '--channel-order',
        choices=('bgr', 'rgb'),
        default='bgr',
        help='channel order of the loaded frames (mmcv loads BGR)')
    p.add_argument(
        '--work-dir',
        help='logs go to WORK_DIR/<model name>/ (default: '
        './work_dirs/robustness/<config name>)')
    p.add_argument(
        '--out', help='results JSON (default: WORK_DIR/robustness.json)')
    p.add_argument(
        '--plot', help='plot file (default: the --out path with .png)')
    p.add_argument(
        '--plot-per-corruption',
        action='store_true',
        help='also plot every corruption (<plot>_per_corruption.png)')
    p.add_argument(
        '--metric',
        default=DEFAULT_METRIC,
        help='metric of the tables and plots (the JSON keeps all)')
    p.add_argument(
        '--max-videos',
        type=int,
        help='test on the first N videos only (smoke runs)')
    p.add_argument(
        '--compare',
        nargs=2,
        metavar=('CONFIG2', 'CHECKPOINT2'),
        help='a second model (e.g. the baseline) run under the same '
        'settings; --cfg-options apply to both')
    p.add_argument(
        '--names',
        nargs='+',
        help='names of the model (and of the --compare model) in the '
        'tables (default: the first word of the config names)')
    p.add_argument(
        '--sweep',
        nargs='+',
        metavar='KEY=V1,V2',
        help='clean test for each value: num_ref_imgs, stride, method, '
        'frame_range (lo:hi), num_prompts, or a dotted config key')
    p.add_argument(
        '--sweep-grid',
        action='store_true',
        help='sweep every combination of the --sweep values')
    p.add_argument(
        '--sweep-checkpoints',
        nargs='+',
        metavar='NP=CKPT',
        help='N_P sweep: one checkpoint per number of prompts, e.g. '
        '2=np2.pth,5=np5.pth (model.backbone.num_prompts=NP)')
    p.add_argument(
        '--resume',
        dest='resume_runs',
        action='store_true',
        help='keep the runs already in --out and skip them')
    launch.add_common_args(p)
    args = launch.finalize_args(p.parse_args(argv))

    bad = [s for s in args.severities if not 0 <= s <= 5]
    if bad:
        p.error(f'severities must be in 1..5 (0 = clean), got {bad}')
    args.severities = sorted({s for s in args.severities if s > 0})
    sweeping = bool(args.sweep or args.sweep_checkpoints)
    if args.corruptions is None:
        args.corruptions = [] if sweeping else ['benchmark']
    try:
        args.corruptions = resolve_corruptions(args.corruptions)
        args.sweep = parse_sweep(args.sweep or [])
        args.sweep_checkpoints = parse_sweep_checkpoints(
            args.sweep_checkpoints or [])
        for setting in sweep_settings(args.sweep):
            split_setting(setting)
    except ValueError as e:
        p.error(str(e))
    if args.corruptions and not args.severities:
        p.error('no severity in 1..5 to run the corruptions at')
    if args.max_videos is not None and args.max_videos < 1:
        p.error('--max-videos must be >= 1')
    if args.names and len(args.names) != (2 if args.compare else 1):
        p.error('--names takes one name per model (two with --compare)')
    return args


# --------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------
def model_config(args, config: str, checkpoint: str, name: str,
                 work_dir: str, overrides: Optional[dict] = None) -> Config:
    """The config of one model: the CLI options, the model's own work
    sub-folder, logger and visualizer names, ``--max-videos``."""
    ns = argparse.Namespace(**vars(args))
    ns.config, ns.checkpoint = config, checkpoint
    ns.work_dir = osp.join(work_dir, name)
    cfg = launch.load_config(ns)
    if overrides:
        cfg.merge_from_dict(overrides)
    cfg.experiment_name = f'robustness_{name}'
    if cfg.get('visualizer') is not None:
        cfg.visualizer['name'] = f'robustness_{name}_visualizer'
    if args.max_videos is not None:
        innermost_test_dataset(cfg)['indices'] = args.max_videos
    # every setting gets a fresh runner whose loader runs one epoch:
    # persistent workers would only add a stalled shutdown (torch waits
    # up to 5 s per worker) to every run
    cfg.test_dataloader['persistent_workers'] = False
    launch.setup_distributed(args.launcher, cfg)
    return cfg


def default_names(args) -> List[str]:
    configs = [args.config] + ([args.compare[0]] if args.compare else [])
    if args.names:
        names = list(args.names)
    else:
        names = [osp.basename(c).split('_')[0] or 'model' for c in configs]
    if len(names) == 2 and names[0] == names[1]:
        names = [names[0] + '1', names[1] + '2']
    return names


def corrupt_cfg(args, corruption: str, severity: int, target: str) -> dict:
    return dict(
        type='ClipCorrupt',
        corruption=corruption,
        severity=severity,
        target=target,
        channel_order=args.channel_order,
        seed=args.corruption_seed)


def corrupted_config(args, cfg: Config, corruption: str, severity: int,
                     target: str) -> Config:
    """A copy of ``cfg`` whose test pipeline corrupts ``target``."""
    pipeline = innermost_test_dataset(cfg)['pipeline']
    return with_test_pipeline(
        cfg,
        insert_clip_corrupt(pipeline,
                            corrupt_cfg(args, corruption, severity, target),
                            args.corrupt_stage))


def model_targets(args, name: str, mode: str,
                  quiet: bool = False) -> List[str]:
    """The targets run (and reported) for a model in ``mode``; exits
    when ``--target support`` is asked of an online model."""
    if args.target:
        if mode == 'online' and 'support' in args.target:
            raise SystemExit(
                f'error: {name} is tested online: --target support is not '
                'definable there (no support frames are loaded; a frame\'s '
                'cached pass is the support of the later frames). Use '
                "--target key (online key = both)")
        return list(args.target)
    if mode == 'online':
        if not quiet:
            print_log(
                f'{name} is tested online: reporting target key only (= '
                'both: each frame corrupted for its own pass and as '
                'support; support alone is not definable)', 'current')
        return ['key']
    return list(CLIP_CORRUPT_TARGETS)


# --------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------
def run_test(cfg: Config, label: str, strict: bool = False) -> Dict[str, Any]:
    """Test ``cfg`` with a fresh runner (its own dataset, evaluator and
    test loop); returns the evaluator's metrics.

    Args:
        cfg (Config): The full config, ``load_from`` set.
        label (str): What is run, for the log.
        strict (bool): First check that the checkpoint fits the model
            exactly (every key and shape): used when a sweep changes the
            model (N_P).
    """
    runner = launch.build_runner(cfg)
    if strict:
        try:
            load_checkpoint(runner.model, cfg.load_from, map_location='cpu',
                            strict=True)
        except RuntimeError as e:
            raise RuntimeError(
                f'{cfg.experiment_name}: the checkpoint {cfg.load_from} does '
                'not fit the changed model (a different N_P changes the '
                'predictor\'s weights: use --sweep-checkpoints '
                f'NP=CKPT,...):\n{e}') from None
    start = time.perf_counter()
    metrics = dict(runner.test())
    print_log(
        f'[{cfg.experiment_name}] {label}: {DEFAULT_METRIC}='
        f'{_fmt(get_metric(metrics, DEFAULT_METRIC))} '
        f'({time.perf_counter() - start:.1f} s)', 'current')
    del runner
    gc.collect()
    return metrics


def _fmt(v: Optional[float]) -> str:
    return 'n/a' if v is None else f'{v:.4f}'


class Job:
    """The results of a run of the tool: one :class:`RobustnessResults`,
    written to ``out`` by the main process after every test."""

    def __init__(self, args, out: str, work_dir: str):
        self.args = args
        self.out = out
        self.work_dir = work_dir
        self.results = RobustnessResults(args.metric)
        if args.resume_runs and osp.exists(out):
            self.results = RobustnessResults.load(out)
            print_log(f'resuming from {out}', 'current')

    def save(self) -> None:
        if is_main_process():
            self.results.dump(self.out)


def run_clean(job: Job, name: str, cfg: Config) -> None:
    if not job.results.has(name, CLEAN, CLEAN, 0):
        job.results.add(name, CLEAN, CLEAN, 0, run_test(cfg, 'clean'))
        job.save()


def run_corruptions(job: Job, name: str, cfg: Config, mode: str) -> None:
    args, res = job.args, job.results
    targets = model_targets(args, name, mode)
    # run order: a target that others reuse comes first
    order = sorted(targets, key=lambda t: ['key', 'support', 'both'].index(
        effective_target(mode, t)) if effective_target(mode, t) != CLEAN
        else -1)
    for corruption in args.corruptions:
        for severity in args.severities:
            for target in order:
                if res.has(name, target, corruption, severity):
                    continue
                eff = effective_target(mode, target)
                if eff == CLEAN:
                    res.add(name, target, corruption, severity,
                            res.get(name, CLEAN, CLEAN, 0), same_as=CLEAN)
                    continue
                if eff != target and res.has(name, eff, corruption,
                                             severity):
                    metrics = res.get(name, eff, corruption, severity)
                else:
                    metrics = run_test(
                        corrupted_config(args, cfg, corruption, severity,
                                         eff),
                        f'{eff} {corruption} {severity}')
                    if eff != target and eff in targets:
                        res.add(name, eff, corruption, severity, metrics)
                res.add(name, target, corruption, severity, metrics,
                        same_as=eff if eff != target else None)
                job.save()


def run_sweep(job: Job, name: str, cfg: Config) -> None:
    args, res = job.args, job.results
    settings = sweep_settings(args.sweep, args.sweep_grid)
    if support_mode(cfg) == 'offline' and any(
            'stride' in s and 'method' not in s for s in settings):
        warnings.warn('stride has no effect in test_with_adaptive_stride '
                      '(offline: K frames spread over the whole video); '
                      'sweep method=online or test_with_fix_stride with it')
    for s in settings:
        if res.has_setting(name, s):
            continue
        support_args, overrides = split_setting(s)
        run_cfg = cfg
        if overrides:
            label = '_'.join(f'{k.split(".")[-1]}{v}'
                             for k, v in sorted(overrides.items()))
            run_cfg = model_config(args, args.config, args.checkpoint,
                                   f'{name}_{label}', job.work_dir,
                                   overrides)
        metrics = run_test(
            apply_support_setting(run_cfg, support_args), setting_label(s),
            strict='model.backbone.num_prompts' in overrides)
        res.add_setting(name, s, metrics)
        job.save()


def run_np_checkpoints(job: Job, name: str) -> None:
    args, res = job.args, job.results
    for num, ckpt in args.sweep_checkpoints.items():
        setting = dict(num_prompts=num)
        if res.has_setting(name, setting):
            continue
        cfg = model_config(args, args.config, ckpt, f'{name}_np{num}',
                           job.work_dir, {'model.backbone.num_prompts': num})
        res.add_setting(name, setting,
                        run_test(cfg, f'N_P={num} ({ckpt})', strict=True))
        res.models[name].setdefault('np_checkpoints', {})[str(num)] = ckpt
        job.save()


def main(argv=None):
    args = parse_args(argv)
    work_dir = args.work_dir or osp.join(
        './work_dirs/robustness',
        osp.splitext(osp.basename(args.config))[0])
    out = args.out or osp.join(work_dir, 'robustness.json')
    plot = args.plot or osp.splitext(out)[0] + '.png'
    names = default_names(args)
    models = [(names[0], args.config, args.checkpoint)]
    if args.compare:
        models.append((names[1], args.compare[0], args.compare[1]))

    job = Job(args, out, work_dir)
    job.results.meta.update(
        corruptions=args.corruptions,
        severities=args.severities,
        targets=args.target,
        corrupt_stage=args.corrupt_stage,
        corruption_seed=args.corruption_seed,
        channel_order=args.channel_order,
        max_videos=args.max_videos,
        cfg_options=args.cfg_options,
        launcher=args.launcher,
        sweep=dict(args.sweep),
        sweep_grid=args.sweep_grid,
        sweep_checkpoints={str(k): v
                           for k, v in args.sweep_checkpoints.items()})

    # configs first: refuse an undefinable target before running anything
    cfgs = [
        model_config(args, config, checkpoint, name, work_dir)
        for name, config, checkpoint in models
    ]
    if args.corruptions:
        for (name, _, _), cfg in zip(models, cfgs):
            model_targets(args, name, support_mode(cfg), quiet=True)

    for i, ((name, config, checkpoint), cfg) in enumerate(zip(models, cfgs)):
        mode = support_mode(cfg)
        job.results.add_model(
            name,
            config=config,
            checkpoint=checkpoint,
            mode=mode,
            **support_settings(cfg),
            num_prompts=cfg.model.get('backbone', {}).get('num_prompts'),
            targets=model_targets(args, name, mode, quiet=True)
            if args.corruptions else [])
        run_clean(job, name, cfg)
        if args.corruptions:
            run_corruptions(job, name, cfg, mode)
        if i == 0 and args.sweep:
            run_sweep(job, name, cfg)
        if i == 0 and args.sweep_checkpoints:
            run_np_checkpoints(job, name)
    job.save()

    if not is_main_process():
        return
    res, report = job.results, []
    if args.corruptions:
        report.append(format_report(res))
        plot_severity(res, plot)
        report.append(f'plot: {plot}')
        if args.plot_per_corruption:
            path = plot_per_corruption(res,
                                       suffixed(plot, '_per_corruption'))
            report.append(f'plot: {path}')
    if args.sweep or args.sweep_checkpoints:
        report.append(format_sweep(res))
        path = plot_sweep(res,
                          suffixed(plot, '_sweep') if args.corruptions
                          else plot)
        report.append(f'plot: {path}')
    report.append(f'results: {out}')
    print('\n\n'.join(report), flush=True)


if __name__ == '__main__':
    main()
