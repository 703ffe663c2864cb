"""The toy vid experiment's code (see :mod:`mmstpn.projects`)."""
