"""The main job (``bash scripts/main.sh``): STPN vs the same backbone
without prompts on the embedded deteriorated-video set.

The procedure lives in :mod:`mmstpn.projects.toy_vid.experiment`.

Example::

    python tools/misc/toy_vid_experiment.py --out-dir outputs/toy_vid
"""
from mmstpn.projects.toy_vid.experiment import main

if __name__ == '__main__':
    main()
