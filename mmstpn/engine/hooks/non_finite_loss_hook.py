"""Stop training at the first non-finite loss, naming the iteration and the
items of the batch."""
import math
from numbers import Number
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmdet.engine.hooks import CheckInvalidLossHook
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce, get_rank
from mmengine.runner import EpochBasedTrainLoop, Runner

# metainfo keys that name an item, in the order they are shown
ITEM_KEYS = ('video_name', 'video_id', 'frame_id', 'img_id', 'img_path',
             'support_frame_ids')


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite during training."""


def _value(v: Any) -> Optional[float]:
    """A scalar of a log entry (tensor or number); None for anything else."""
    if isinstance(v, torch.Tensor):
        return float(v.detach().float().mean()) if v.numel() else None
    if isinstance(v, Number):
        return float(v)
    return None


def describe_items(data_samples: Any, max_items: int = 8) -> List[str]:
    """Name the items of a batch from their data samples' metainfo.

    Args:
        data_samples: The batch's ``data_samples``: a list of
            ``DetDataSample`` / ``TrackDataSample`` (frames unrolled from
            ``video_data_samples``) or of dicts.
        max_items (int): Describe at most this many frames; a final entry
            says how many more there were.

    Returns:
        list[str]: One ``key=value ...`` description per frame.
    """
    if data_samples is None:
        return []
    if not isinstance(data_samples, (list, tuple)):
        data_samples = [data_samples]
    frames: List[Dict[str, Any]] = []
    for ds in data_samples:
        sub = ds.get('video_data_samples') if isinstance(ds, dict) else \
            getattr(ds, 'video_data_samples', None)
        for item in (sub if sub is not None else [ds]):
            meta = item if isinstance(item, dict) else \
                getattr(item, 'metainfo', {})
            frames.append(meta)
    out = []
    for meta in frames[:max_items]:
        parts = [f'{k}={meta[k]!r}' for k in ITEM_KEYS
                 if meta.get(k) is not None]
        out.append(' '.join(parts) if parts else '(no metainfo)')
    if len(frames) > max_items:
        out.append(f'... and {len(frames) - max_items} more')
    return out


@HOOKS.register_module()
class NonFiniteLossHook(CheckInvalidLossHook):
    """mmdet's ``CheckInvalidLossHook``, every iteration by default, that
    raises :class:`NonFiniteLossError` naming what went wrong.

    After each checked training iteration every logged loss (the entries
    of ``outputs`` whose name contains ``loss``, the total ``loss``
    included) must be finite. Otherwise training stops with an error that
    names the iteration (1-based, as in the log; for epoch-based training
    also the epoch and the batch in it), the non-finite losses and the
    items of the batch (``video_name`` / ``video_id``, ``frame_id``,
    ``img_id``, ``img_path`` and ``support_frame_ids`` of each data
    sample). In a distributed run the
    processes agree (one ``all_reduce`` of a flag per checked iteration),
    so all of them stop at the same iteration; each names its own items.

    The priority is above ``CheckpointHook`` (``VERY_LOW``) and the
    logger: the iteration whose loss is not finite is never saved.

    Args:
        interval (int): Check every ``interval`` iterations. Defaults to 1.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'NonFiniteLossHook: interval must be >= 1, '
                             f'got {interval}')
        super().__init__(interval=interval)

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Check the logged losses of this iteration (see the class doc).

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the epoch.
            data_batch (dict, optional): The batch (its data samples name
                the items).
            outputs (dict, optional): The logged outputs of the step.

        Raises:
            NonFiniteLossError: A loss is NaN or infinite (on any process).
        """
        if not self.every_n_train_iters(runner, self.interval):
            return
        bad = {}
        for name, value in (outputs or {}).items():
            if 'loss' not in name:
                continue
            number = _value(value)
            if number is not None and not math.isfinite(number):
                bad[name] = number
        flag = torch.tensor([float(len(bad) > 0)])
        all_reduce(flag, op='sum')
        if flag.item() == 0:
            return
        samples = data_batch.get('data_samples') \
            if isinstance(data_batch, dict) else None
        raise NonFiniteLossError(self._message(runner, batch_idx, bad,
                                               samples, int(flag.item())))

    @staticmethod
    def _message(runner: Runner, batch_idx: int, bad: Dict[str, float],
                 samples: Sequence, num_ranks: int) -> str:
        where = f'training iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        if not bad:
            return (f'{where}: a loss is not finite on {num_ranks} other '
                    f'process(es) (this is rank {get_rank()}); training '
                    'stopped, see their error for the items')
        losses = ', '.join(f'{k}={v}' for k, v in bad.items())
        items = describe_items(samples)
        lines = '\n'.join(f'  {s}' for s in items) or '  (no data samples)'
        return (f'{where}: non-finite loss ({losses}); training stopped '
                f'before anything was saved. Items of the batch:\n{lines}')
