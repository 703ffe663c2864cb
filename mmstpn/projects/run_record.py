"""The environment record of a toy run whose models train in worker
processes (:func:`mmstpn.utils.run_environment` of the main process, with
each worker's threads and load)."""
from typing import Optional

from mmstpn.utils.run_env import load_average, run_environment

__all__ = [
    'ENVIRONMENT_SUFFIX', 'load_average', 'pop_run_environment',
    'worker_environment'
]

#: a worker's result json holds its environment under ``<name>`` + this
ENVIRONMENT_SUFFIX = '_environment'


def pop_run_environment(results: dict,
                        load_at_start: Optional[float] = None) -> dict:
    """Remove the workers' environments (keys ``<name>_environment``) from
    ``results`` and return the run's environment with them.

    Args:
        results (dict): the merged result jsons of the workers; changed in
            place.
        load_at_start (float, optional): the 1-minute load average when the
            run started.

    Returns:
        dict: :func:`~mmstpn.utils.run_environment` of this process, its
        ``workers`` the removed entries by worker name.
    """
    workers = {
        key[:-len(ENVIRONMENT_SUFFIX)]: results.pop(key)
        for key in [k for k in results if k.endswith(ENVIRONMENT_SUFFIX)]
    }
    return run_environment(load_at_start, workers=workers)


def worker_environment(name: str,
                       load_at_start: Optional[float] = None) -> dict:
    """What the worker ``name`` adds to its result json: its
    :func:`~mmstpn.utils.run_environment` under ``<name>_environment``
    (:func:`pop_run_environment` collects it)."""
    return {name + ENVIRONMENT_SUFFIX: run_environment(load_at_start)}
