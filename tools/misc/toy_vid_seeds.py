"""The main job over several seeds and toy-set layouts, in one table.

For each (layout, seed) this generates a new toy set (``--toy-layout
LAYOUT``, seed ``SEED``) in ``OUT_DIR/data/<layout>_seed<seed>`` and runs
the main job (``toy_vid_experiment.py``: class warm start, single-frame warm
start, baseline and STPN fine-tunes, tests) in
``OUT_DIR/<layout>/seed<seed>`` with ``--seed SEED``, the same initialisation
seed. Every other argument goes to ``toy_vid_experiment.py`` unchanged, e.g.
``--iters 800``, ``--cfg-options ...`` (both models and the warm start) or
``--stpn-cfg-options model.type=PromptSupervisedFasterRCNN`` (the
auxiliary prompt loss, STPN only; the default is the paper objective).

Resumable: a (layout, seed) whose ``results.json`` exists is not rerun (its
``seeds_argv.json`` must hold the same pass-through arguments, otherwise
this stops: use another ``--out-dir``). At the end it prints and writes
``OUT_DIR/seeds_table.{json,md}``: per layout and seed, the baseline's and
STPN's (offline) AP50 on all / deteriorated / clean frames and STPN minus
baseline, then the mean and the minimum over the seeds of every column.

A full run is one main job per (layout, seed): about 16 min each on 2 cores
(so ~1 h 40 min for 3 seeds x 2 layouts), plus about a minute to generate
each toy set.

Example::

    python tools/misc/toy_vid_seeds.py --seeds 0 1 2 \\
        --layouts single multi --out-dir outputs/toy_vid_seeds
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Dict, List, Sequence

from mmstpn.projects.toy_vid import experiment
from mmstpn.projects.toy_vid.generator import LAYOUTS

#: (row name in the experiment's results.json, label)
MODELS = (('baseline', 'baseline'), ('stpn', 'STPN'))
#: (column, metric key): the frames the AP50 is computed on
FRAMES = (('all', 'bbox_mAP_50'),
          ('deteriorated', 'bbox_mAP_50_deteriorated'),
          ('clean', 'bbox_mAP_50_clean'))
#: arguments this tool sets per run (not allowed in the pass-through)
RESERVED = ('--seed', '--data-seed', '--toy-layout', '--out-dir',
            '--data-dir', '--worker', '--worker-out')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        allow_abbrev=False,   # --seed must not pass for --seeds
        epilog='Other arguments go to toy_vid_experiment.py (see its '
        '--help).')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--layouts', nargs='+', default=list(LAYOUTS),
                        choices=LAYOUTS)
    parser.add_argument('--out-dir', default='outputs/toy_vid_seeds')
    args, rest = parser.parse_known_args(argv)
    bad = [a for a in rest if a.split('=', 1)[0] in RESERVED]
    if bad:
        parser.error(f'{bad}: set by this tool per run (use --seeds, '
                     '--layouts, --out-dir)')
    if len(set(args.seeds)) != len(args.seeds) or \
            len(set(args.layouts)) != len(args.layouts):
        parser.error('--seeds and --layouts must not repeat a value')
    args.passthrough = rest
    return args


def run_dirs(out_dir: str, layout: str, seed: int) -> Dict[str, str]:
    """Where the toy set and the main job of (layout, seed) live."""
    return dict(
        data=osp.join(out_dir, 'data', f'{layout}_seed{seed}'),
        run=osp.join(out_dir, layout, f'seed{seed}'))


def experiment_argv(args, layout: str, seed: int) -> List[str]:
    """``toy_vid_experiment.py`` arguments of the (layout, seed) run."""
    dirs = run_dirs(args.out_dir, layout, seed)
    return ['--seed', str(seed), '--toy-layout', layout, '--out-dir',
            dirs['run'], '--data-dir', dirs['data']] + args.passthrough


def run_one(args, layout: str, seed: int) -> dict:
    """Run (or resume) the main job of (layout, seed); its results."""
    dirs = run_dirs(args.out_dir, layout, seed)
    results_path = osp.join(dirs['run'], 'results.json')
    argv_path = osp.join(dirs['run'], 'seeds_argv.json')
    if osp.exists(argv_path):
        with open(argv_path) as f:
            before = json.load(f)
        if before != args.passthrough:
            raise RuntimeError(
                f'{dirs["run"]} was run with the arguments {before}, not '
                f'{args.passthrough}: use another --out-dir (or delete it)')
    if osp.exists(results_path):
        print(f'[seeds] {layout} seed {seed}: done before, reading '
              f'{results_path}', flush=True)
    else:
        os.makedirs(dirs['run'], exist_ok=True)
        with open(argv_path, 'w') as f:
            json.dump(args.passthrough, f)
        experiment.main(experiment_argv(args, layout, seed))
    with open(results_path) as f:
        return json.load(f)


def _value(results: dict, model: str, key: str, where: str) -> float:
    try:
        return float(results[model][key])
    except KeyError:
        raise KeyError(f'{where} has no {model}/{key} (made before the '
                       'clean-frame AP50 existed? delete it to rerun)'
                       ) from None


def seeds_table(all_results: Dict[str, Dict[int, dict]],
                out_dir: str = '') -> dict:
    """The table of the runs: ``{layout: {'seeds': {seed: row}, 'mean':
    row, 'min': row}}``, a row being ``{column: value}`` with columns
    ``<model>_<frames>`` and ``diff_<frames>`` (STPN - baseline), values as
    in results.json (fractions)."""
    table = {}
    for layout, per_seed in all_results.items():
        rows = {}
        for seed, results in per_seed.items():
            where = osp.join(out_dir, layout, f'seed{seed}', 'results.json')
            row = {}
            for model, _ in MODELS:
                for frames, key in FRAMES:
                    row[f'{model}_{frames}'] = _value(results, model, key,
                                                      where)
            for frames, _ in FRAMES:
                row[f'diff_{frames}'] = row[f'stpn_{frames}'] - \
                    row[f'baseline_{frames}']
            rows[seed] = row
        columns = list(next(iter(rows.values())))
        table[layout] = dict(
            seeds=rows,
            mean={c: sum(r[c] for r in rows.values()) / len(rows)
                  for c in columns},
            min={c: min(r[c] for r in rows.values()) for c in columns})
    return table


def markdown(table: dict) -> List[str]:
    """The table as markdown lines, AP50 in %."""
    head = ['layout', 'seed'] + [
        f'{label} {frames}' for model, label in MODELS
        for frames, _ in FRAMES
    ] + [f'STPN - baseline {frames}' for frames, _ in FRAMES]
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '---|' * len(head)]
    for layout, part in table.items():
        rows = [(str(s), r) for s, r in part['seeds'].items()]
        rows += [('mean', part['mean']), ('min', part['min'])]
        for name, row in rows:
            cells = [f'{100 * v:+.1f}' if c.startswith('diff_') else
                     f'{100 * v:.1f}' for c, v in row.items()]
            if name in ('mean', 'min'):
                name = f'**{name}**'
            lines.append(f'| {layout} | {name} | ' + ' | '.join(cells) +
                         ' |')
    return lines


def main(argv: Sequence[str] = None) -> dict:
    args = parse_args(argv)
    # check the pass-through arguments before the first long run
    experiment.parse_args(experiment_argv(args, args.layouts[0],
                                          args.seeds[0]))
    os.makedirs(args.out_dir, exist_ok=True)
    runs = [(layout, seed) for layout in args.layouts for seed in args.seeds]
    all_results: Dict[str, Dict[int, dict]] = {}
    start = time.time()
    durations: List[float] = []     # of the runs made (not read) here
    for i, (layout, seed) in enumerate(runs):
        elapsed = time.time() - start
        eta = ''
        if durations:
            left = sum(durations) / len(durations) * (len(runs) - i)
            eta = f', ~{left / 60:.0f} min to go'
        print(f'[seeds] run {i + 1}/{len(runs)}: layout {layout}, seed '
              f'{seed} ({elapsed / 60:.1f} min so far{eta})', flush=True)
        t0 = time.time()
        done = osp.exists(osp.join(run_dirs(args.out_dir, layout, seed)
                                   ['run'], 'results.json'))
        all_results.setdefault(layout, {})[seed] = run_one(args, layout, seed)
        if not done:
            durations.append(time.time() - t0)
    table = seeds_table(all_results, args.out_dir)
    lines = markdown(table)
    print('\n'.join(['', 'AP50 (%), STPN offline vs baseline:', *lines, '']))
    out = dict(passthrough=args.passthrough, seeds=args.seeds,
               layouts=args.layouts,
               table={layout: dict(part, seeds={
                   str(s): r for s, r in part['seeds'].items()})
                   for layout, part in table.items()})
    with open(osp.join(args.out_dir, 'seeds_table.json'), 'w') as f:
        json.dump(out, f, indent=2)
    with open(osp.join(args.out_dir, 'seeds_table.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'[seeds] wrote {args.out_dir}/seeds_table.json and '
          f'seeds_table.md ({(time.time() - start) / 60:.1f} min)')
    return out


if __name__ == '__main__':
    main()
