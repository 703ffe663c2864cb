"""Hand the model's test-time support policy to the test pipeline."""
from typing import Iterator

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmstpn.structures import find_video_context, get_video_context


def support_samplers(dataset) -> Iterator:
    """Every ``SupportFrameSample`` of a dataset's pipeline.

    Args:
        dataset: A built dataset; wrappers (``datasets`` / ``dataset``
            attributes) and nested transform lists are searched.

    Yields:
        SupportFrameSample: Each one once, wrappers breadth first.
    """
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


@HOOKS.register_module()
class VideoContextHook(Hook):
    """Keep the test pipeline and the model's video context in line.

    ``before_val`` / ``before_test``: every ``SupportFrameSample`` of the
    val / test dataset gets the policy of the model's
    :class:`~mmstpn.structures.VideoContext` (``method='from_model'``
    samples as it says; an explicit test method that disagrees raises an
    error naming both settings). ``after_val_epoch`` /
    ``after_test_epoch``: the context is cleared, so no video's tensors
    outlive its run. A model without a video context is left alone unless
    its pipeline asks for ``'from_model'`` (an error).

    See docs/design/video_context.md.
    """

    priority = 'NORMAL'

    def _configure(self, runner, loop) -> None:
        samplers = list(support_samplers(loop.dataloader.dataset))
        if not samplers:
            return
        try:
            policy = get_video_context(runner.model).policy
        except ValueError as err:
            raise ValueError(
                "the test pipeline has SupportFrameSample(method='from_model')"
                f' but {err}; give the pipeline an explicit method') from None
        for sampler in samplers:
            sampler.set_test_policy(policy)

    @staticmethod
    def _clear(runner) -> None:
        context = find_video_context(runner.model)
        if context is not None:
            context.clear()

    def before_val(self, runner) -> None:
        """Hand the model's policy to the val pipeline's samplers.

        Args:
            runner (Runner): The runner (its model and ``val_loop``).

        Raises:
            ValueError: A sampler disagrees with the policy, or asks for
                ``'from_model'`` of a model without a video context.
        """
        self._configure(runner, runner.val_loop)

    def before_test(self, runner) -> None:
        """Hand the model's policy to the test pipeline's samplers.

        Args:
            runner (Runner): The runner (its model and ``test_loop``).

        Raises:
            ValueError: As :meth:`before_val`.
        """
        self._configure(runner, runner.test_loop)

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Clear the model's video context.

        Args:
            runner (Runner): The runner.
            metrics (dict, optional): Unused.
        """
        self._clear(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        """Clear the model's video context.

        Args:
            runner (Runner): The runner.
            metrics (dict, optional): Unused.
        """
        self._clear(runner)
