"""Install mmcv 2.1.0 WITH its compiled ops into the current Python, the way
the installed torch needs it (run by ``scripts/setup_env.sh``; standard
library only, so it runs before mmstpn and its dependencies are installed).

Decision (:func:`plan`):

* mmcv 2.1.0 with importable ops and, on a CUDA build of torch
  (``torch.version.cuda`` set), with CUDA ops
  (``mmcv.ops.get_compiling_cuda_version()`` is not ``'not available'``):
  nothing to do;
* otherwise build it from source: ``MMCV_WITH_OPS=1``, ``FORCE_CUDA=1`` when
  torch is a CUDA build (so a login node without a GPU still compiles the
  CUDA kernels), ``MAX_JOBS`` from the usable cores unless set;
  ``MMCV_PREBUILT=1`` installs OpenMMLab's prebuilt wheel instead (they
  exist for torch 2.1.x with CUDA 11.8 / 12.1 only).

The build runs in a throwaway virtual environment that sees the user's
packages (``--system-site-packages``: torch) but holds its own
``setuptools<81`` (mmcv's setup.py imports ``pkg_resources``), ``wheel`` and
``ninja``; only the built wheel is installed into the user's environment,
whose setuptools stays as it was. Afterwards :func:`verify` imports the
ops again in a fresh process and fails loudly, with what to do, when the
CUDA ops are missing on a CUDA torch.

Usage::

    python scripts/mmcv_install.py [--dry-run]
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Mapping, NamedTuple, Optional

MMCV_VERSION = '2.1.0'
#: mmcv's setup.py imports pkg_resources (gone in setuptools 82; 81 warns)
BUILD_REQUIREMENTS = ('setuptools>=77.0.3,<81', 'wheel', 'ninja')
#: mmcv's C++ flags of the CPU build here: ~9 min instead of ~15 on 2 cores
DEFAULT_CFLAGS = '-DNDEBUG -g0 -fwrapv -O3 -Wall'
NO_CUDA = 'not available'
#: OpenMMLab's prebuilt mmcv 2.1.0 wheels: (torch major.minor, CUDA) pairs
PREBUILT = {('2.1', '11.8'): 'cu118', ('2.1', '12.1'): 'cu121'}
PREBUILT_URL = ('https://download.openmmlab.com/mmcv/dist/{cuda}/'
                'torch{torch}/index.html')

#: run in a fresh interpreter: what torch and mmcv report (json on stdout)
PROBE = r'''
import json
state = dict(torch=None, torch_cuda=None, mmcv=None, ops_error=None,
             compiling_cuda=None)
try:
    import torch
    state.update(torch=torch.__version__, torch_cuda=torch.version.cuda)
except ImportError:
    pass
try:
    import mmcv
    state['mmcv'] = mmcv.__version__
    import mmcv.ops
    from mmcv.ops import nms  # noqa: F401  (needs the compiled ops)
    state['compiling_cuda'] = mmcv.ops.get_compiling_cuda_version()
except ImportError as e:
    if state['mmcv'] is not None:
        state['ops_error'] = f'{type(e).__name__}: {e}'
print(json.dumps(state))
'''


class State(NamedTuple):
    """What the current Python has (see ``PROBE``)."""
    torch: Optional[str]
    torch_cuda: Optional[str]
    mmcv: Optional[str]
    ops_error: Optional[str]
    compiling_cuda: Optional[str]


class Plan(NamedTuple):
    """What to do: ``action`` is ``'skip'``, ``'build'`` or ``'prebuilt'``;
    ``env`` the build variables; ``reason`` one line for the log."""
    action: str
    reason: str
    env: Dict[str, str]
    find_links: Optional[str] = None


def probe(python: str = sys.executable) -> State:
    """Ask ``python`` (a fresh process: no stale imports) what it has."""
    out = subprocess.run([python, '-c', PROBE], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return State(**json.loads(out.strip().splitlines()[-1]))


def usable_cores() -> int:
    """The cores this process may run on (``nproc``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def prebuilt_index(state: State) -> Optional[str]:
    """OpenMMLab's wheel index for this torch + CUDA, or None if it has
    none."""
    if state.torch is None or state.torch_cuda is None:
        return None
    torch_mm = '.'.join(state.torch.split('+')[0].split('.')[:2])
    cuda = PREBUILT.get((torch_mm, state.torch_cuda))
    return PREBUILT_URL.format(cuda=cuda, torch=torch_mm) if cuda else None


def plan(state: State, environ: Mapping[str, str]) -> Plan:
    """Decide what to install for ``state`` (pure: no side effects).

    Raises:
        RuntimeError: without torch, or when ``MMCV_PREBUILT=1`` is asked
            for a torch / CUDA pair that OpenMMLab has no wheels for.
    """
    if state.torch is None:
        raise RuntimeError('torch is not installed: install it first (a CUDA '
                           'build on a GPU cluster, see '
                           'docs/getting_started.md)')
    cuda = state.torch_cuda
    if state.mmcv == MMCV_VERSION and state.ops_error is None:
        if cuda is None:
            return Plan('skip', f'mmcv {MMCV_VERSION} with its ops is '
                        f'installed (CPU torch {state.torch})', {})
        if state.compiling_cuda not in (None, NO_CUDA):
            return Plan('skip', f'mmcv {MMCV_VERSION} with CUDA '
                        f'{state.compiling_cuda} ops is installed', {})
        reason = (f'mmcv {MMCV_VERSION} is installed WITHOUT CUDA ops but '
                  f'torch {state.torch} is a CUDA {cuda} build')
    elif state.mmcv is None:
        reason = 'mmcv is not installed'
    elif state.mmcv != MMCV_VERSION:
        reason = f'mmcv {state.mmcv} is installed, mmstpn needs ' \
                 f'{MMCV_VERSION}'
    else:
        reason = f'mmcv {MMCV_VERSION} has no usable ops ({state.ops_error})'
    if environ.get('MMCV_PREBUILT') == '1':
        index = prebuilt_index(state)
        if index is None:
            raise RuntimeError(
                f'MMCV_PREBUILT=1: OpenMMLab has no mmcv {MMCV_VERSION} '
                f'wheels for torch {state.torch} + CUDA {cuda} (only torch '
                '2.1.x with CUDA 11.8 / 12.1); unset MMCV_PREBUILT to build '
                'from source')
        return Plan('prebuilt', reason, {}, index)
    env = dict(MMCV_WITH_OPS='1',
               MAX_JOBS=environ.get('MAX_JOBS') or str(usable_cores()),
               CFLAGS=environ.get('CFLAGS') or DEFAULT_CFLAGS)
    if cuda is not None:
        env['FORCE_CUDA'] = '1'
    return Plan('build', reason, env)


def check(state: State) -> None:
    """Raise ``RuntimeError`` (with what to do) unless ``state`` has
    mmcv 2.1.0 with its ops, and CUDA ops on a CUDA torch."""
    if state.mmcv != MMCV_VERSION:
        raise RuntimeError(f'mmcv {MMCV_VERSION} is not importable after '
                           f'the install (found: {state.mmcv})')
    if state.ops_error is not None:
        raise RuntimeError(f'mmcv {MMCV_VERSION} was installed without '
                           f'usable compiled ops: {state.ops_error}')
    if state.torch_cuda is not None and state.compiling_cuda in (None,
                                                                 NO_CUDA):
        raise RuntimeError(
            f'mmcv {MMCV_VERSION} has NO CUDA ops '
            f"(mmcv.ops.get_compiling_cuda_version() = "
            f"'{state.compiling_cuda}') but torch {state.torch} is a CUDA "
            f'{state.torch_cuda} build: training and testing on the GPU '
            'would fail in mmcv.ops. Make the CUDA toolkit of that version '
            'visible (`nvcc --version`; export CUDA_HOME=/path/to/cuda), '
            'then rerun `bash scripts/setup_env.sh` (it builds with '
            'FORCE_CUDA=1, so no GPU is needed on the build node)' +
            ('; or install the prebuilt wheel: MMCV_PREBUILT=1 bash '
             'scripts/setup_env.sh' if prebuilt_index(state) else ''))


def build_commands(python: str, venv: str, wheel_dir: str) -> List[list]:
    """The commands of a source build of the mmcv wheel into ``wheel_dir``,
    in a throwaway ``venv`` that sees ``python``'s packages."""
    vpy = osp.join(venv, 'bin', 'python')
    return [
        [python, '-m', 'venv', '--system-site-packages', venv],
        [vpy, '-m', 'pip', 'install', '-q', *BUILD_REQUIREMENTS],
        [vpy, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
         '-w', wheel_dir, f'mmcv=={MMCV_VERSION}'],
    ]


def install_commands(python: str, wheel: str) -> List[list]:
    """Install the built ``wheel`` into ``python``'s environment: it
    replaces any mmcv there, then a second call adds its dependencies."""
    return [
        [python, '-m', 'pip', 'install', '-q', '--no-deps',
         '--force-reinstall', wheel],
        [python, '-m', 'pip', 'install', '-q', wheel],
    ]


def _run(cmd: list, env: Dict[str, str]) -> None:
    print('[mmcv]', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def install(the_plan: Plan, python: str = sys.executable) -> None:
    """Carry out ``the_plan`` (a build takes minutes)."""
    env = dict(os.environ, **the_plan.env)
    if the_plan.action == 'prebuilt':
        _run([python, '-m', 'pip', 'install', '-q', '--force-reinstall',
              f'mmcv=={MMCV_VERSION}', '-f', the_plan.find_links], env)
        return
    tmp = tempfile.mkdtemp(prefix='mmcv_build_')
    try:
        venv, wheels = osp.join(tmp, 'venv'), osp.join(tmp, 'wheels')
        for cmd in build_commands(python, venv, wheels):
            _run(cmd, env)
        (wheel, ) = glob.glob(osp.join(wheels, 'mmcv-*.whl'))
        for cmd in install_commands(python, wheel):
            _run(cmd, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dry-run', action='store_true',
                        help='print the decision, install nothing')
    args = parser.parse_args(argv)
    try:
        the_plan = plan(probe(), os.environ)
        print(f'[mmcv] {the_plan.action}: {the_plan.reason}'
              + (f' ({" ".join(f"{k}={v}" for k, v in the_plan.env.items())})'
                 if the_plan.env else ''), flush=True)
        if the_plan.action == 'skip' or args.dry_run:
            return 0
        install(the_plan)
        check(probe())
    except RuntimeError as e:
        print(f'[mmcv] ERROR: {e}', file=sys.stderr, flush=True)
        return 1
    except subprocess.CalledProcessError as e:
        print(f'[mmcv] ERROR: `{" ".join(map(str, e.cmd))}` failed (exit '
              f'{e.returncode}, output above). A CUDA build needs the CUDA '
              'toolkit of torch.version.cuda (nvcc, CUDA_HOME) and a C++ '
              'compiler; see docs/getting_started.md', file=sys.stderr,
              flush=True)
        return 1
    print(f'[mmcv] ok: mmcv {MMCV_VERSION} with its ops', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
