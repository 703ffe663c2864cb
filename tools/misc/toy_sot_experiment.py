"""Toy tracking experiment: the STPN one-stream tracker vs the same tracker
without prompts on the deteriorated toy tracking set.

The procedure lives in :mod:`mmstpn.projects.toy_sot.experiment`;
``tools/misc/toy_sot_seeds.py`` runs it over several seeds.

Example::

    python tools/misc/toy_sot_experiment.py --out-dir outputs/toy_sot
"""
from mmstpn.projects.toy_sot.experiment import main

if __name__ == '__main__':
    main()
