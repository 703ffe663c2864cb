"""mmstpn.utils.run_environment: where a run ran (versions, CPU, threads,
load), checked against the libraries and files it reads."""
import json
import os

import mmcv
import mmdet
import mmengine
import numpy as np
import pytest
import torch

from mmstpn.projects.run_record import (pop_run_environment,
                                        worker_environment)
from mmstpn.utils import run_env, run_environment

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw amx_tile avx512_vnni

processor\t: 1
model name\t: Another CPU
flags\t\t: fpu
"""


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_versions_cpu_threads_and_load(one_thread):
    env = run_environment(load_at_start=12.5)
    json.loads(json.dumps(env))             # json-able as it is
    assert env['versions'] == dict(
        python=env['versions']['python'], torch=torch.__version__,
        numpy=np.__version__, mmcv=mmcv.__version__,
        mmdet=mmdet.__version__, mmengine=mmengine.__version__,
        mmstpn=__import__('mmstpn').__version__)
    assert env['cpu']['count'] == os.cpu_count()
    assert 1 <= env['cpu']['usable'] <= os.cpu_count()
    assert env['threads']['torch'] == 1
    assert env['threads']['torch_interop'] == torch.get_num_interop_threads()
    assert env['threads']['cpu_capability'] == \
        torch.backends.cpu.get_cpu_capability()
    # the summary lines of parallel_info, not the indented thread counts
    info = torch.__config__.parallel_info()
    assert env['threads']['parallel_info']
    for line in env['threads']['parallel_info']:
        assert line in info and not line.endswith(':')
    assert any(line.startswith('ATen parallel backend')
               for line in env['threads']['parallel_info'])
    assert not any('get_num_threads' in line
                   for line in env['threads']['parallel_info'])
    assert env['load_1min']['start'] == 12.5
    assert env['load_1min']['end'] == pytest.approx(os.getloadavg()[0],
                                                    abs=5)
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            text = f.read()
        assert env['cpu']['model'] in text
        present = set(next(line for line in text.splitlines()
                           if line.startswith(('flags', 'Features')))
                      .split(':', 1)[1].split())
        assert set(env['cpu']['flags']) == \
            present & set(run_env.BLAS_CPU_FLAGS)


def test_cpuinfo_of_a_file(tmp_path):
    path = tmp_path / 'cpuinfo'
    path.write_text(CPUINFO)
    # the first processor's model and its BLAS flags, in the flags' order
    assert run_env._cpuinfo(str(path)) == dict(
        model='Intel(R) Xeon(R) Platinum 8480+',
        flags=['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw',
               'avx512_vnni', 'amx_tile'])
    missing = run_env._cpuinfo(str(tmp_path / 'none'))
    assert missing['flags'] is None


def test_workers_keep_their_threads_and_load(one_thread):
    results = {'baseline': {'AO': 0.5}, 'stpn': {'AO': 0.6}}
    for name in ('baseline', 'stpn'):
        results.update(worker_environment(name, load_at_start=1.0))
    assert results['stpn_environment']['threads']['torch'] == 1
    env = pop_run_environment(results, load_at_start=2.0)
    assert sorted(results) == ['baseline', 'stpn']     # popped
    assert sorted(env['workers']) == ['baseline', 'stpn']
    for worker in env['workers'].values():
        assert sorted(worker) == ['load_1min', 'threads']
        assert worker['threads']['torch'] == 1
        assert worker['load_1min']['start'] == 1.0
    assert env['load_1min']['start'] == 2.0
