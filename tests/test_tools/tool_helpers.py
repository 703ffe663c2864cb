"""What the end-to-end tests of tools/*.py and tools/dist_*.sh share: run
a tool in a subprocess (CPU, one thread per process), read back its logs,
its metrics json and its checkpoints; import a tool script as a module."""
import glob
import importlib.util
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

import mmstpn  # noqa: F401  (allow-lists mmengine's checkpoint types)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools')


def load_tool(relpath):
    """Import the tool script ``tools/<relpath>`` as a module."""
    name = 'tool_' + osp.splitext(relpath)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(TOOLS, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool_env(**extra):
    """The environment of a tool run: ``os.environ`` plus ``extra``, the
    checkout on PYTHONPATH, CPU only and one thread per process."""
    env = dict(os.environ)
    env.update(extra)
    env.update(
        # one thread per process: the 2-process runs share 2 cores, and
        # 1-process and 2-process runs use the same kernels/thread count
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        # CPU even on a GPU machine: these tests are about the CPU/gloo
        # path (2 ranks could not share a single GPU under NCCL anyway)
        CUDA_VISIBLE_DEVICES='',
        PYTHON=sys.executable,
        PYTHONPATH=os.pathsep.join(
            [REPO] + ([os.environ['PYTHONPATH']]
                      if os.environ.get('PYTHONPATH') else [])))
    return env


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(cmd, env, timeout=240):
    """Run ``cmd`` in the checkout; assert it succeeds; return its output."""
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    assert proc.returncode == 0, (f'{" ".join(cmd)} failed '
                                  f'({proc.returncode}):\n'
                                  f'{proc.stdout[-6000:]}')
    return proc.stdout


def run_tool(env, script, *args):
    """``python tools/<script> ARGS``."""
    return run([sys.executable, osp.join(TOOLS, script), *args], env)


def run_dist(env, script, *args):
    """``bash tools/<script> ARGS`` (dist_train.sh / dist_test.sh), on a
    fresh port."""
    env = dict(env, PORT=str(free_port()))
    return run(['bash', osp.join(TOOLS, script), *args], env)


def load_checkpoint(ckpt):
    # default torch.load (weights_only=True on torch >= 2.6): works because
    # `import mmstpn` allow-lists mmengine's checkpoint types
    return torch.load(ckpt, map_location='cpu')


def assert_dist_trained(work_dir, iters, world_size):
    """Check the log and the last checkpoint of a ``dist_train.sh`` run of
    ``iters`` iterations on ``world_size`` processes; return the
    checkpoint's path."""
    (log, ) = logs(work_dir)
    assert 'Distributed launcher: pytorch' in log
    assert 'Distributed training: True' in log
    assert f'GPU number: {world_size}' in log  # world size
    assert f'Iter(train) [{iters}/{iters}]' in log
    ckpt = osp.join(work_dir, f'iter_{iters}.pth')
    state = load_checkpoint(ckpt)
    assert state['meta']['iter'] == iters
    # saved from the unwrapped model, not from DDP
    assert not any(k.startswith('module.') for k in state['state_dict'])
    return ckpt


def logs(work_dir):
    """Text logs of the runs in ``work_dir``, oldest first."""
    return [
        open(p).read()
        for p in sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    ]


def logged_metrics(work_dir, prefix):
    """The metrics named ``prefix...`` in the json the LoggerHook writes
    after testing (without its timings)."""
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        return {
            k: v
            for k, v in json.load(f).items() if k.startswith(prefix)
        }
