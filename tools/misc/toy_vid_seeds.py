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
baseline, then the mean and the minimum over the seeds of every column;
the json also records where the table was made (``environment``, see
:func:`mmstpn.utils.run_environment`; each run's ``results.json`` has its
own). The runs and the table are :mod:`mmstpn.projects.seeds`'s.

A full run is one main job per (layout, seed): about 16 min each on 2 cores
(so ~1 h 40 min for 3 seeds x 2 layouts), plus about a minute to generate
each toy set.

Example::

    python tools/misc/toy_vid_seeds.py --seeds 0 1 2 \\
        --layouts single multi --out-dir outputs/toy_vid_seeds
"""
import os.path as osp
import time
from typing import List, Sequence

from mmstpn.projects import seeds
from mmstpn.projects.toy_vid import experiment
from mmstpn.projects.toy_vid.generator import LAYOUTS

#: the baseline's and STPN's offline AP50 on all / deteriorated / clean
#: frames
TABLE = seeds.SeedsTable(
    models=(('baseline', 'baseline'), ('stpn', 'STPN')),
    columns=(('all', 'all', ('bbox_mAP_50', )),
             ('deteriorated', 'deteriorated',
              ('bbox_mAP_50_deteriorated', )),
             ('clean', 'clean', ('bbox_mAP_50_clean', ))))
#: arguments this tool sets per run (not allowed in the pass-through)
RESERVED = seeds.RESERVED + ('--data-seed', '--toy-layout')


def parse_args(argv=None):
    parser = seeds.seeds_parser(
        __doc__.splitlines()[0], 'outputs/toy_vid_seeds',
        'Other arguments go to toy_vid_experiment.py (see its --help).')
    parser.add_argument('--layouts', nargs='+', default=list(LAYOUTS),
                        choices=LAYOUTS)
    return seeds.parse_seeds_args(parser, argv, RESERVED,
                                  unique=('seeds', 'layouts'))


def seed_run(args, layout: str, seed: int) -> seeds.SeedRun:
    """The main job of (layout, seed): its toy set in
    ``OUT_DIR/data/<layout>_seed<seed>``, its outputs in
    ``OUT_DIR/<layout>/seed<seed>``."""
    run_dir = osp.join(args.out_dir, layout, f'seed{seed}')
    data_dir = osp.join(args.out_dir, 'data', f'{layout}_seed{seed}')
    return seeds.SeedRun(
        group=layout, seed=seed, run_dir=run_dir,
        label=f'layout {layout}, seed {seed}',
        argv=('--seed', str(seed), '--toy-layout', layout, '--out-dir',
              run_dir, '--data-dir', data_dir, *args.passthrough))


def markdown(table: dict) -> List[str]:
    """The table as markdown lines, AP50 in %."""
    return TABLE.markdown(table, group_header='layout')


def main(argv: Sequence[str] = None) -> dict:
    args = parse_args(argv)
    runs = [seed_run(args, layout, seed) for layout in args.layouts
            for seed in args.seeds]
    # check the pass-through arguments before the first long run
    experiment.parse_args(list(runs[0].argv))
    load, start = seeds.load_average(), time.time()
    results = seeds.run_seeds(runs, experiment.main, args.passthrough)
    table = {
        layout: TABLE.part(per_seed, lambda seed, layout=layout: osp.join(
            args.out_dir, layout, f'seed{seed}', seeds.RESULTS))
        for layout, per_seed in results.items()
    }
    out = dict(passthrough=args.passthrough, seeds=args.seeds,
               layouts=args.layouts,
               table={layout: seeds.json_part(part)
                      for layout, part in table.items()})
    return seeds.write_table(args.out_dir, out, markdown(table),
                             'AP50 (%), STPN offline vs baseline:', load,
                             start)


if __name__ == '__main__':
    main()
