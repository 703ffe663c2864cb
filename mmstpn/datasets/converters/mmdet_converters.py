"""Find and run the dataset converters that ship inside the mmdet package.

``pip install mmdet`` puts mmdet's ``tools/`` under
``<site-packages>/mmdet/.mim/tools``; an editable (source) install has them
at ``<repo>/tools``. They are scripts, not importable modules, so they are
loaded with :mod:`runpy` (never copied).
"""
import os.path as osp
import runpy
import sys
from typing import Any, Dict, List, Optional

import mmdet


def mmdet_converter_path(name: str) -> str:
    """Path of ``tools/dataset_converters/<name>`` of the installed mmdet.

    Args:
        name (str): File name, e.g. 'youtubevis2coco.py'.

    Returns:
        str: The script's path.

    Raises:
        FileNotFoundError: Naming the places looked at.
    """
    root = osp.dirname(mmdet.__file__)
    candidates = [
        osp.join(root, '.mim', 'tools', 'dataset_converters', name),
        osp.join(osp.dirname(root), 'tools', 'dataset_converters', name),
    ]
    for path in candidates:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'mmdet {mmdet.__version__} has no {name}: looked at {candidates}')


def load_mmdet_converter(name: str) -> Dict:
    """The globals of mmdet's converter script (its functions), without
    running its ``main``.

    Args:
        name (str): File name, e.g. 'youtubevis2coco.py'.

    Returns:
        dict: The script's module globals.
    """
    return runpy.run_path(mmdet_converter_path(name), run_name='mmdet_tool')


def run_mmdet_converter(name: str,
                        argv: List[str],
                        init_globals: Optional[Dict[str, Any]] = None
                        ) -> None:
    """Run mmdet's converter script as ``python <script> <argv...>``.

    Args:
        name (str): File name, e.g. 'mot2coco.py'.
        argv (list[str]): Its command-line arguments.
        init_globals (dict, optional): Names the script sees as globals
            (``runpy``'s ``init_globals``), e.g. a builtin to replace.
    """
    path = mmdet_converter_path(name)
    old = sys.argv
    sys.argv = [path] + list(argv)
    try:
        runpy.run_path(path, init_globals=init_globals, run_name='__main__')
    finally:
        sys.argv = old
