"""Toy tracking experiment: the STPN one-stream tracker vs the same tracker
without prompts on the deteriorated toy tracking set.

Generates the toy set (:mod:`mmstpn.projects.toy_sot.generator`, GOT-10k
layout) once, trains a shared warm start (the tracker without prompts), then
trains from it, with the same data, iterations and seed, the tracker without
prompts (baseline) and the STPN tracker (prompts from the cached search crops
of the two previous frames), one single-threaded process each, at the same
time. Both are tested with the online protocol (frames one by one, batch 1,
``GOT10kMetric``); AO / SR0.5 are reported on all frames and on the
deteriorated / clean frames (``deteriorated.label``), computed from the result
files with ``mmstpn.evaluation.functional.got10k_metrics``. Prints a table and
writes ``results.json`` (with :func:`mmstpn.utils.run_environment`: where it
ran).

``--seed`` sets the generated set, the initialisation and the data order;
``tools/misc/toy_sot_seeds.py`` runs this job over several seeds.

Example::

    python tools/misc/toy_sot_experiment.py --out-dir outputs/toy_sot
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Dict, List, Tuple

import numpy as np
from mmengine.config import Config, DictAction

from mmstpn.projects import configs_root
from mmstpn.projects.run_record import (load_average, pop_run_environment,
                                        worker_environment)
from mmstpn.projects.seeds import SeedsTable
from mmstpn.projects.toy_sot.generator import generate_toy_sot, read_flags
from mmstpn.projects.toy_vid.experiment import without_key_corruption

REPO = configs_root()
#: how a worker process runs this module (``-m``: the package imports as
#: in the main process, from the folder ``configs_root`` names)
WORKER = (sys.executable, '-m', 'mmstpn.projects.toy_sot.experiment')
#: bumped whenever mmstpn.projects.toy_sot.generator writes different data
#: for the same arguments, so a set of another version in --data-dir is
#: regenerated, not reused
GENERATOR_VERSION = 2
CONFIGS = {
    'baseline': 'configs/stpn_sot/one-stream_vit-toy-p8_1xb16-3000i_'
    'toy-sot.py',
    'stpn': 'configs/stpn_sot/stpn_one-stream_vit-toy-p8_1xb16-3000i_'
    'toy-sot.py',
}
#: SOTCropRegion settings of the shared warm start (OSTrack's search crops:
#: around the frame's own box, center jitter 3 = +-1.5 box sides); the
#: fine-tunes use the config's (around the previous frame's box)
WARM_START_CROP = dict(search_center='own', search_jitter=(0.25, 3.0))
#: (column, frames, metric)
COLUMNS = [('AO all', 'all', 'AO'), ('SR0.5 all', 'all', 'SR50'),
           ('AO det', 'deteriorated', 'AO'),
           ('SR0.5 det', 'deteriorated', 'SR50'),
           ('AO clean', 'clean', 'AO'), ('SR0.5 clean', 'clean', 'SR50')]
PROGRESS_KEYS = ('Iter(train)', 'GOT10kMetric (', 'Error', 'Traceback')
#: what ``tools/misc/toy_sot_seeds.py`` tabulates: AO on all /
#: deteriorated / clean frames, baseline and STPN
SEEDS_TABLE = SeedsTable(
    models=(('baseline', 'baseline'), ('stpn', 'STPN')),
    columns=(('all', 'AO all', ('all', 'AO')),
             ('deteriorated', 'AO det.', ('deteriorated', 'AO')),
             ('clean', 'AO clean', ('clean', 'AO'))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', default='outputs/toy_sot')
    parser.add_argument('--data-dir', default='data/toy_sot')
    parser.add_argument('--num-train', type=int, default=300,
                        help='train sequences of the generated toy set')
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--frames', type=int, default=24,
                        help='frames per sequence')
    parser.add_argument('--pretrain-iters', type=int, default=3000,
                        help='iterations of the shared warm start (the '
                        'tracker without prompts; 0: both from scratch)')
    parser.add_argument('--iters', type=int, default=3000,
                        help='iterations of each tracker after the warm '
                        'start')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override settings of both configs (and of the warm start)')
    # internal: one model per process (see run())
    parser.add_argument('--worker', choices=sorted(CONFIGS) + ['pretrain'],
                        help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -------------------------------------------------------------------- data
def ensure_data(args: argparse.Namespace) -> bool:
    """Generate the toy set unless ``args.data_dir`` holds one made with
    the same arguments; True when it was (re)generated."""
    want = dict(num_train=args.num_train, num_val=args.num_val,
                frames=args.frames, seed=args.seed,
                generator=GENERATOR_VERSION)
    info = osp.join(args.data_dir, 'toy_sot_info.json')
    if osp.exists(info):
        with open(info) as f:
            if json.load(f) == want:
                print(f'[main] using the toy set in {args.data_dir}',
                      flush=True)
                return False
    print(f'[main] generating the toy set in {args.data_dir} '
          f'({args.num_train} train / {args.num_val} val sequences of '
          f'{args.frames} frames)', flush=True)
    generate_toy_sot(args.data_dir, num_train=args.num_train,
                     num_val=args.num_val, seed=args.seed,
                     frames_per_sequence=args.frames)
    with open(info, 'w') as f:
        json.dump(want, f)
    return True


# ----------------------------------------------------------------- configs
def load_cfg(name: str, args: argparse.Namespace, iters: int,
             work_name: str, load_from: str = None) -> Config:
    """The config of ``name`` trained for ``iters`` iterations in
    ``out_dir/work_name`` (no validation during training), optionally from
    ``load_from``; its test writes the result files to
    ``work_dir/results``."""
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[name]))
    root = osp.abspath(args.data_dir) + '/'
    cfg.train_dataloader.dataset.data_root = root
    cfg.test_dataloader.dataset.data_root = root
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    warmup = min(100, iters // 2)
    cfg.param_scheduler[0].end = warmup
    cfg.param_scheduler[-1].begin = warmup
    cfg.param_scheduler[-1].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = osp.join(osp.abspath(args.out_dir), work_name)
    cfg.test_evaluator = dict(
        type='GOT10kMetric', outfile_prefix=osp.join(cfg.work_dir, 'results'))
    cfg.load_from = load_from
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def pretrain_cfg(args: argparse.Namespace) -> Config:
    """The shared warm start: the baseline config on the frames as they
    are (no search corruption) with OSTrack's crops (``WARM_START_CROP``:
    own box, large center jitter)."""
    cfg = load_cfg('baseline', args, args.pretrain_iters, 'pretrain')
    dataset = cfg.train_dataloader.dataset
    dataset.pipeline = without_key_corruption(dataset.pipeline)
    for step in dataset.pipeline:
        if step.get('type') == 'SOTCropRegion':
            step.update(WARM_START_CROP)
    return cfg


def pretrain_path(args: argparse.Namespace) -> str:
    return osp.join(osp.abspath(args.out_dir), 'pretrain',
                    f'iter_{args.pretrain_iters}.pth')


# ----------------------------------------------------------------- metrics
def frame_metrics(data_dir: str, results_dir: str) -> Dict[str, dict]:
    """AO / SR0.5 / SR0.75 of the val result files on all, deteriorated and
    clean frames (GOT-10k rules: frame 0 skipped, ``cover > 0``, image
    bound), from ``<seq>/<seq>_001.txt`` and the sequences' labels."""
    from mmstpn.evaluation.functional import got10k_metrics
    val_dir = osp.join(data_dir, 'val')
    with open(osp.join(val_dir, 'list.txt')) as f:
        names = [n.strip() for n in f if n.strip()]
    preds, gts, covers, sizes = [], [], {'all': [], 'deteriorated': [],
                                         'clean': []}, []
    for name in names:
        seq = osp.join(val_dir, name)
        pred_file = osp.join(results_dir, name, f'{name}_001.txt')
        if not osp.isfile(pred_file):
            raise FileNotFoundError(f'{pred_file}: no result for val '
                                    f'sequence {name!r}')
        preds.append(np.loadtxt(pred_file, delimiter=',', ndmin=2))
        gts.append(np.loadtxt(osp.join(seq, 'groundtruth.txt'),
                              delimiter=',', ndmin=2))
        cover = np.loadtxt(osp.join(seq, 'cover.label'), ndmin=1)
        det = read_flags(seq)
        if len(det) != len(cover):
            raise ValueError(f'{seq}: {len(det)} deteriorated flags for '
                             f'{len(cover)} frames')
        covers['all'].append(cover)
        covers['deteriorated'].append(cover * det)
        covers['clean'].append(cover * ~det)
        with open(osp.join(seq, 'meta_info.ini')) as f:
            res = [ln for ln in f if ln.startswith('resolution')][0]
        sizes.append([float(v) for v in
                      res.split(':', 1)[1].strip(' ()\n').split(',')])
    out = {}
    for part, cov in covers.items():
        m = got10k_metrics(preds, gts, cov, sizes, names)
        out[part] = {k: float(v) for k, v in m.items()
                     if k in ('AO', 'SR50', 'SR75')}
        out[part]['num_frames'] = int(sum((c[1:] > 0).sum() for c in cov))
    return out


# ----------------------------------------------------------------- workers
def run_worker(name: str, args: argparse.Namespace) -> Dict[str, dict]:
    """Train (and test) one model in this process."""
    import mmstpn  # noqa: F401
    from mmengine.runner import Runner
    if name == 'pretrain':
        if osp.exists(pretrain_path(args)):
            print(f'[pretrain] using {pretrain_path(args)}', flush=True)
            return {}
        cfg = pretrain_cfg(args)
        print(f'[pretrain] warm start: the tracker without prompts, '
              f'{args.pretrain_iters} iterations', flush=True)
        Runner.from_cfg(cfg).train()
        return {}
    load_from = pretrain_path(args) if args.pretrain_iters else None
    cfg = load_cfg(name, args, args.iters, name, load_from)
    print(f'[{name}] training {CONFIGS[name]} ({args.iters} iterations'
          f'{", from the warm start" if load_from else ""})', flush=True)
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    timings = dict(train_s=time.time() - start)
    start = time.time()
    logged = runner.test()
    timings['test_s'] = time.time() - start
    metrics = frame_metrics(args.data_dir, osp.join(cfg.work_dir, 'results'))
    # the metric's own pooled AO and this file-based one must agree (the
    # files hold %.3f boxes)
    if abs(metrics['all']['AO'] - logged['got10k/AO']) > 1e-3:
        raise RuntimeError(f'[{name}] AO from the result files '
                           f'{metrics["all"]["AO"]:.5f} != GOT10kMetric '
                           f'{logged["got10k/AO"]:.5f}')
    metrics['speed_fps'] = float(logged['got10k/speed_fps'])
    return {name: metrics, f'{name}_timings': timings}


def _stream(name: str, proc: subprocess.Popen, log_path: str) -> None:
    """Copy a worker's output to its log; show progress lines."""
    with open(log_path, 'w') as log:
        for line in proc.stdout:
            log.write(line)
            if line.startswith(f'[{name}]'):  # the worker's own messages
                print(line.rstrip(), flush=True)
            elif any(k in line for k in PROGRESS_KEYS):
                text = line.rstrip()
                if len(text) > 150:
                    text = text[:147] + '...'
                print(f'[{name}] {text}', flush=True)


def _spawn_and_collect(args: argparse.Namespace,
                       names: Tuple[str, ...]) -> Dict[str, dict]:
    """Run the workers ``names`` at once, one thread each."""
    procs, threads = {}, []
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    for name in names:
        out = osp.join(args.out_dir, f'{name}.json')
        cmd = [
            *WORKER, '--worker', name, '--worker-out', out, '--out-dir',
            args.out_dir, '--data-dir', args.data_dir, '--seed',
            str(args.seed), '--iters', str(args.iters), '--pretrain-iters',
            str(args.pretrain_iters), '--num-train', str(args.num_train),
            '--num-val', str(args.num_val), '--frames', str(args.frames)
        ]
        if args.cfg_options:
            cmd += ['--cfg-options'] + [
                f'{k}={v}' for k, v in args.cfg_options.items()]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=REPO)
        procs[name] = (proc, out)
        thread = threading.Thread(
            target=_stream,
            args=(name, proc, osp.join(args.out_dir, f'{name}.log')),
            daemon=True)
        thread.start()
        threads.append(thread)
    results: Dict[str, dict] = {}
    failed = []
    for name, (proc, out) in procs.items():
        if proc.wait() != 0:
            failed.append(f'{name} (exit {proc.returncode}, see '
                          f'{args.out_dir}/{name}.log)')
            continue
        with open(out) as f:
            results.update(json.load(f))
    for thread in threads:
        thread.join()
    if failed:
        raise RuntimeError('failed: ' + ', '.join(failed))
    return results


def run(args: argparse.Namespace) -> Dict[str, dict]:
    """Data, warm start, then both trackers at once."""
    if ensure_data(args) and osp.exists(pretrain_path(args)):
        print('[main] new toy set: the old warm start is not reused',
              flush=True)
        os.remove(pretrain_path(args))
    if args.pretrain_iters:
        start = time.time()
        _spawn_and_collect(args, ('pretrain', ))
        pretrain_s = time.time() - start
    else:
        pretrain_s = 0.
    results = _spawn_and_collect(args, ('baseline', 'stpn'))
    timings = dict(pretrain_s=pretrain_s)
    for name in ('baseline', 'stpn'):
        for k, v in results.pop(f'{name}_timings', {}).items():
            timings[f'{name}_{k}'] = v
    results['timings'] = timings
    return results


def table(results: Dict[str, dict]) -> List[str]:
    rows = ['baseline', 'stpn']
    width = 18
    head = f'{"(%)":<{width}}' + ''.join(f'{c:>12}' for c, _, _ in COLUMNS)
    lines = [head, '-' * len(head)]
    for row in rows:
        lines.append(f'{row:<{width}}' + ''.join(
            f'{100 * results[row][part][key]:>12.1f}'
            for _, part, key in COLUMNS))
    lines.append(f'{"stpn - baseline":<{width}}' + ''.join(
        f'{100 * (results["stpn"][part][key] - results["baseline"][part][key]):>+12.1f}'  # noqa: E501
        for _, part, key in COLUMNS))
    frames = results['baseline']
    lines.append(f'frames: {frames["all"]["num_frames"]} evaluated, '
                 f'{frames["deteriorated"]["num_frames"]} deteriorated, '
                 f'{frames["clean"]["num_frames"]} clean')
    return lines


def main(argv=None) -> None:
    args = parse_args(argv)
    load = load_average()
    if args.worker:
        results = run_worker(args.worker, args)
        results.update(worker_environment(args.worker, load))
        with open(args.worker_out, 'w') as f:
            json.dump(results, f)
        return
    os.makedirs(args.out_dir, exist_ok=True)
    start = time.time()
    results = run(args)
    environment = pop_run_environment(results, load)
    results['timings']['total_s'] = time.time() - start
    results['args'] = dict(
        num_train=args.num_train, num_val=args.num_val, frames=args.frames,
        pretrain_iters=args.pretrain_iters, iters=args.iters,
        seed=args.seed, cfg_options=dict(args.cfg_options))
    lines = table(results)
    print('\n'.join(['', *lines, '']))
    print('timings (s): ' + ', '.join(
        f'{k}={v:.0f}' for k, v in results['timings'].items()))
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(results, environment=environment), f, indent=2)
    with open(osp.join(args.out_dir, 'table.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'[main] wrote {args.out_dir}/results.json and table.txt')


if __name__ == '__main__':
    main()
