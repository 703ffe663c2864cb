"""Let mmengine 0.10 resolve ``mmstpn::`` config paths, as it resolves
``mmdet::``.

mmengine looks an external config up in two steps, and both need help for a
package it does not know: ``_get_package_and_cfg_path`` accepts only the
packages of its ``MODULE2PACKAGE`` table, and ``get_installed_path`` answers
``<site-packages>/<package>`` from the distribution's location, which does
not hold the package for a PEP 660 editable install (``pip install -e .``).
:func:`register_config_scope` (run by ``import mmstpn``) adds ``mmstpn`` to
the table and, for ``mmstpn`` only and only when mmengine's answer is not a
folder, answers the folder of the imported package instead. A wheel install
needs only the first step. Configs that use ``mmstpn::`` must therefore be
loaded after ``import mmstpn`` (``tools/train.py``, ``tools/test.py`` and
``mim train mmstpn`` do so).
"""
import os.path as osp

from mmengine.config import config as mmengine_config
from mmengine.config import utils as mmengine_config_utils

__all__ = ['register_config_scope', 'package_dir']

SCOPE = 'mmstpn'


def package_dir() -> str:
    """The folder of the imported ``mmstpn`` package."""
    return osp.dirname(osp.dirname(osp.abspath(__file__)))


def _installed_path_or_package_dir(lookup):
    """Wrap mmengine's ``get_installed_path`` (``lookup``)."""

    def get_installed_path(package: str) -> str:
        path = lookup(package)
        if package == SCOPE and not osp.isdir(path):
            return package_dir()
        return path

    get_installed_path.mmstpn_wrapped = lookup
    return get_installed_path


def register_config_scope() -> None:
    """Make ``_base_ = ['mmstpn::<folder>/<config>.py']`` resolve to
    ``<mmstpn>/.mim/configs/<folder>/<config>.py`` (idempotent)."""
    mmengine_config_utils.MODULE2PACKAGE.setdefault(SCOPE, SCOPE)
    lookup = mmengine_config.get_installed_path
    if not hasattr(lookup, 'mmstpn_wrapped'):
        mmengine_config.get_installed_path = \
            _installed_path_or_package_dir(lookup)
