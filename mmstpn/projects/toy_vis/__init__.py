"""The toy vis experiment's code (see :mod:`mmstpn.projects`)."""
