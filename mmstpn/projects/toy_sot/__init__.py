"""The toy sot experiment's code (see :mod:`mmstpn.projects`)."""
