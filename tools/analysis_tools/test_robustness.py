"""Robustness of a video detector to corrupted key / support frames, and
test-time ablations (the video version of mmdet's test_robustness.py).

For every corruption x severity x target, ``ClipCorrupt`` is inserted into
the test pipeline (after ``TransformBroadcaster``, before ``PackClipInputs``;
``--corrupt-stage loaded`` corrupts right after ``LoadImageFromFile``,
before ``Resize``, as mmdet does for images) and mmengine's test loop runs
with the config's evaluator (``VIDMetric``: AP50 overall, motion split,
``deteriorated`` subset, ...). The clean test (severity 0) is always run.

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
    C=configs/stpn; T=swin-tiny-p4-w4_fpn_1xb4-1500i_toy-vid
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

Outputs (main process): the tables on stdout, ``--out`` (JSON: every
record's full metric dict, P / mPC / rPC and means per metric; written
after every run, ``--resume`` skips the runs it already holds), ``--plot``
(metric vs severity, one line per target and model, mean over the
corruptions), ``<plot>_per_corruption.png`` with ``--plot-per-corruption``,
``<plot>_sweep.png`` for sweeps.
"""
import argparse
import copy
import gc
import os.path as osp
import sys
import time
import warnings
from typing import Any, Dict, List, Optional

# run from a checkout without installing: make `import mmstpn` work
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mmengine.config import Config  # noqa: E402
from mmengine.dataset import Compose  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

import mmstpn  # noqa: E402,F401  (registers modules, checkpoint globals)
from mmstpn.datasets.transforms.corruption import (  # noqa: E402
    CLIP_CORRUPT_TARGETS, CORRUPTION_GROUPS, resolve_corruptions)
from mmstpn.utils import launch  # noqa: E402
from mmstpn.utils.robustness import (CLEAN, CORRUPT_STAGES,  # noqa: E402
                                     DEFAULT_METRIC, RobustnessResults,
                                     SweepResults, effective_target,
                                     find_sampler, get_metric,
                                     insert_clip_corrupt, parse_sweep,
                                     parse_sweep_checkpoints,
                                     set_sampler_args, setting_label,
                                     split_setting, suffixed, support_mode,
                                     sweep_settings, test_dataset_cfg,
                                     write_json)


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
# one model: a runner, its dataset and evaluator, reused for every setting
# --------------------------------------------------------------------------
class ModelTester:
    """A built runner with the checkpoint loaded; :meth:`run` tests it with
    a given test pipeline, reusing the dataset (annotations loaded once)
    and the evaluator.

    Args:
        name (str): The model's name (work sub-folder, logger name).
        cfg (Config): Its config, ``load_from`` set.
        strict (bool): Load the checkpoint strictly (every key and shape
            must match): used when a sweep changes the model.
    """

    def __init__(self, name: str, cfg: Config, strict: bool = False):
        self.name = name
        self.cfg = cfg
        self.runner = launch.build_runner(cfg)
        self.runner.call_hook('before_run')
        if strict:
            try:
                self.runner.load_checkpoint(cfg.load_from, strict=True)
            except RuntimeError as e:
                raise RuntimeError(
                    f'{name}: the checkpoint {cfg.load_from} does not fit '
                    'the changed model (a different N_P changes the '
                    'predictor\'s weights: use --sweep-checkpoints '
                    f'NP=CKPT,...):\n{e}') from None
            self.runner._has_loaded = True
        else:
            self.runner.load_or_resume()
        self.evaluator = self.runner.build_evaluator(cfg.test_evaluator)
        loader = self.runner.build_dataloader(cfg.test_dataloader)
        self.dataset = loader.dataset
        del loader
        inner = self.dataset
        while not hasattr(inner, 'pipeline') and hasattr(inner, 'dataset'):
            inner = inner.dataset
        self.inner_dataset = inner
        self.base_pipeline = [
            copy.deepcopy(t) for t in test_dataset_cfg(cfg)['pipeline']
        ]
        self.mode = support_mode(self.base_pipeline)

    def run(self, pipeline: List[dict], label: str) -> Dict[str, Any]:
        """Test with ``pipeline``; returns the evaluator's metrics."""
        runner = self.runner
        self.inner_dataset.pipeline = Compose(copy.deepcopy(pipeline))
        loader_cfg = {
            k: v
            for k, v in self.cfg.test_dataloader.items() if k != 'dataset'
        }
        loader_cfg['dataset'] = self.dataset
        runner._test_dataloader = loader_cfg
        runner._test_evaluator = self.evaluator
        runner._test_loop = runner.build_test_loop(
            copy.deepcopy(self.cfg.test_cfg))
        start = time.perf_counter()
        metrics = runner._test_loop.run()
        print_log(
            f'[{self.name}] {label}: '
            f'{DEFAULT_METRIC}={_fmt(get_metric(metrics, DEFAULT_METRIC))} '
            f'({time.perf_counter() - start:.1f} s)', 'current')
        runner._test_loop = None
        return dict(metrics)

    def close(self) -> None:
        self.runner.call_hook('after_run')
        self.runner = self.dataset = self.inner_dataset = None
        self.evaluator = None
        gc.collect()


def _fmt(v: Optional[float]) -> str:
    return 'n/a' if v is None else f'{v:.4f}'


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
        test_dataset_cfg(cfg)['indices'] = args.max_videos
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
class Outputs:
    """The results, written after every run by the main process."""

    def __init__(self, args, out: str):
        self.out = out
        self.robustness = RobustnessResults(args.metric)
        self.sweep = SweepResults(args.metric)
        if args.resume_runs and osp.exists(out):
            import json
            with open(out) as f:
                data = json.load(f)
            if 'robustness' in data:
                self.robustness = RobustnessResults.from_dict(
                    data['robustness'])
            if 'sweep' in data:
                self.sweep = SweepResults.from_dict(data['sweep'])
            print_log(f'resuming from {out}', 'current')

    def save(self) -> None:
        if not is_main_process():
            return
        data = {}
        if self.robustness.records:
            data['robustness'] = self.robustness.to_dict()
        if self.sweep.records:
            data['sweep'] = self.sweep.to_dict()
        write_json(data, self.out)


def run_corruptions(args, tester: ModelTester, name: str,
                    outputs: Outputs) -> None:
    res = outputs.robustness
    targets = model_targets(args, name, tester.mode)
    # run order: a target that others reuse comes first
    order = sorted(targets, key=lambda t: ['key', 'support', 'both'].index(
        effective_target(tester.mode, t)) if effective_target(
            tester.mode, t) != CLEAN else -1)
    for corruption in args.corruptions:
        for severity in args.severities:
            for target in order:
                if res.has(name, target, corruption, severity):
                    continue
                eff = effective_target(tester.mode, target)
                if eff == CLEAN:
                    res.add(name, target, corruption, severity,
                            res.get(name, CLEAN, CLEAN, 0), same_as=CLEAN)
                    continue
                if eff != target:
                    if not res.has(name, eff, corruption, severity):
                        metrics = tester.run(
                            insert_clip_corrupt(
                                tester.base_pipeline,
                                corrupt_cfg(args, corruption, severity, eff),
                                args.corrupt_stage),
                            f'{eff} {corruption} {severity}')
                        if eff in targets:
                            res.add(name, eff, corruption, severity, metrics)
                    else:
                        metrics = res.get(name, eff, corruption, severity)
                    res.add(name, target, corruption, severity, metrics,
                            same_as=eff)
                else:
                    metrics = tester.run(
                        insert_clip_corrupt(
                            tester.base_pipeline,
                            corrupt_cfg(args, corruption, severity, target),
                            args.corrupt_stage),
                        f'{target} {corruption} {severity}')
                    res.add(name, target, corruption, severity, metrics)
                outputs.save()


def run_clean(tester: ModelTester, name: str, outputs: Outputs,
              info: dict) -> Dict[str, Any]:
    res = outputs.robustness
    res.add_model(name, **info)
    outputs.sweep.add_model(name, **info)
    if not res.has(name, CLEAN, CLEAN, 0):
        res.add(name, CLEAN, CLEAN, 0,
                tester.run(tester.base_pipeline, 'clean'))
        outputs.save()
    return res.get(name, CLEAN, CLEAN, 0)


def run_sweep(args, tester: ModelTester, name: str, work_dir: str,
              outputs: Outputs) -> None:
    sweep = outputs.sweep
    settings = sweep_settings(args.sweep, args.sweep_grid)
    sampler = find_sampler(tester.base_pipeline) or {}
    if sampler.get('method') == 'test_with_adaptive_stride' and any(
            'stride' in s and 'method' not in s for s in settings):
        warnings.warn('stride has no effect in test_with_adaptive_stride '
                      '(offline: K frames spread over the whole video); '
                      'sweep method=online or test_with_fix_stride with it')
    # group the settings by model changes, so that one runner serves many
    groups: Dict[tuple, List[dict]] = {}
    for s in settings:
        _, overrides = split_setting(s)
        groups.setdefault(tuple(sorted(overrides.items())), []).append(s)
    for overrides, items in groups.items():
        todo = [s for s in items if not sweep.has(name, s)]
        if not todo:
            continue
        if overrides:
            label = '_'.join(f'{k.split(".")[-1]}{v}' for k, v in overrides)
            sub = ModelTester(
                f'{name}_{label}',
                model_config(args, args.config, args.checkpoint,
                             f'{name}_{label}', work_dir, dict(overrides)),
                strict=any(k == 'model.backbone.num_prompts'
                           for k, _ in overrides))
        else:
            sub = tester
        try:
            for s in todo:
                sampler_args, _ = split_setting(s)
                metrics = sub.run(
                    set_sampler_args(sub.base_pipeline, sampler_args),
                    setting_label(s))
                sweep.add(name, s, metrics)
                outputs.save()
        finally:
            if sub is not tester:
                sub.close()


def run_np_checkpoints(args, name: str, work_dir: str,
                       outputs: Outputs) -> None:
    for num, ckpt in args.sweep_checkpoints.items():
        setting = dict(num_prompts=num)
        if outputs.sweep.has(name, setting):
            continue
        sub_name = f'{name}_np{num}'
        cfg = model_config(args, args.config, ckpt, sub_name, work_dir,
                           {'model.backbone.num_prompts': num})
        tester = ModelTester(sub_name, cfg, strict=True)
        try:
            metrics = tester.run(tester.base_pipeline, f'N_P={num} ({ckpt})')
        finally:
            tester.close()
        outputs.sweep.add(name, setting, metrics)
        outputs.sweep.models[name].setdefault('np_checkpoints',
                                              {})[str(num)] = ckpt
        outputs.save()


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

    outputs = Outputs(args, out)
    meta = dict(
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
    outputs.robustness.meta.update(meta)
    outputs.sweep.meta.update(meta)

    # configs first: refuse an undefinable target before running anything
    cfgs = [
        model_config(args, config, checkpoint, name, work_dir)
        for name, config, checkpoint in models
    ]
    if args.corruptions:
        for (name, _, _), cfg in zip(models, cfgs):
            model_targets(
                args, name,
                support_mode(test_dataset_cfg(cfg)['pipeline']),
                quiet=True)

    for i, ((name, config, checkpoint), cfg) in enumerate(zip(models, cfgs)):
        tester = ModelTester(name, cfg)
        sampler = find_sampler(tester.base_pipeline) or {}
        info = dict(
            config=config,
            checkpoint=checkpoint,
            mode=tester.mode,
            num_ref_imgs=sampler.get('num_ref_imgs'),
            method=sampler.get('method'),
            stride=sampler.get('stride'),
            num_prompts=cfg.model.get('backbone', {}).get('num_prompts'),
            targets=model_targets(args, name, tester.mode, quiet=True)
            if args.corruptions else [])
        try:
            run_clean(tester, name, outputs, info)
            if not outputs.sweep.has(name, {}) and (
                    args.sweep or args.sweep_checkpoints):
                outputs.sweep.add(
                    name, {}, outputs.robustness.get(name, CLEAN, CLEAN, 0))
            if args.corruptions:
                run_corruptions(args, tester, name, outputs)
            if i == 0 and args.sweep:
                run_sweep(args, tester, name, work_dir, outputs)
        finally:
            tester.close()
        if i == 0 and args.sweep_checkpoints:
            run_np_checkpoints(args, name, work_dir, outputs)
    outputs.save()

    if not is_main_process():
        return
    report = []
    if args.corruptions:
        res = outputs.robustness
        report.append(res.format_report())
        res.plot(plot)
        report.append(f'plot: {plot}')
        if args.plot_per_corruption:
            path = res.plot_per_corruption(suffixed(plot, '_per_corruption'))
            report.append(f'plot: {path}')
    if args.sweep or args.sweep_checkpoints:
        report.append(outputs.sweep.format_table())
        path = outputs.sweep.plot(
            suffixed(plot, '_sweep') if args.corruptions else plot)
        report.append(f'plot: {path}')
    report.append(f'results: {out}')
    print('\n\n'.join(report), flush=True)


if __name__ == '__main__':
    main()
