"""mmstpn's registries: one child of each of mmdet's registries, with scope
``mmstpn``.

mmstpn registers its modules into mmdet's registries (``type='STPNSwin'``
resolves under ``default_scope='mmdet'``). A config inherited through
``mmstpn::`` gets ``_scope_='mmstpn'`` on its top-level typed dicts (that is
how mmengine marks external bases); mmengine then imports this module and
builds from the registry with that scope, whose lookups fall through to
mmdet's registry (its parent), so the same classes are found."""
from mmdet import registry as mmdet_registry
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'HOOKS', 'DATASETS', 'DATA_SAMPLERS',
    'TRANSFORMS', 'MODELS', 'WEIGHT_INITIALIZERS', 'OPTIMIZERS',
    'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'TASK_UTILS',
    'PARAM_SCHEDULERS', 'METRICS', 'MODEL_WRAPPERS', 'LOOPS', 'VISBACKENDS',
    'VISUALIZERS', 'LOG_PROCESSORS', 'EVALUATOR'
]


def _child(parent: Registry) -> Registry:
    # importing the package registers every module (into mmdet's registries)
    return Registry(
        parent.name, parent=parent, scope='mmstpn', locations=['mmstpn'])


RUNNERS = _child(mmdet_registry.RUNNERS)
RUNNER_CONSTRUCTORS = _child(mmdet_registry.RUNNER_CONSTRUCTORS)
HOOKS = _child(mmdet_registry.HOOKS)
DATASETS = _child(mmdet_registry.DATASETS)
DATA_SAMPLERS = _child(mmdet_registry.DATA_SAMPLERS)
TRANSFORMS = _child(mmdet_registry.TRANSFORMS)
MODELS = _child(mmdet_registry.MODELS)
WEIGHT_INITIALIZERS = _child(mmdet_registry.WEIGHT_INITIALIZERS)
OPTIMIZERS = _child(mmdet_registry.OPTIMIZERS)
OPTIM_WRAPPERS = _child(mmdet_registry.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child(mmdet_registry.OPTIM_WRAPPER_CONSTRUCTORS)
TASK_UTILS = _child(mmdet_registry.TASK_UTILS)
PARAM_SCHEDULERS = _child(mmdet_registry.PARAM_SCHEDULERS)
METRICS = _child(mmdet_registry.METRICS)
MODEL_WRAPPERS = _child(mmdet_registry.MODEL_WRAPPERS)
LOOPS = _child(mmdet_registry.LOOPS)
VISBACKENDS = _child(mmdet_registry.VISBACKENDS)
VISUALIZERS = _child(mmdet_registry.VISUALIZERS)
LOG_PROCESSORS = _child(mmdet_registry.LOG_PROCESSORS)
EVALUATOR = _child(mmdet_registry.EVALUATOR)
