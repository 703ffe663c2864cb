"""mmstpn: STPN (Spatio-Temporal Prompting Network) for MMDetection.

Importing the package registers its models, datasets, transforms, samplers,
metrics and hooks into mmdet's registries and lets torch >= 2.6 load the
checkpoints mmengine writes (see :mod:`mmstpn.utils.checkpoint_compat`), and
lets configs inherit ``mmstpn::<folder>/<config>.py`` (see
:mod:`mmstpn.utils.config_scope`).
"""
from .utils import register_config_scope, register_mmengine_safe_globals

register_mmengine_safe_globals()
register_config_scope()

from . import datasets, engine, evaluation, models, structures  # noqa: E402,F401
from . import registry  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
