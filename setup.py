"""mmstpn's build: metadata, dependency ranges and extras, and the configs /
user-facing scripts shipped as package data in mim's layout
(``mmstpn/.mim/{configs,tools,demo,model-index.yml}``).

* wheels (``python -m build``, ``pip wheel``): ``build_py`` copies them into
  the build folder; the source tree is never written;
* sdists: ``MANIFEST.in`` ships the top-level folders, and the wheel built
  from the sdist copies them as above;
* editable installs (``pip install -e .``, ``setup.py develop``): the
  source tree gets ``mmstpn/.mim/*`` symlinks (git-ignored), so edits of
  ``configs/`` show through ``mmstpn::`` at once.

The design is written down in docs/design/packaging.md.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
#: what mim looks for under ``<package>/.mim`` (mmdet ships the same set)
MIM_FILES = ('configs', 'tools', 'demo', 'model-index.yml')
#: never shipped from ``tools/`` / ``demo/`` / ``configs/``
MIM_IGNORE = shutil.ignore_patterns('__pycache__', '*.pyc', '*.pth')

#: version ranges the package supports; the exact versions that were tested
#: are pinned in requirements/*.txt (scripts/setup_env.sh installs those)
INSTALL_REQUIRES = [
    # mmcv is not listed: it must be built WITH its compiled ops (pip's
    # sdist build would skip them); scripts/setup_env.sh installs it
    'mmengine>=0.10.0,<0.11.0',
    'mmdet>=3.3.0,<3.4.0',
    'numpy',
    'pycocotools',
    'matplotlib',
]
EXTRAS_REQUIRE = {
    # MOTChallengeMetric (trackeval), mmdet's ByteTrack / OC-SORT (lap) and
    # SORT-family trackers (motmetrics)
    'mot': ['trackeval>=1.3.0', 'lap>=0.5.12', 'motmetrics>=1.4.0'],
    # ClipCorrupt / test_robustness.py: the maintained imagecorruptions fork
    'robustness': ['imagecorruptions-imaug>=1.1.5'],
    # `mim train mmstpn ...`; 0.3.8+ pull openxlab, which pins setuptools
    # 60.2 and requests 2.28 into the environment
    'mim': ['openmim>=0.3.6,<0.3.8'],
    'tests': ['pytest', 'ruff', 'build'],
}
EXTRAS_REQUIRE['all'] = sorted(
    {req for reqs in EXTRAS_REQUIRE.values() for req in reqs})


def _version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmstpn', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def _readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def copy_mim_files(src_root: str, package_dir: str) -> None:
    """Copy ``MIM_FILES`` from ``src_root`` into ``package_dir/.mim``
    (what a wheel ships). A missing entry is an error: a wheel without its
    configs would only fail later, at ``mmstpn::`` lookup time."""
    mim = osp.join(package_dir, '.mim')
    if osp.lexists(mim):
        shutil.rmtree(mim) if osp.isdir(mim) and not osp.islink(mim) \
            else os.remove(mim)
    os.makedirs(mim)
    for name in MIM_FILES:
        src = osp.join(src_root, name)
        if not osp.exists(src):
            raise FileNotFoundError(
                f'{src} is missing: mmstpn ships {", ".join(MIM_FILES)} '
                'in mmstpn/.mim (build from a checkout or from the sdist)')
        dst = osp.join(mim, name)
        if osp.isdir(src):
            shutil.copytree(src, dst, ignore=MIM_IGNORE, symlinks=False)
        else:
            shutil.copyfile(src, dst)


def link_mim_files(src_root: str, package_dir: str) -> None:
    """Point ``package_dir/.mim/<name>`` at ``src_root/<name>`` with
    relative symlinks (editable installs). Existing entries are replaced."""
    mim = osp.join(package_dir, '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        dst = osp.join(mim, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        os.symlink(osp.relpath(osp.join(src_root, name), mim), dst)


class BuildPyWithMim(build_py):
    """``build_py`` that also puts the mim files into the built package
    (never into the source tree)."""

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            return  # editable wheels map the source tree: see below
        copy_mim_files(HERE, osp.join(self.build_lib, 'mmstpn'))


if {'develop', 'editable_wheel'} & set(sys.argv):
    link_mim_files(HERE, osp.join(HERE, 'mmstpn'))

setup(
    name='mmstpn',
    version=_version(),
    description='STPN (Spatio-Temporal Prompting Network, ICCV 2023) for '
    'OpenMMLab MMDetection',
    long_description=_readme(),
    long_description_content_type='text/markdown',
    keywords='computer vision, video object detection, video prompts',
    packages=find_packages(include=['mmstpn', 'mmstpn.*']),
    cmdclass={'build_py': BuildPyWithMim},
    python_requires='>=3.8',
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    license='Apache License 2.0',
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Operating System :: OS Independent',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False,
)
