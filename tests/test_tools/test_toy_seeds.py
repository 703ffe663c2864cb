"""Tests of the seeds tables of the toy VIS and tracking jobs
(tools/misc/toy_vis_seeds.py, toy_sot_seeds.py; mmstpn/projects/seeds.py).

The fast tests run a tool in this process with the experiment's worker
processes replaced by a stub that returns made-up figures (the toy sets are
really generated, tiny, and the experiment's main writes its results.json);
the smoke tests run one real, tiny seed end to end in a subprocess, as a
user would."""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmstpn.projects.toy_sot import experiment as toy_sot
from mmstpn.projects.toy_vis import experiment as toy_vis
from tests.test_tools.tool_helpers import REPO, TOOLS, load_tool, tool_env


def _vis_metrics(rng):
    keys = ('segm_mAP', 'mask_AP_all', 'mask_AP_deteriorated',
            'mask_AP_clean')
    return {k: float(v) for k, v in zip(keys, rng.random(len(keys)))}


def _sot_metrics(rng):
    return {part: dict(AO=float(rng.random()), SR50=float(rng.random()),
                       num_frames=10)
            for part in ('all', 'deteriorated', 'clean')}


def _digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


#: per job: the experiment, the function that runs its workers, tiny
#: arguments, made-up metrics of a model, the (key path, column) of the
#: table, a file of the generated set that depends on the seed
JOBS = {
    'vis': dict(
        module=toy_vis, spawn='spawn',
        tiny=['--num-train-videos', '2', '--num-val-videos', '2',
              '--frames-per-video', '4', '--img-size', '64',
              '--cls-pretrain-iters', '0', '--pretrain-iters', '0'],
        metrics=_vis_metrics,
        columns={'video': ('segm_mAP', ), 'all': ('mask_AP_all', ),
                 'deteriorated': ('mask_AP_deteriorated', ),
                 'clean': ('mask_AP_clean', )},
        data_file='val.json'),
    'sot': dict(
        module=toy_sot, spawn='_spawn_and_collect',
        tiny=['--num-train', '2', '--num-val', '2', '--frames', '5',
              '--pretrain-iters', '0'],
        metrics=_sot_metrics,
        columns={'all': ('all', 'AO'),
                 'deteriorated': ('deteriorated', 'AO'),
                 'clean': ('clean', 'AO')},
        data_file=osp.join('val', 'TOY_val_0000', 'groundtruth.txt')),
}


class FakeWorkers:
    """Stands in for an experiment's worker processes: records the
    arguments and returns figures drawn from (seed, model)."""

    def __init__(self, metrics):
        self.metrics = metrics
        self.calls = []

    def __call__(self, args, names):
        assert tuple(names) == ('baseline', 'stpn')
        self.calls.append(args)
        out = {}
        for i, name in enumerate(names):
            out[name] = self.metrics(np.random.default_rng([args.seed, i]))
            out[f'{name}_timings'] = dict(train_s=1.0)
        return out


def _load(path):
    with open(path) as f:
        return json.load(f)


def _value(row, path):
    for key in path:
        row = row[key]
    return row


@pytest.mark.parametrize('job', sorted(JOBS))
def test_seeds_table_and_resume(job, tmp_path, monkeypatch, capsys):
    spec = JOBS[job]
    fake = FakeWorkers(spec['metrics'])
    monkeypatch.setattr(spec['module'], spec['spawn'], fake)
    tool = load_tool(f'misc/toy_{job}_seeds.py')
    out = str(tmp_path / 'seeds')
    argv = ['--seeds', '0', '1', '2', '--out-dir', out, *spec['tiny'],
            '--cfg-options', 'model.foo=1']
    res = tool.main(argv)
    text = capsys.readouterr().out
    assert 'run 3/3: seed 2' in text
    # one run per seed, on its own new toy set, with the pass-through
    # options
    assert [a.seed for a in fake.calls] == [0, 1, 2]
    digests = set()
    for a in fake.calls:
        assert a.cfg_options == {'model.foo': 1}
        assert a.out_dir == osp.join(out, f'seed{a.seed}')
        assert a.data_dir == osp.join(out, 'data', f'seed{a.seed}')
        digests.add(_digest(osp.join(a.data_dir, spec['data_file'])))
    assert len(digests) == 3            # every set differs
    # the table holds the per-run results.json values; mean / min over seeds
    saved = _load(osp.join(out, 'seeds_table.json'))
    assert saved['table'] == json.loads(json.dumps(res['table']))
    assert saved['seeds'] == [0, 1, 2]
    part = saved['table']
    assert sorted(part['seeds']) == ['0', '1', '2']
    cols = {}
    for seed, row in part['seeds'].items():
        results = _load(osp.join(out, f'seed{seed}', 'results.json'))
        # each run says where it ran
        assert results['environment']['cpu']['count'] == os.cpu_count()
        for name, path in spec['columns'].items():
            base = _value(results['baseline'], path)
            stpn = _value(results['stpn'], path)
            want = {f'baseline_{name}': base, f'stpn_{name}': stpn,
                    f'diff_{name}': stpn - base}
            for col, v in want.items():
                assert row[col] == pytest.approx(v, abs=1e-12)
                cols.setdefault(col, []).append(v)
    assert set(part['mean']) == set(cols) == set(part['min'])
    for col, values in cols.items():
        assert part['mean'][col] == pytest.approx(np.mean(values))
        assert part['min'][col] == pytest.approx(np.min(values))
    assert saved['environment']['versions']['torch']
    md = open(osp.join(out, 'seeds_table.md')).read().splitlines()
    row = part['seeds']['1']
    first = next(iter(spec['columns']))
    assert md[3].startswith(f'| 1 | {100 * row["baseline_" + first]:.1f} |')
    last = list(spec['columns'])[-1]
    assert md[2 + 4].startswith('| **min** |')   # 3 seeds, mean, then min
    assert md[2 + 4].endswith(f'| {100 * part["min"]["diff_" + last]:+.1f} |')
    assert len(md[0].split('|')) - 2 == 1 + 3 * len(spec['columns'])
    assert all(line in text for line in md)

    # resumable: nothing is rerun, the same table comes back
    again = tool.main(argv)
    assert len(fake.calls) == 3
    assert again['table'] == res['table']
    assert 'seed 2: done before' in capsys.readouterr().out
    # a new seed runs only that one
    tool.main(argv[:1] + ['1', '3'] + argv[4:])
    assert [a.seed for a in fake.calls[3:]] == [3]
    # other pass-through options in the same out-dir: refused, before any run
    with pytest.raises(RuntimeError, match='was run with the arguments'):
        tool.main(argv[:-1] + ['model.foo=2'])
    assert len(fake.calls) == 4


@pytest.mark.parametrize('job', sorted(JOBS))
def test_bad_arguments(job, tmp_path, monkeypatch):
    spec = JOBS[job]
    fake = FakeWorkers(spec['metrics'])
    monkeypatch.setattr(spec['module'], spec['spawn'], fake)
    tool = load_tool(f'misc/toy_{job}_seeds.py')
    for bad in (['--seed', '3'], ['--data-dir', 'x'], ['--worker', 'stpn'],
                ['--seeds', '1', '1'], ['--itres', '2']):
        with pytest.raises(SystemExit):
            tool.main(['--out-dir', str(tmp_path), *bad])
    assert fake.calls == []
    assert not os.listdir(tmp_path)     # nothing made


# ---------------------------------------------------------------- smoke
SMOKE = {
    'vis': ['--num-train-videos', '2', '--num-val-videos', '2',
            '--frames-per-video', '6', '--img-size', '64',
            '--cls-pretrain-iters', '0', '--pretrain-iters', '0',
            '--iters', '2', '--cfg-options',
            'train_dataloader.batch_size=1'],
    'sot': ['--num-train', '4', '--num-val', '3', '--frames', '10',
            '--pretrain-iters', '0', '--iters', '2', '--cfg-options',
            'train_dataloader.batch_size=2'],
}


@pytest.mark.parametrize('job', sorted(SMOKE))
def test_seeds_smoke(job, tmp_path):
    """One real seed, 2 iterations per model, through the tool."""
    out = str(tmp_path / 'seeds')
    proc = subprocess.run(
        [sys.executable, osp.join(TOOLS, 'misc', f'toy_{job}_seeds.py'),
         '--seeds', '1', '--out-dir', out, *SMOKE[job]],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env=tool_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = _load(osp.join(out, 'seed1', 'results.json'))
    saved = _load(osp.join(out, 'seeds_table.json'))
    part = saved['table']
    for name, path in JOBS[job]['columns'].items():
        for model in ('baseline', 'stpn'):
            v = _value(results[model], path)
            assert 0 <= v <= 1 or v == -1
            assert part['seeds']['1'][f'{model}_{name}'] == v
            assert part['mean'][f'{model}_{name}'] == v
            assert part['min'][f'{model}_{name}'] == v
    assert '| **min** |' in proc.stdout
    # the workers trained on one thread each, on this machine
    env = results['environment']
    assert {w['threads']['torch'] for w in env['workers'].values()} == {1}
    assert saved['environment']['cpu']['count'] == os.cpu_count()
