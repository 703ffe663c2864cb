"""Experiment code that is not library: the toy data generators and the
toy experiment runners behind ``tools/misc/*.py`` and ``scripts/main.sh``.

It ships with the package so that it imports the same way from a checkout
and from an installed wheel (no ``sys.path`` edits); nothing in
:mod:`mmstpn` imports it, so ``import mmstpn`` does not pay for it. The
runners read the configs from :func:`configs_root`'s folder and run their
workers there.
"""
import os.path as osp

__all__ = ['configs_root']


def configs_root() -> str:
    """The folder that holds ``configs/`` (and ``tools/``) for this copy of
    mmstpn.

    Returns:
        str: the checkout's root when :mod:`mmstpn` is imported from a
        checkout (``PYTHONPATH`` or an editable install), else the
        package's ``.mim`` folder (a wheel install, where the configs ship
        as ``mmstpn/.mim/configs``).

    Raises:
        FileNotFoundError: if neither folder has a ``configs/`` folder.
    """
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.dirname(package), osp.join(package, '.mim')):
        if osp.isdir(osp.join(root, 'configs')):
            return root
    raise FileNotFoundError(
        f'no configs/ next to the mmstpn package at {package} nor in its '
        '.mim folder: run from a checkout or install mmstpn as a wheel')
