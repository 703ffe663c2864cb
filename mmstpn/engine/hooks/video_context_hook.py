"""Hand the model's test-time support policy to the test pipeline."""
from typing import Iterator, List, Tuple

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmstpn.structures import SupportPolicy


def stpn_backbones(model: nn.Module) -> List[nn.Module]:
    """Every STPN backbone inside ``model`` (model wrappers unwrapped)."""
    from mmstpn.models.backbones import STPNBackboneMixin
    if is_model_wrapper(model):
        model = model.module
    return [m for m in model.modules() if isinstance(m, STPNBackboneMixin)]


def video_context_modules(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """``(name, module)`` of every module of ``model`` (wrappers unwrapped)
    that holds a test-time video context: a ``test_support``
    :class:`~mmstpn.structures.SupportPolicy` and a ``support_cache``
    (STPN backbones, the SELSA detector). ``name`` is the module's path in
    the model ('' for the model itself)."""
    from mmstpn.models.backbones import SupportCache
    if is_model_wrapper(model):
        model = model.module
    return [(name, m) for name, m in model.named_modules()
            if isinstance(getattr(m, 'test_support', None), SupportPolicy)
            and isinstance(getattr(m, 'support_cache', None), SupportCache)]


def support_samplers(dataset) -> Iterator:
    """Every ``SupportFrameSample`` of a dataset's pipeline, through dataset
    wrappers (``datasets`` / ``dataset``) and nested transform lists."""
    from mmstpn.datasets.transforms import SupportFrameSample

    def walk(obj, seen):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, SupportFrameSample):
            yield obj
            return
        children = getattr(obj, 'transforms', None)
        if isinstance(children, (list, tuple)):
            for child in children:
                yield from walk(child, seen)
        elif children is not None:
            yield from walk(children, seen)

    queue, seen = [dataset], set()
    while queue:  # breadth first, in the wrappers' order
        ds = queue.pop(0)
        for name in ('datasets', 'dataset'):
            inner = getattr(ds, name, None)
            if isinstance(inner, (list, tuple)):
                queue.extend(inner)
            elif inner is not None:
                queue.append(inner)
        pipeline = getattr(ds, 'pipeline', None)
        if pipeline is not None:
            yield from walk(pipeline, seen)


def model_policy(model: nn.Module) -> SupportPolicy:
    """The one test-time policy of the model: that of its STPN backbone(s)
    and / or its video detector (SELSA: ``model.test_support``), which must
    all agree.

    Raises:
        ValueError: No module with a policy, or policies that disagree (the
            message names each module's config key).
    """
    owners = video_context_modules(model)
    if not owners:
        raise ValueError(
            "the test pipeline has SupportFrameSample(method='from_model') "
            'but the model holds no STPN backbone or video detector (SELSA) '
            'whose test_support it could follow; give the pipeline an '
            'explicit method')
    policies = {m.test_support for _, m in owners}
    if len(policies) > 1:
        names = [
            m.test_support.describe(
                '.'.join(['model', name, 'test_support'] if name else
                         ['model', 'test_support'])) for name, m in owners
        ]
        raise ValueError('the modules of the model have different '
                         f'test_support policies: {", ".join(names)}; set '
                         'them alike (one test-time video context)')
    return policies.pop()


@HOOKS.register_module()
class VideoContextHook(Hook):
    """Keep the test pipeline and the model's cache in line with the
    model's test-time support policy (``model.backbone.test_support`` of an
    STPN backbone, ``model.test_support`` of SELSA; see
    :func:`model_policy`).

    ``before_val`` / ``before_test``: every ``SupportFrameSample`` of the
    val / test dataset gets the policy (``method='from_model'`` samples as it
    says; an explicit test method that disagrees raises an error naming both
    settings). ``after_val_epoch`` / ``after_test_epoch``: every
    ``support_cache`` (:func:`video_context_modules`) is emptied and every
    module with a ``clear_video_state()`` method (e.g. ``OneStreamTracker``'s
    sequence state) is called, so no video's tensors outlive its run.
    """

    priority = 'NORMAL'

    def _configure(self, runner, loop) -> None:
        dataset = loop.dataloader.dataset
        samplers = list(support_samplers(dataset))
        if not samplers:
            return
        policy = model_policy(runner.model)
        for sampler in samplers:
            sampler.set_test_policy(policy)

    @staticmethod
    def _clear(runner) -> None:
        for _, module in video_context_modules(runner.model):
            module.support_cache.clear()
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        for module in model.modules():  # e.g. a tracker's sequence state
            if callable(getattr(module, 'clear_video_state', None)):
                module.clear_video_state()

    def before_val(self, runner) -> None:
        self._configure(runner, runner.val_loop)

    def before_test(self, runner) -> None:
        self._configure(runner, runner.test_loop)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._clear(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._clear(runner)
