"""scripts/mmcv_install.py: the mmcv install decision, tested without a GPU.

A fake CUDA torch and a fake mmcv whose ops report no CUDA (the state a
login node without a GPU leaves behind when mmcv is built without
``FORCE_CUDA=1``) are put first on ``PYTHONPATH`` of the probe process;
the real environment of this machine (CPU torch, mmcv with CPU ops) must
be left alone."""
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'scripts', 'mmcv_install.py')


def _load():
    spec = importlib.util.spec_from_file_location('mmcv_install', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mi = _load()


def _fake_stack(root, torch_version='2.5.1+cu124', cuda="'12.4'",
                mmcv_version='2.1.0', compiling_cuda='not available',
                with_ops=True):
    """Write importable fake ``torch`` and ``mmcv`` packages under
    ``root``."""
    torch = root / 'torch'
    torch.mkdir()
    (torch / '__init__.py').write_text(
        f"__version__ = '{torch_version}'\n"
        'class version:\n'
        f'    cuda = {cuda}\n')
    mmcv = root / 'mmcv'
    (mmcv / 'ops').mkdir(parents=True)
    (mmcv / '__init__.py').write_text(f"__version__ = '{mmcv_version}'\n")
    (mmcv / 'ops' / '__init__.py').write_text(
        ('def nms(*args):\n    pass\n' if with_ops else
         "raise ImportError('libmmcv _ext.so: undefined symbol')\n") +
        f'def get_compiling_cuda_version():\n    return {compiling_cuda!r}\n')
    return str(root)


def _state(**kw):
    base = dict(torch='2.13.0+cpu', torch_cuda=None, mmcv='2.1.0',
                ops_error=None, compiling_cuda='not available')
    base.update(kw)
    return mi.State(**base)


def test_probe_sees_fake_cuda_torch_and_mmcv_without_cuda_ops(
        tmp_path, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', _fake_stack(tmp_path))
    state = mi.probe()
    assert state == mi.State(torch='2.5.1+cu124', torch_cuda='12.4',
                             mmcv='2.1.0', ops_error=None,
                             compiling_cuda='not available')
    the_plan = mi.plan(state, {'MAX_JOBS': '7'})
    assert the_plan.action == 'build'
    assert 'WITHOUT CUDA ops' in the_plan.reason
    assert the_plan.env == dict(MMCV_WITH_OPS='1', MAX_JOBS='7',
                                CFLAGS=mi.DEFAULT_CFLAGS, FORCE_CUDA='1')
    with pytest.raises(RuntimeError, match='NO CUDA ops.*CUDA_HOME'):
        mi.check(state)


def test_probe_reports_broken_ops(tmp_path, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', _fake_stack(tmp_path, with_ops=False))
    state = mi.probe()
    assert state.mmcv == '2.1.0'
    assert 'undefined symbol' in state.ops_error
    assert mi.plan(state, {}).action == 'build'
    with pytest.raises(RuntimeError, match='without usable compiled ops'):
        mi.check(state)


def test_dry_run_on_fake_cuda_stack_prints_force_cuda(tmp_path, monkeypatch):
    env_path = _fake_stack(tmp_path)
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--dry-run'],
        env={'PYTHONPATH': env_path, 'PATH': '/usr/bin:/bin',
             'MAX_JOBS': '3'},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=60)
    assert proc.returncode == 0, proc.stdout
    assert '[mmcv] build:' in proc.stdout
    assert 'FORCE_CUDA=1' in proc.stdout and 'MAX_JOBS=3' in proc.stdout


def test_this_machine_is_skipped():
    """CPU torch + mmcv 2.1.0 built with its CPU ops: nothing to do."""
    state = mi.probe()
    assert state.torch_cuda is None
    the_plan = mi.plan(state, {})
    assert the_plan.action == 'skip', the_plan
    mi.check(state)  # no error


def test_cuda_ops_present_is_skipped():
    state = _state(torch='2.1.2+cu121', torch_cuda='12.1',
                   compiling_cuda='12.1')
    assert mi.plan(state, {}).action == 'skip'
    mi.check(state)


@pytest.mark.parametrize('kw,reason', [
    (dict(mmcv=None, compiling_cuda=None), 'not installed'),
    (dict(mmcv='2.2.0'), 'mmcv 2.2.0 is installed'),
    (dict(ops_error='ImportError: x'), 'no usable ops'),
])
def test_cpu_torch_builds_without_force_cuda(kw, reason, monkeypatch):
    monkeypatch.setattr(mi, 'usable_cores', lambda: 5)
    the_plan = mi.plan(_state(**kw), {})
    assert the_plan.action == 'build' and reason in the_plan.reason
    assert 'FORCE_CUDA' not in the_plan.env
    assert the_plan.env['MAX_JOBS'] == '5'  # from the cores, not a constant
    assert the_plan.env['MMCV_WITH_OPS'] == '1'


def test_no_torch_is_an_error():
    with pytest.raises(RuntimeError, match='torch is not installed'):
        mi.plan(_state(torch=None, mmcv=None), {})


def test_prebuilt_only_where_openmmlab_has_wheels():
    state = _state(torch='2.1.2+cu118', torch_cuda='11.8', mmcv=None,
                   compiling_cuda=None)
    the_plan = mi.plan(state, {'MMCV_PREBUILT': '1'})
    assert the_plan.action == 'prebuilt'
    assert the_plan.find_links == ('https://download.openmmlab.com/mmcv/'
                                   'dist/cu118/torch2.1/index.html')
    newer = state._replace(torch='2.5.1+cu124', torch_cuda='12.4')
    with pytest.raises(RuntimeError, match='no mmcv 2.1.0 wheels'):
        mi.plan(newer, {'MMCV_PREBUILT': '1'})
    # the failure message names the prebuilt path only where it exists
    no_ops = state._replace(mmcv='2.1.0')
    with pytest.raises(RuntimeError, match='MMCV_PREBUILT=1'):
        mi.check(no_ops)
    with pytest.raises(RuntimeError) as err:
        mi.check(no_ops._replace(torch='2.5.1+cu124', torch_cuda='12.4'))
    assert 'MMCV_PREBUILT' not in str(err.value)


def test_build_keeps_setuptools_pin_out_of_the_user_env(monkeypatch):
    """Only the throwaway venv gets setuptools<81; the user's python only
    installs the built wheel."""
    calls = []

    def fake_run(cmd, env):
        calls.append((cmd, env))
        if cmd[3:4] == ['wheel']:  # the build writes the wheel
            out = cmd[cmd.index('-w') + 1]
            import os
            os.makedirs(out)
            open(osp.join(out, 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'),
                 'w').close()

    monkeypatch.setattr(mi, '_run', fake_run)
    the_plan = mi.Plan('build', 'test', dict(MMCV_WITH_OPS='1', MAX_JOBS='2',
                                             CFLAGS='-O3', FORCE_CUDA='1'))
    mi.install(the_plan, python='/usr/bin/python-user')
    cmds = [cmd for cmd, _ in calls]
    assert cmds[0][:4] == ['/usr/bin/python-user', '-m', 'venv',
                           '--system-site-packages']
    venv_py = osp.join(cmds[0][4], 'bin', 'python')
    user = [c for c in cmds if c[0] == '/usr/bin/python-user'][1:]
    assert all(c[0] == venv_py for c in cmds[1:3])
    assert any(r.startswith('setuptools') and '<81' in r for r in cmds[1])
    assert len(user) == 2 and all(c[-1].endswith('.whl') for c in user)
    assert not any('setuptools' in part for c in user for part in c)
    assert all(env['FORCE_CUDA'] == '1' for _, env in calls)
    assert not osp.exists(cmds[0][4])  # the throwaway venv is gone
