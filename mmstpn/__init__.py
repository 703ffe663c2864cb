"""mmstpn: STPN (Spatio-Temporal Prompting Network) for MMDetection.

Importing the package registers its models, datasets, transforms, samplers,
metrics and hooks into mmdet's registries and lets torch >= 2.6 load the
checkpoints mmengine writes (see :mod:`mmstpn.utils.checkpoint_compat`).
"""
from .utils import register_mmengine_safe_globals

register_mmengine_safe_globals()

from . import datasets, engine, evaluation, models, structures  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
