"""Toy VIS experiment: STPN MaskTrack R-CNN (or the ``--model`` pair) vs the
same model without prompts on the deteriorated toy VIS set.

The procedure lives in :mod:`mmstpn.projects.toy_vis.experiment`;
``tools/misc/toy_vis_seeds.py`` runs it over several seeds.

Example::

    python tools/misc/toy_vis_experiment.py --out-dir outputs/toy_vis
    python tools/misc/toy_vis_experiment.py --model minvis
"""
from mmstpn.projects.toy_vis.experiment import main

if __name__ == '__main__':
    main()
