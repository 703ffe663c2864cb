from setuptools import find_packages, setup


def _version() -> str:
    scope: dict = {}
    with open('mmstpn/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


def _requirements(path: str) -> list:
    with open(path) as f:
        return [
            line.strip() for line in f
            if line.strip() and not line.startswith(('#', '-'))
        ]


setup(
    name='mmstpn',
    version=_version(),
    description='STPN (Spatio-Temporal Prompting Network, ICCV 2023) for '
    'OpenMMLab MMDetection',
    packages=find_packages(include=['mmstpn', 'mmstpn.*']),
    python_requires='>=3.8',
    # mmcv is not listed: it must be built from source with its ops
    # (scripts/setup_env.sh); listing it would let pip build it without them.
    install_requires=_requirements('requirements/runtime.txt'),
    extras_require={'tests': _requirements('requirements/tests.txt')},
    license='Apache License 2.0',
)
