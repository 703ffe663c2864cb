"""Hand the model's test-time support policy to the test pipeline."""
from typing import Iterator, List

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
    """The one test-time policy of the model's STPN backbone(s).

    Raises:
        ValueError: No STPN backbone, or backbones that disagree.
    """
    policies = {b.test_support for b in stpn_backbones(model)}
    if not policies:
        raise ValueError(
            "the test pipeline has SupportFrameSample(method='from_model') "
            'but the model holds no STPN backbone whose test_support it '
            'could follow; give the pipeline an explicit method')
    if len(policies) > 1:
        names = sorted(map(str, policies))
        raise ValueError('the STPN backbones of the model have different '
                         f'test_support policies: {names}')
    return policies.pop()


@HOOKS.register_module()
class VideoContextHook(Hook):
    """Keep the test pipeline and the backbone's cache in line with the
    model's test-time support policy (``model.backbone.test_support``).

    ``before_val`` / ``before_test``: every ``SupportFrameSample`` of the
    val / test dataset gets the policy (``method='from_model'`` samples as it
    says; an explicit test method that disagrees raises an error naming both
    settings). ``after_val_epoch`` / ``after_test_epoch``: the backbones'
    support caches are emptied, and every module with a
    ``clear_video_state()`` method (e.g. ``OneStreamTracker``'s sequence
    state) is called, so no video's tensors outlive its run.
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
        for backbone in stpn_backbones(runner.model):
            backbone.support_cache.clear()
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
