"""Compare the single-frame baseline, STPN, SELSA, Temporal RoI Align and
STPN + SELSA on the embedded deteriorated-video set.

All five start from the main job's shared warm start
(``tools/misc/toy_vid_experiment.py``: object-level class warm start, then
the single-frame detector) and train with the same data, schedule, seed and
iteration budget (default 300 iterations, less than the main job's 800:
the SELSA-type models cost several times the baseline per CPU iteration,
docs/vid_selsa_troi.md), two
single-threaded processes at a time (the slowest first, the next one
starting when a slot frees). Each is tested
with ``VIDMetric`` (AP50 all / deteriorated / fast / medium / slow); then,
in this process, on one thread with the models alternating frame by frame,
the per-frame latency of each trained model over the first val video in
test order (references, prompts and memory included: frame 0 does the
reference work, later frames reuse it), as a ratio to the baseline. Prints
one table, saves ``results.json`` and a bar plot.

Example::

    python tools/misc/toy_vid_compare.py --out-dir outputs/toy_vid_compare

Options are those of ``toy_vid_experiment.py`` (``--iters``,
``--pretrain-iters``, ``--cfg-options`` ...). An existing warm start in
``OUT_DIR/pretrain`` is reused. ``--reuse-trained`` resumes an interrupted
run in the same OUT_DIR: a model whose worker finished (``NAME.json`` and
its checkpoint) keeps its results, a model with a checkpoint but no
results is only tested, the others are trained.
"""
import json
import os
import os.path as osp
import sys
import threading
import time
from typing import Dict, List

from mmstpn.projects.run_record import (load_average, pop_run_environment,
                                        worker_environment)
from mmstpn.projects.toy_vid import experiment as main_job

TOY = 'faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py'
EXTRA = {
    'selsa': 'configs/selsa/selsa_' + TOY,
    'troi': 'configs/temporal_roi_align/troi_' + TOY,
    'stpn_selsa': 'configs/selsa/stpn-selsa_' + TOY,
}
main_job.CONFIGS.update(EXTRA)
# also show the test progress (the SELSA-type test passes take minutes)
main_job.PROGRESS_KEYS = main_job.PROGRESS_KEYS + ('Iter(test)', )
# --reuse-trained (passed to the workers through the environment)
REUSE_ENV = 'TOY_VID_COMPARE_REUSE'
MODELS_ORDER = ('baseline', 'stpn', 'selsa', 'troi', 'stpn_selsa')
# two single-threaded workers at a time on 2 cores, the slowest first; a
# worker starts as soon as one finishes
SCHEDULE = ('troi', 'stpn_selsa', 'selsa', 'stpn', 'baseline')
# the compare's iteration budget (the main job's is 800): the SELSA-type
# models train several times slower per iteration than the baseline
DEFAULT_ITERS = 300


def checkpoint(args, name: str) -> str:
    return osp.join(args.out_dir, name, f'iter_{args.iters}.pth')


def test_only(name: str, args) -> Dict[str, dict]:
    """Test ``name`` from its existing ``iter_{iters}.pth`` (what the
    main job's worker does after training, incl. STPN's online test)."""
    from mmengine.runner import Runner
    cfg = main_job.load_cfg(name, args, args.iters, name,
                            checkpoint(args, name))
    print(f'[{name}] reusing {checkpoint(args, name)} (no training)',
          flush=True)
    start = time.time()
    results = {name: main_job.strip_prefix(Runner.from_cfg(cfg).test())}
    if name == 'stpn':
        online = main_job.online_variant(cfg, args.online_k,
                                         args.online_stride)
        key = f'stpn_online_k{args.online_k}_s{args.online_stride}'
        results[key] = main_job.strip_prefix(Runner.from_cfg(online).test())
    results[f'{name}_timings'] = dict(test_s=time.time() - start)
    return results


def reused_results(args, name: str):
    """With --reuse-trained: the results json a finished worker of ``name``
    wrote to OUT_DIR (same iteration budget), else None."""
    path = osp.join(args.out_dir, f'{name}.json')
    if not os.environ.get(REUSE_ENV) or not osp.exists(path):
        return None
    with open(path) as f:
        got = json.load(f)
    if name not in got or not osp.exists(checkpoint(args, name)):
        return None
    print(f'[compare] reusing the results of {name} in {path}', flush=True)
    return got


def train_all(args, script: str) -> Dict[str, dict]:
    """Train + test every model, two workers at a time (SCHEDULE order)."""
    todo = list(SCHEDULE)
    lock = threading.Lock()
    results: Dict[str, dict] = {'timings': {}}
    errors: List[BaseException] = []

    def slot() -> None:
        while True:
            with lock:
                if not todo or errors:
                    return
                name = todo.pop(0)
            try:
                got = reused_results(args, name)
                if got is not None:
                    got = dict(got, timings={
                        f'{name}_{k}': v
                        for k, v in got.pop(f'{name}_timings', {}).items()})
                else:
                    print(f'[compare] training {name} ({args.iters} '
                          'iterations)', flush=True)
                    got = main_job._spawn_and_collect(args, (name, ), script)
            except BaseException as err:  # reported after both slots end
                with lock:
                    errors.append(err)
                return
            with lock:
                results['timings'].update(got.pop('timings'))
                results.update(got)
                print(f'[compare] {name} done; waiting: {todo}', flush=True)

    threads = [threading.Thread(target=slot) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def frame_latency(args, num_frames: int = 16,
                  names: tuple = MODELS_ORDER) -> Dict[str, float]:
    """Mean seconds per frame of ``test_step`` of every trained model over
    the first val video in test order (up to ``num_frames`` frames in order:
    frame 0 does the reference / support work, later frames reuse the
    memory; second of two passes; data loading excluded), one thread, the
    models alternating frame by frame (so that load changes hit all)."""
    import torch
    from mmdet.datasets.samplers import TrackImgSampler
    from mmdet.registry import DATASETS, MODELS
    from mmdet.utils import register_all_modules
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import load_checkpoint

    from mmstpn.engine import support_samplers
    from mmstpn.structures import get_video_context
    from mmstpn.utils.benchmark import alternating
    register_all_modules()
    torch.set_num_threads(1)
    models, batches = {}, {}
    for name in names:
        cfg = main_job.load_cfg(name, args, args.iters, name)
        model = MODELS.build(cfg.model)
        if osp.exists(checkpoint(args, name)):
            load_checkpoint(model, checkpoint(args, name),
                            map_location='cpu', logger='silent')
        models[name] = model.eval()
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        for sampler in support_samplers(dataset):  # VideoContextHook's job
            sampler.set_test_policy(get_video_context(model).policy)
        order = list(TrackImgSampler(dataset, seed=0))
        first = [i for i in order if i[0] == order[0][0]][:num_frames]
        batches[name] = [pseudo_collate([dataset[i]]) for i in first]
    names = list(models)
    with torch.no_grad():
        for _ in range(2):
            total = {name: 0. for name in names}
            for t in range(len(batches[names[0]])):
                for name in alternating(names, t):
                    start = time.perf_counter()
                    models[name].test_step(batches[name][t])
                    total[name] += time.perf_counter() - start
    for model in models.values():
        get_video_context(model).clear()
    return {name: total[name] / len(batches[name]) for name in names}


def latency_lines(latency: Dict[str, float]) -> List[str]:
    base = latency['baseline']
    lines = ['per-frame latency (first val video, 1 thread, references and '
             'memory included):']
    for name, sec in latency.items():
        lines.append(f'  {name:<12} {1000 * sec:8.1f} ms  '
                     f'x{sec / base:.2f} vs baseline')
    return lines


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if '--reuse-trained' in argv:
        argv.remove('--reuse-trained')
        os.environ[REUSE_ENV] = '1'
    args = main_job.parse_args(argv)
    if '--iters' not in argv:
        args.iters = DEFAULT_ITERS
    load = load_average()
    if args.worker:
        if os.environ.get(REUSE_ENV) and osp.exists(
                checkpoint(args, args.worker)):
            results = test_only(args.worker, args)
        else:
            results = main_job.run_worker(args.worker, args)
        results.update(worker_environment(args.worker, load))
        with open(args.worker_out, 'w') as f:
            json.dump(results, f)
        return
    os.makedirs(args.out_dir, exist_ok=True)
    # each worker evaluates once (runner.test), not also at the end of
    # training (mmengine's loop validates at max_iters whatever the
    # interval: val_begin past the end stops it): the SELSA-type models'
    # test passes dominate the run time
    args.cfg_options = {
        'train_cfg.val_interval': args.iters + 1,
        'train_cfg.val_begin': args.iters + 1,
        **args.cfg_options
    }
    start = time.time()
    if main_job.ensure_data(args) and osp.exists(
            main_job.pretrain_path(args)):
        os.remove(main_job.pretrain_path(args))
    script = osp.abspath(__file__)
    if args.pretrain_iters:
        main_job._spawn_and_collect(args, ('pretrain', ), script)
    results = train_all(args, script)
    timings: Dict[str, float] = results.pop('timings')
    environment = pop_run_environment(results, load)
    ordered = {k: results[k] for k in MODELS_ORDER}
    ordered.update({k: v for k, v in results.items() if k not in ordered})
    print('[compare] per-frame latency', flush=True)
    latency = frame_latency(args)
    timings['total_s'] = time.time() - start
    lines = main_job.table(ordered) + [''] + latency_lines(latency)
    print('\n'.join(['', *lines, '']))
    print('timings (s): ' + ', '.join(f'{k}={v:.0f}'
                                      for k, v in timings.items()))
    out = dict(ordered, latency_s=latency, timings=timings,
               environment=environment)
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(out, f, indent=2)
    plot_rows = {  # the legend carries the latency ratio
        (f'{k} (x{latency[k] / latency["baseline"]:.2f} time)'
         if k in latency else k): v
        for k, v in ordered.items()
    }
    main_job.plot(plot_rows, osp.join(args.out_dir, 'ap50.png'),
                  'Toy set: baseline / STPN / SELSA / TRoI / STPN + SELSA')
    print(f'[compare] wrote {args.out_dir}/results.json and ap50.png')


if __name__ == '__main__':
    main()
