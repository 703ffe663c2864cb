"""The toy tracking experiment over several seeds, in one table.

For each seed ``S`` this generates a new toy tracking set in
``OUT_DIR/data/seedS`` and runs ``toy_sot_experiment.py`` (shared warm
start, baseline and STPN trackers, online tests) in ``OUT_DIR/seedS`` with
``--seed S``: the seed sets the data, the initialisation and the data
order. Every other argument goes to ``toy_sot_experiment.py`` unchanged,
e.g. ``--iters 3000`` or ``--cfg-options ...``.

Resumable: a seed whose ``results.json`` exists is not rerun (its
``seeds_argv.json`` must hold the same pass-through arguments, otherwise
this stops: use another ``--out-dir``). At the end it prints and writes
``OUT_DIR/seeds_table.{json,md}``: per seed, the baseline's and STPN's AO
on all / deteriorated / clean frames and STPN minus baseline, then the
mean and the minimum over the seeds of every column; the json also records
where the table was made (``environment``; each run's ``results.json`` has
its own).

Example::

    python tools/misc/toy_sot_seeds.py --seeds 0 1 2 \\
        --out-dir outputs/toy_sot_seeds
"""
from typing import Sequence

from mmstpn.projects import seeds
from mmstpn.projects.toy_sot import experiment


def main(argv: Sequence[str] = None) -> dict:
    return seeds.seeds_main(
        argv, description=__doc__.splitlines()[0],
        default_out_dir='outputs/toy_sot_seeds',
        experiment_main=experiment.main,
        experiment_parse=experiment.parse_args, table=experiment.SEEDS_TABLE,
        title='AO (%), STPN vs baseline:',
        experiment_name='toy_sot_experiment.py')


if __name__ == '__main__':
    main()
