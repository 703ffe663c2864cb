"""A toy experiment over several seeds, in one table: what the seeds tools
(``tools/misc/toy_{vid,vis,sot}_seeds.py``) share.

Each (group, seed) run calls the experiment's ``main(argv)`` with its own
``--seed``, output and data folders, so the seed sets the generated data,
the initialisation and the data order. Runs are resumable: a run whose
``results.json`` exists is read, not rerun; its ``seeds_argv.json`` records
the pass-through arguments and a later call with other ones is refused.
The table holds, per seed, the baseline's and STPN's figures and STPN minus
baseline on every column, then the mean and the minimum over the seeds of
every column.
"""
import argparse
import json
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import (Callable, Dict, List, Mapping, Optional, Sequence,
                    Tuple)

from mmstpn.utils.run_env import load_average, run_environment

__all__ = [
    'RESULTS', 'RESERVED', 'SeedRun', 'SeedsTable', 'seeds_parser',
    'parse_seeds_args', 'run_seeds', 'json_part', 'write_table',
    'seeds_main', 'load_average'
]

#: the experiment's results file in a run's folder
RESULTS = 'results.json'
#: the pass-through arguments a run's folder was made with
ARGV = 'seeds_argv.json'
#: arguments the seeds tools set per run (refused in the pass-through)
RESERVED = ('--seed', '--out-dir', '--data-dir', '--worker', '--worker-out')


@dataclass(frozen=True)
class SeedRun:
    """One run of the experiment.

    Args:
        group (str): the table part it belongs to ('' for a single part).
        seed (int): its seed.
        run_dir (str): its output folder (``results.json`` there).
        argv (list[str]): the experiment's arguments.
        label (str): how progress messages name it.
    """
    group: str
    seed: int
    run_dir: str
    argv: Tuple[str, ...]
    label: str


@dataclass(frozen=True)
class SeedsTable:
    """What the table shows of an experiment's ``results.json``.

    Args:
        models (tuple): ``(row key in results.json, label)`` of the
            baseline, then of STPN.
        columns (tuple): ``(name, header, key path)`` of each figure: the
            key path leads from a model's row to the value (a fraction).
    """
    models: Tuple[Tuple[str, str], Tuple[str, str]]
    columns: Tuple[Tuple[str, str, Tuple[str, ...]], ...]

    def value(self, results: dict, model: str, path: Sequence[str],
              where: str) -> float:
        """The figure at ``model`` / ``path`` of ``results`` (read from
        ``where``).

        Raises:
            KeyError: naming ``where`` and the missing key path.
        """
        node = results
        try:
            node = node[model]
            for key in path:
                node = node[key]
            return float(node)
        except (KeyError, TypeError):
            raise KeyError(
                f'{where} has no {"/".join((model, *path))} (made by an '
                'older version of the experiment? delete it to rerun)'
            ) from None

    def part(self, per_seed: Mapping[int, dict],
             where: Callable[[int], str]) -> dict:
        """``{'seeds': {seed: row}, 'mean': row, 'min': row}`` of the runs
        ``per_seed`` (``where(seed)`` names a run's results file in
        errors), a row being ``{column: value}`` with the columns
        ``<model>_<name>`` and ``diff_<name>`` (STPN - baseline), values as
        in results.json."""
        if not per_seed:
            raise ValueError('no seed to tabulate')
        (base, _), (stpn, _) = self.models
        rows = {}
        for seed, results in per_seed.items():
            row = {}
            for model, _ in self.models:
                for name, _, path in self.columns:
                    row[f'{model}_{name}'] = self.value(results, model, path,
                                                        where(seed))
            for name, _, _ in self.columns:
                row[f'diff_{name}'] = row[f'{stpn}_{name}'] - \
                    row[f'{base}_{name}']
            rows[seed] = row
        columns = list(next(iter(rows.values())))
        return dict(
            seeds=rows,
            mean={c: sum(r[c] for r in rows.values()) / len(rows)
                  for c in columns},
            min={c: min(r[c] for r in rows.values()) for c in columns})

    def markdown(self, parts: Mapping[str, dict],
                 group_header: Optional[str] = None) -> List[str]:
        """The table as markdown lines, values in %: one line per seed, then
        the mean and the minimum, per part; a first column ``group_header``
        naming the part when given."""
        (_, base), (_, stpn) = self.models
        head = ([group_header] if group_header else []) + ['seed'] + [
            f'{label} {header}' for _, label in self.models
            for _, header, _ in self.columns
        ] + [f'{stpn} - {base} {header}' for _, header, _ in self.columns]
        lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        for group, part in parts.items():
            rows = [(str(s), r) for s, r in part['seeds'].items()]
            rows += [('**mean**', part['mean']), ('**min**', part['min'])]
            for name, row in rows:
                cells = ([group] if group_header else []) + [name] + [
                    f'{100 * v:+.1f}' if c.startswith('diff_') else
                    f'{100 * v:.1f}' for c, v in row.items()
                ]
                lines.append('| ' + ' | '.join(cells) + ' |')
        return lines


def seeds_parser(description: str, default_out_dir: str,
                 epilog: str) -> argparse.ArgumentParser:
    """A parser with ``--seeds`` (default 0 1 2) and ``--out-dir``; no
    abbreviations (``--seed`` must not pass for ``--seeds``)."""
    parser = argparse.ArgumentParser(description=description,
                                     allow_abbrev=False, epilog=epilog)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--out-dir', default=default_out_dir)
    return parser


def parse_seeds_args(parser: argparse.ArgumentParser,
                     argv: Optional[Sequence[str]] = None,
                     reserved: Sequence[str] = RESERVED,
                     unique: Sequence[str] = ('seeds', )
                     ) -> argparse.Namespace:
    """Parse ``argv``; the arguments ``parser`` does not know go to the
    experiment (``args.passthrough``).

    Raises:
        SystemExit: (``parser.error``) for a pass-through argument among
            ``reserved`` (set per run) and a repeated value in one of the
            list arguments ``unique``.
    """
    args, rest = parser.parse_known_args(argv)
    bad = [a for a in rest if a.split('=', 1)[0] in reserved]
    if bad:
        parser.error(f'{bad}: set by this tool per run (use ' + ', '.join(
            '--' + u.replace('_', '-') for u in unique) + ', --out-dir)')
    for name in unique:
        values = getattr(args, name)
        if len(set(values)) != len(values):
            parser.error(f'--{name.replace("_", "-")} must not repeat a '
                         f'value: {values}')
    args.passthrough = rest
    return args


def _check_argv(run: SeedRun, passthrough: List[str]) -> None:
    path = osp.join(run.run_dir, ARGV)
    if osp.exists(path):
        with open(path) as f:
            before = json.load(f)
        if before != passthrough:
            raise RuntimeError(
                f'{run.run_dir} was run with the arguments {before}, not '
                f'{passthrough}: use another --out-dir (or delete it)')


def run_seeds(runs: Sequence[SeedRun],
              experiment_main: Callable[[List[str]], object],
              passthrough: List[str],
              prefix: str = '[seeds]') -> Dict[str, Dict[int, dict]]:
    """Run (or resume) every run in order, printing the progress and an
    estimate of the time left.

    Args:
        runs (Sequence[SeedRun]): the runs.
        experiment_main (Callable): the experiment's ``main(argv)``; it
            writes ``results.json`` in the run's folder.
        passthrough (list[str]): the arguments every run shares (recorded
            in the run's ``seeds_argv.json``).
        prefix (str): of the progress messages.

    Returns:
        dict: ``{group: {seed: results}}``, the runs' ``results.json``.

    Raises:
        RuntimeError: if a run's folder was made with other pass-through
            arguments (before any run), or a run wrote no results.
    """
    for run in runs:
        _check_argv(run, passthrough)
    out: Dict[str, Dict[int, dict]] = {}
    start = time.time()
    durations: List[float] = []     # of the runs made (not read) here
    for i, run in enumerate(runs):
        eta = ''
        if durations:
            left = sum(durations) / len(durations) * (len(runs) - i)
            eta = f', ~{left / 60:.0f} min to go'
        print(f'{prefix} run {i + 1}/{len(runs)}: {run.label} '
              f'({(time.time() - start) / 60:.1f} min so far{eta})',
              flush=True)
        path = osp.join(run.run_dir, RESULTS)
        if osp.exists(path):
            print(f'{prefix} {run.label}: done before, reading {path}',
                  flush=True)
        else:
            t0 = time.time()
            os.makedirs(run.run_dir, exist_ok=True)
            with open(osp.join(run.run_dir, ARGV), 'w') as f:
                json.dump(passthrough, f)
            experiment_main(list(run.argv))
            durations.append(time.time() - t0)
            if not osp.exists(path):
                raise RuntimeError(f'{run.label}: the experiment wrote no '
                                   f'{path}')
        with open(path) as f:
            out.setdefault(run.group, {})[run.seed] = json.load(f)
    return out


def json_part(part: dict) -> dict:
    """``part`` with its seeds as json keys (strings)."""
    return dict(part, seeds={str(s): r for s, r in part['seeds'].items()})


def write_table(out_dir: str, out: dict, lines: List[str], title: str,
                load_at_start: Optional[float] = None,
                start: Optional[float] = None,
                prefix: str = '[seeds]') -> dict:
    """Print ``title`` and the markdown ``lines``; write
    ``out_dir/seeds_table.md`` and ``out_dir/seeds_table.json`` (``out``
    plus ``environment``: :func:`~mmstpn.utils.run_environment` of this
    process, the load from ``load_at_start`` to now). Returns what was
    written to the json."""
    print('\n'.join(['', title, *lines, '']))
    out = dict(out, environment=run_environment(load_at_start))
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'seeds_table.json'), 'w') as f:
        json.dump(out, f, indent=2)
    with open(osp.join(out_dir, 'seeds_table.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    took = '' if start is None else \
        f' ({(time.time() - start) / 60:.1f} min)'
    print(f'{prefix} wrote {out_dir}/seeds_table.json and seeds_table.md'
          f'{took}')
    return out


def seeds_main(argv: Optional[Sequence[str]], *, description: str,
               default_out_dir: str, experiment_main: Callable,
               experiment_parse: Callable, table: SeedsTable, title: str,
               experiment_name: str) -> dict:
    """The seeds tool of an experiment that takes ``--seed``, ``--out-dir``
    and ``--data-dir``: seed ``S`` generates its data in
    ``OUT_DIR/data/seed<S>`` and runs in ``OUT_DIR/seed<S>``; every other
    argument goes to the experiment unchanged (checked by
    ``experiment_parse`` before the first run).

    Returns:
        dict: what ``seeds_table.json`` holds: ``passthrough``, ``seeds``,
        ``table`` (:meth:`SeedsTable.part`, seeds as strings) and
        ``environment``.
    """
    parser = seeds_parser(
        description, default_out_dir,
        f'Other arguments go to {experiment_name} (see its --help).')
    args = parse_seeds_args(parser, argv)
    runs = []
    for seed in args.seeds:
        run_dir = osp.join(args.out_dir, f'seed{seed}')
        runs.append(SeedRun(
            group='', seed=seed, run_dir=run_dir, label=f'seed {seed}',
            argv=('--seed', str(seed), '--out-dir', run_dir, '--data-dir',
                  osp.join(args.out_dir, 'data', f'seed{seed}'),
                  *args.passthrough)))
    experiment_parse(list(runs[0].argv))    # before the first long run
    load, start = load_average(), time.time()
    results = run_seeds(runs, experiment_main, args.passthrough)['']
    part = table.part(results, lambda seed: osp.join(
        args.out_dir, f'seed{seed}', RESULTS))
    lines = table.markdown({'': part})
    out = dict(passthrough=args.passthrough, seeds=args.seeds,
               table=json_part(part))
    return write_table(args.out_dir, out, lines, title, load, start)
