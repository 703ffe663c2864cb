"""Generate the deteriorated toy video instance segmentation set
(:mod:`mmstpn.projects.toy_vis.generator`).

Example::

    python tools/misc/generate_toy_vis.py data/toy_vis --num-train-videos 240
"""
from mmstpn.projects.toy_vis.generator import main

if __name__ == '__main__':
    main()
