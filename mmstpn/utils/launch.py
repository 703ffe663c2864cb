"""What ``tools/train.py`` and ``tools/test.py`` share.

The tools keep MMDetection 3.3's command line; this module turns the parsed
arguments into config changes (:func:`merge_cli_args`), prepares distributed
runs (:func:`setup_distributed`) and builds the runner (:func:`build_runner`).
Nothing here is specific to one task: video configs (video-aware data
preprocessor, track samplers) go through exactly the same path.

Distributed runs without an accelerator (CPU / gloo)
----------------------------------------------------
mmengine's launchers call ``torch.cuda.set_device`` before creating the
process group, which a CPU-only torch does not allow, and its default model
wrapper pins DDP to ``device_ids=[LOCAL_RANK]``, i.e. to a GPU. When
mmengine finds no accelerator, :func:`setup_distributed` therefore

1. switches ``env_cfg.dist_cfg.backend`` to ``'gloo'``,
2. creates the gloo process group itself from the launcher's environment
   (torchrun: ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT``;
   slurm and MPI variables are translated to those), *before* the runner is
   built, so that the runner sees an initialised group and skips its own
   ``init_dist``,
3. builds the DDP wrapper with ``device_ids=None`` (a CPU module).

With CUDA (or another accelerator mmengine supports) nothing is changed:
mmengine's own NCCL (or HCCL, ...) initialisation runs untouched.
"""
import argparse
import datetime
import gc
import os
import os.path as osp
import subprocess
import warnings
from copy import deepcopy
from types import MethodType
from typing import Optional

import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.device import get_device
from mmengine.dist import is_main_process
from mmengine.hooks import LoggerHook
from mmengine.model import is_model_wrapper
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import Runner
from torch.nn.parallel import DistributedDataParallel

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
class KeyValueAction(DictAction):
    """mmengine's ``DictAction``; a malformed ``key=value`` pair is an
    argparse error naming it (mmengine raises a bare ``ValueError`` /
    ``AssertionError``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        for pair in values:
            if '=' not in pair:
                parser.error(f'{option_string}: {pair!r} is not a key=value '
                             'pair')
        try:
            super().__call__(parser, namespace, values, option_string)
        except (AssertionError, ValueError) as err:
            parser.error(f'{option_string}: cannot parse {values}: {err}')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add the options both tools have (after their own positionals)."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=KeyValueAction,
        help='override settings of the config, as key=value pairs merged '
        'into it, e.g. train_cfg.max_iters=10 or key="[a,b]" for lists '
        '(quotes needed, no spaces)')
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='load a checkpoint whose weights do not all fit the model (the '
        'rest keeps its initialisation; the mismatch is logged). Without '
        'it a mismatch is an error (allow_partial_load=True in a config)')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank (older); torchrun only sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def finalize_args(args: argparse.Namespace) -> argparse.Namespace:
    """Export ``--local-rank`` as ``LOCAL_RANK`` unless the launcher did."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


# --------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------
def load_config(args: argparse.Namespace) -> Config:
    """Read ``args.config`` and apply :func:`merge_cli_args`.

    Raises:
        SyntaxError: Naming the config file when mmengine's message does
            not.
    """
    try:
        cfg = Config.fromfile(args.config)
    except SyntaxError as err:
        if args.config in str(err):
            raise
        raise SyntaxError(f'{args.config} (or a config it inherits) is not '
                          f'valid Python: {err}') from err
    return merge_cli_args(cfg, args)


def merge_cli_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options in ``args`` to ``cfg`` (in place).

    Options a tool does not define are simply absent from ``args`` and
    ignored, so both tools call this with their own namespace. Priority:
    ``--cfg-options`` over the file; ``--work-dir`` over ``work_dir`` in
    the file over ``./work_dirs/<config name>``; ``--resume PATH`` over
    ``--resume`` (latest checkpoint in the work dir).
    """
    cfg.launcher = getattr(args, 'launcher', 'none')
    if getattr(args, 'cfg_options', None):
        cfg.merge_from_dict(args.cfg_options)
    if getattr(args, 'allow_partial_load', False):
        cfg.allow_partial_load = True

    if getattr(args, 'work_dir', None) is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        name = osp.splitext(osp.basename(getattr(args, 'config', 'run')))[0]
        cfg.work_dir = osp.join('./work_dirs', name)

    # ---- training options
    if getattr(args, 'amp', False):
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if getattr(args, 'auto_scale_lr', False):
        scale = cfg.get('auto_scale_lr', None)
        if not scale or 'base_batch_size' not in scale:
            raise RuntimeError(
                '--auto-scale-lr needs `auto_scale_lr = dict(enable=False, '
                'base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True
    resume = getattr(args, 'resume', None)
    if resume is not None:
        cfg.resume = True
        # 'auto': mmengine finds the latest checkpoint in work_dir
        cfg.load_from = None if resume == 'auto' else resume

    # ---- testing options
    if getattr(args, 'checkpoint', None) is not None:
        cfg.load_from = args.checkpoint
    if getattr(args, 'show', False) or getattr(args, 'show_dir', None):
        enable_visualization(cfg, getattr(args, 'show', False),
                             getattr(args, 'show_dir', None),
                             getattr(args, 'wait_time', 2.))
    if getattr(args, 'tta', False):
        apply_tta(cfg)
    return cfg


def enable_visualization(cfg: Config,
                         show: bool = False,
                         show_dir: Optional[str] = None,
                         wait_time: float = 2.) -> Config:
    """Turn on the ``visualization`` hook of ``default_hooks`` for testing.

    ``show_dir`` is relative to ``<work_dir>/<timestamp>/``.
    """
    hook = cfg.get('default_hooks', {}).get('visualization', None)
    if hook is None:
        raise RuntimeError(
            '--show/--show-dir need a visualization hook in the config, e.g. '
            "default_hooks = dict(visualization=dict("
            "type='DetVisualizationHook'))")
    hook['draw'] = True
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    if show_dir:
        hook['test_out_dir'] = show_dir
    return cfg


def apply_tta(cfg: Config) -> Config:
    """Wrap ``cfg.model`` in ``cfg.tta_model`` and test with
    ``cfg.tta_pipeline``; when the config has none, fall back to mmdet's
    horizontal-flip TTA (``DetTTAModel`` + ``TestTimeAug``)."""
    if 'tta_model' not in cfg:
        warnings.warn('no `tta_model` in the config: using DetTTAModel '
                      'with NMS(0.5), 100 detections per image')
        cfg.tta_model = dict(
            type='DetTTAModel',
            tta_cfg=dict(
                nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset['dataset']
    if 'tta_pipeline' not in cfg:
        warnings.warn('no `tta_pipeline` in the config: flipping the test '
                      'pipeline horizontally')
        pipeline = deepcopy(dataset.pipeline)
        pack = pipeline[-1]  # the packing transform, kept with its type
        if 'meta_keys' in pack:  # the TTA model needs to undo the flip
            pack['meta_keys'] = tuple(pack['meta_keys']) + tuple(
                k for k in ('flip', 'flip_direction')
                if k not in pack['meta_keys'])
        pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[[
                dict(type='RandomFlip', prob=1.),
                dict(type='RandomFlip', prob=0.)
            ], [pack]])
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset.pipeline = cfg.tta_pipeline
    return cfg


# --------------------------------------------------------------------------
# distributed
# --------------------------------------------------------------------------
def uses_cpu_distributed(launcher: str) -> bool:
    """Whether :func:`setup_distributed` takes the CPU/gloo path."""
    return launcher != 'none' and get_device() == 'cpu'


def _export_launcher_env(launcher: str) -> None:
    """Fill ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT`` from slurm's or Open MPI's variables (torchrun sets them
    itself)."""
    env = os.environ
    if launcher == 'slurm':
        env['RANK'] = env['SLURM_PROCID']
        env['WORLD_SIZE'] = env['SLURM_NTASKS']
        env['LOCAL_RANK'] = env.get('SLURM_LOCALID', '0')
        if 'MASTER_ADDR' not in env:
            env['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {env["SLURM_NODELIST"]} | head -n1')
    elif launcher == 'mpi':
        env['RANK'] = env['OMPI_COMM_WORLD_RANK']
        env['WORLD_SIZE'] = env['OMPI_COMM_WORLD_SIZE']
        env['LOCAL_RANK'] = env.get('OMPI_COMM_WORLD_LOCAL_RANK', '0')
        if 'MASTER_ADDR' not in env:
            raise KeyError('MPI launcher: set MASTER_ADDR')
    elif launcher != 'pytorch':
        raise ValueError(f'unknown launcher {launcher!r}')
    env.setdefault('MASTER_PORT', '29500')


def setup_distributed(launcher: str, cfg: Config) -> Config:
    """Prepare ``cfg`` (and, on CPU, the process group) for ``launcher``.

    Call it after :func:`merge_cli_args` and before :func:`build_runner`.
    With an accelerator or ``launcher='none'`` it only records the launcher
    and leaves process-group creation to mmengine. Without one it takes the
    CPU path described in the module docstring.
    """
    cfg.launcher = launcher
    if not uses_cpu_distributed(launcher):
        return cfg

    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    if dist_cfg.get('backend', 'gloo') != 'gloo':
        dist_cfg['backend'] = 'gloo'

    if not torch_dist.is_initialized():
        _export_launcher_env(launcher)
        kwargs = {}
        if dist_cfg.get('timeout', None) is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg.timeout)
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **kwargs)

    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        # what mmengine would build, minus the GPU pinning
        wrapper = ConfigDict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper_type = MODEL_WRAPPERS.get(wrapper['type'])
    if isinstance(wrapper_type, type) and issubclass(wrapper_type,
                                                     DistributedDataParallel):
        wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return cfg


# --------------------------------------------------------------------------
# runner
# --------------------------------------------------------------------------
def build_runner(cfg: Config) -> Runner:
    """:class:`~mmstpn.engine.StrictCheckpointRunner` (checked loads,
    atomic saves, resume from the newest readable checkpoint), or the
    registered runner named ``runner_type`` (warned when it is not one);
    on ranks other than 0, the LoggerHooks do not write the test metrics
    json (see :func:`_log_test_epoch_without_json`)."""
    from mmstpn.engine.runner import StrictCheckpointRunner
    if 'runner_type' in cfg:
        from mmdet.registry import RUNNERS
        runner = RUNNERS.build(cfg)
        if not isinstance(runner, StrictCheckpointRunner):
            runner.logger.warning(
                f'runner_type={cfg.runner_type!r} is not a '
                'StrictCheckpointRunner: checkpoints are loaded without the '
                'key check and not written atomically')
    else:
        runner = StrictCheckpointRunner.from_cfg(cfg)
    if not is_main_process():
        for hook in runner.hooks:
            # mmengine's method only, not a subclass's own
            if isinstance(hook, LoggerHook) and type(hook).after_test_epoch \
                    is LoggerHook.after_test_epoch:
                hook.after_test_epoch = MethodType(
                    _log_test_epoch_without_json, hook)
    return runner


def _log_test_epoch_without_json(hook: LoggerHook,
                                 runner: Runner,
                                 metrics: Optional[dict] = None) -> None:
    """``LoggerHook.after_test_epoch`` minus its json dump.

    mmengine's (0.10) ``after_test_epoch`` dumps the metrics to
    ``<work_dir>/<timestamp>/<timestamp>.json`` on EVERY rank, and all ranks
    share the timestamp, hence the file: the concurrent writes can leave
    invalid JSON (one rank's shorter text over the other's longer one, e.g.
    a trailing ``}``). The metrics are the same on all ranks (the evaluator
    broadcasts them), so rank 0 alone writes the file.
    """
    _, log_str = runner.log_processor.get_log_after_epoch(
        runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
    runner.logger.info(log_str)


def teardown_distributed(runner: Optional[Runner] = None) -> None:
    """Destroy the process group the run used, if any. Without it a gloo
    group can abort the process at interpreter exit ("terminate called
    without an active exception") after a successful run.

    The DDP wrapper of ``runner.model`` holds the group as well (in its
    reducer); left to be freed at interpreter exit it can still abort a
    gloo process (docs/getting_started.md). Given the runner, the wrapper is
    replaced by the bare model and collected first.
    """
    if runner is not None and is_model_wrapper(runner.model):
        runner.model = runner.model.module
        gc.collect()
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
