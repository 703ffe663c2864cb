"""Install what users install: build mmstpn's wheel, install it (``--no-deps``)
into a temporary venv that sees the heavy stack (``--system-site-packages``)
and use it from a folder outside the checkout: the package must come from
the venv, a user's config must inherit an ``mmstpn::`` config, and the model
must build from it.

The checkout is never written (the wheel is built from a copy of the files
the build reads) and the main environment is not touched (the venv has its
own site-packages; pip runs with ``--no-deps --no-index``)."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: what the build reads (setup.py, MANIFEST.in)
BUILD_INPUTS = ('setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md',
                'LICENSE', 'NOTICE', 'model-index.yml', 'requirements',
                'mmstpn', 'configs', 'tools', 'demo')
BASE = 'stpn/stpn_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py'
IGNORE = shutil.ignore_patterns('__pycache__', '*.pyc', '.mim', '*.pth')


def _run(cmd, cwd, env=None, timeout=180):
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (f'{" ".join(cmd)} failed '
                                  f'({proc.returncode}):\n'
                                  f'{proc.stdout[-5000:]}')
    return proc.stdout


def _clean_env(**extra):
    """The environment without anything that points into the checkout."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               CUDA_VISIBLE_DEVICES='', PIP_NO_INPUT='1', **extra)
    return env


def build_wheel(src_root, out_dir):
    """Build mmstpn's wheel from a copy of ``src_root``'s build inputs into
    ``out_dir``; return its path."""
    src = osp.join(out_dir, 'src')
    os.makedirs(src)
    for name in BUILD_INPUTS:
        path = osp.join(src_root, name)
        if osp.isdir(path):
            shutil.copytree(path, osp.join(src, name), ignore=IGNORE)
        else:
            shutil.copy(path, src)
    dist = osp.join(out_dir, 'dist')
    try:
        import build  # noqa: F401  (PyPI's `build`, requirements/tests.txt)
        cmd = [sys.executable, '-m', 'build', '--wheel', '--no-isolation',
               '--outdir', dist, src]
    except ImportError:
        cmd = [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
               '--no-build-isolation', '--no-index', '-w', dist, src]
    _run(cmd, cwd=out_dir, env=_clean_env())
    (wheel, ) = [f for f in os.listdir(dist) if f.endswith('.whl')]
    return osp.join(dist, wheel)


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    """A venv over this interpreter's packages with mmstpn's wheel in it."""
    root = tmp_path_factory.mktemp('wheel_install')
    wheel = build_wheel(REPO, str(root))
    env_dir = str(root / 'venv')
    # no pip of its own: this interpreter's pip is visible through
    # --system-site-packages and installs into the venv's prefix
    _run([sys.executable, '-m', 'venv', '--system-site-packages',
          '--without-pip', env_dir], cwd=str(root))
    python = osp.join(env_dir, 'bin', 'python')
    _run([python, '-m', 'pip', 'install', '--no-deps', '--no-index', wheel],
         cwd=str(root), env=_clean_env())
    return dict(python=python, dir=osp.realpath(env_dir), wheel=wheel,
                root=root)


USER_SCRIPT = '''
import json, os, os.path as osp, sys
import mmstpn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmdet.registry import MODELS

cfg = Config.fromfile('my_config.py')
init_default_scope(cfg.get('default_scope', 'mmdet'))
model = MODELS.build(cfg.model)
mim = osp.join(osp.dirname(mmstpn.__file__), '.mim')
configs = sorted(
    osp.relpath(osp.join(d, f), osp.join(mim, 'configs'))
    for d, _, fs in os.walk(osp.join(mim, 'configs')) for f in fs
    if f.endswith('.py'))
# the inference API on a tiny generated clip, with a freshly initialised
# model built by init_model from the same user config
import numpy as np
from mmstpn.apis import inference_video, init_model
clip = [np.random.RandomState(t).randint(0, 255, (64, 80, 3), np.uint8)
        for t in range(4)]
api_model = init_model('my_config.py')
api = {mode: ['pred_instances' in r and r.metainfo['frame_id'] == t
              for t, r in enumerate(
                  inference_video(api_model, clip, mode=mode))]
       for mode in ('offline', 'online')}
api_policy = api_model.backbone.test_support.mode
print(json.dumps(dict(
    file=osp.realpath(mmstpn.__file__), cwd=os.getcwd(),
    model=type(model).__name__, backbone=type(model.backbone).__name__,
    num_prompts=cfg.model.backbone.get('num_prompts'),
    max_iters=cfg.train_cfg.max_iters, configs=configs,
    tools=sorted(os.listdir(osp.join(mim, 'tools'))),
    model_index=osp.isfile(osp.join(mim, 'model-index.yml')),
    api=api, api_policy=api_policy)))
'''


def test_wheel_installs_and_serves_mmstpn_configs(venv):
    user = venv['root'] / 'user_project'
    user.mkdir()
    (user / 'my_config.py').write_text(textwrap.dedent(f"""
        _base_ = ['mmstpn::{BASE}']
        train_cfg = dict(max_iters=7)
        """))
    (user / 'check.py').write_text(USER_SCRIPT)
    out = _run([venv['python'], 'check.py'], cwd=str(user),
               env=_clean_env())
    got = json.loads(out.strip().splitlines()[-1])
    # imported from the venv, not from the checkout
    assert got['file'].startswith(venv['dir'] + os.sep), got['file']
    assert not got['file'].startswith(osp.realpath(REPO) + os.sep)
    assert got['cwd'] == osp.realpath(str(user))
    # the inherited config (the user's override on top) built the model
    assert got['model'] == 'FasterRCNN'
    assert got['backbone'] == 'STPNSwin'
    assert got['num_prompts'] and got['num_prompts'] > 0
    assert got['max_iters'] == 7
    # every config of the checkout ships, with the scripts and the index
    expected = sorted(
        osp.relpath(osp.join(d, f), osp.join(REPO, 'configs'))
        for d, _, fs in os.walk(osp.join(REPO, 'configs')) for f in fs
        if f.endswith('.py'))
    assert got['configs'] == expected
    assert {'train.py', 'test.py', 'dist_train.sh', 'dist_test.sh',
            'slurm_train.sh', 'slurm_test.sh', 'analysis_tools',
            'dataset_converters', 'model_converters'} <= set(got['tools'])
    assert got['model_index']
    # the inference API ran on every frame in both modes, and the policy
    # switch reached the model
    assert got['api'] == dict(offline=[True] * 4, online=[True] * 4)
    assert got['api_policy'] == 'online'


def test_wheel_ships_no_checkout_only_files(venv):
    import zipfile
    names = zipfile.ZipFile(venv['wheel']).namelist()
    assert 'mmstpn/.mim/configs/' + BASE in names
    assert 'mmstpn/.mim/tools/train.py' in names
    assert any(n.endswith('/LICENSE') for n in names)
    assert not any(n.startswith(('tests/', 'docs/')) or '__pycache__' in n
                   or n.endswith('.pth') for n in names)
