"""The toy VIS experiment over several seeds, in one table.

For each seed ``S`` this generates a new toy VIS set in
``OUT_DIR/data/seedS`` and runs ``toy_vis_experiment.py`` (class warm
start, shared warm start, baseline and STPN fine-tunes, tests) in
``OUT_DIR/seedS`` with ``--seed S``: the seed sets the data, the
initialisation and the data order. Every other argument goes to
``toy_vis_experiment.py`` unchanged, e.g. ``--model minvis``, ``--iters
1000`` or ``--cfg-options ...``.

Resumable: a seed whose ``results.json`` exists is not rerun (its
``seeds_argv.json`` must hold the same pass-through arguments, otherwise
this stops: use another ``--out-dir``). At the end it prints and writes
``OUT_DIR/seeds_table.{json,md}``: per seed, the baseline's and STPN's
(offline) video AP and frame mask AP on all / deteriorated / clean frames
and STPN minus baseline, then the mean and the minimum over the seeds of
every column; the json also records where the table was made
(``environment``; each run's ``results.json`` has its own).

Example::

    python tools/misc/toy_vis_seeds.py --seeds 0 1 2 \\
        --out-dir outputs/toy_vis_seeds
"""
from typing import Sequence

from mmstpn.projects import seeds
from mmstpn.projects.toy_vis import experiment


def main(argv: Sequence[str] = None) -> dict:
    return seeds.seeds_main(
        argv, description=__doc__.splitlines()[0],
        default_out_dir='outputs/toy_vis_seeds',
        experiment_main=experiment.main,
        experiment_parse=experiment.parse_args, table=experiment.SEEDS_TABLE,
        title='Video AP and frame mask AP (%), STPN offline vs baseline:',
        experiment_name='toy_vis_experiment.py')


if __name__ == '__main__':
    main()
