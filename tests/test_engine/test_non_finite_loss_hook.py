"""Training stops at the first non-finite loss with an error naming the
iteration and the items; every mmstpn config has the hook."""
import glob
import itertools
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.config import Config
from mmengine.model import BaseModel
from torch.utils.data import Dataset

import mmstpn  # noqa: F401
from mmstpn.engine import (NonFiniteLossError, NonFiniteLossHook,
                           StrictCheckpointRunner, describe_items)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class NaNAtIteration(BaseModel):
    """A linear model whose loss is NaN at the ``bad_iter``-th training
    forward (1-based)."""

    def __init__(self, bad_iter=2, value=float('nan')):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.bad_iter, self.value, self.calls = bad_iter, value, 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs)).squeeze(-1)
        if mode != 'loss':
            return out
        self.calls += 1
        loss = (out**2).mean()
        if self.calls == self.bad_iter:
            loss = loss * self.value
        return dict(loss_main=loss, loss_aux=out.abs().mean(),
                    acc=torch.tensor(1.0))


class Frames(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        ds = DetDataSample(metainfo=dict(
            img_path=f'data/vid/clip_{i // 4}/{i % 4:06d}.JPEG',
            video_id=i // 4, frame_id=i % 4, support_frame_ids=[i % 4 + 1]))
        return dict(inputs=torch.tensor([float(i), 1.0]), data_samples=ds)


_RUN_IDS = itertools.count()


def make_runner(work_dir, model, by_epoch=False):
    train_cfg = dict(by_epoch=True, max_epochs=1) if by_epoch else \
        dict(by_epoch=False, max_iters=4)
    return StrictCheckpointRunner(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=Frames(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=train_cfg,
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=by_epoch),
            non_finite_loss=dict(type='NonFiniteLossHook')),
        default_scope='mmdet',
        experiment_name=f'non_finite_{next(_RUN_IDS)}')


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_stops_at_iteration_2_naming_the_items(tmp_path, value):
    runner = make_runner(tmp_path, NaNAtIteration(2, value))
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert msg.startswith('training iteration 2: non-finite loss (')
    # the total and the component; the finite component is not named
    assert f'loss={value}' in msg and f'loss_main={value}' in msg
    assert 'loss_aux' not in msg and 'acc' not in msg.split('Items')[0]
    # the items of batch 2 (samples 2 and 3), not those of another batch
    assert "video_id=0 frame_id=2 img_path='data/vid/clip_0/000002.JPEG' " \
        'support_frame_ids=[3]' in msg
    assert "frame_id=3 img_path='data/vid/clip_0/000003.JPEG'" in msg
    assert '000001.JPEG' not in msg and '000004.JPEG' not in msg
    # iteration 1 was saved, the non-finite iteration 2 was not
    assert osp.isfile(tmp_path / 'iter_1.pth')
    assert not osp.exists(tmp_path / 'iter_2.pth')


def test_epoch_based_names_the_epoch_and_batch(tmp_path):
    runner = make_runner(tmp_path, NaNAtIteration(3), by_epoch=True)
    with pytest.raises(NonFiniteLossError,
                       match=r'^training iteration 3 \(epoch 1, batch 3\): '
                       r'non-finite loss') as err:
        runner.train()
    assert "img_path='data/vid/clip_1/000000.JPEG'" in str(err.value)


def _dist_worker(rank, world, port, out_file):
    """Rank 1's loss is NaN, rank 0's is finite: both stop."""
    import json
    import types

    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world)
    runner = types.SimpleNamespace(iter=6, epoch=0, train_loop=None)
    loss = float('nan') if rank == 1 else 0.5
    sample = DetDataSample(metainfo=dict(img_path=f'rank{rank}.jpg'))
    try:
        NonFiniteLossHook().after_train_iter(
            runner, 6, dict(data_samples=[sample]),
            dict(loss=torch.tensor(loss)))
        msg = None
    except NonFiniteLossError as err:
        msg = str(err)
    finally:
        dist.destroy_process_group()
    with open(f'{out_file}.{rank}', 'w') as f:
        json.dump(msg, f)


def test_distributed_ranks_stop_together(tmp_path):
    import json
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    out = str(tmp_path / 'msg')
    # fork: the children reuse the imported modules
    mp.start_processes(_dist_worker, args=(2, port, out), nprocs=2,
                       join=True, start_method='fork')
    msgs = [json.load(open(f'{out}.{r}')) for r in range(2)]
    assert msgs[1].startswith('training iteration 7: non-finite loss '
                              '(loss=nan)')
    assert "img_path='rank1.jpg'" in msgs[1]
    assert msgs[0] == ('training iteration 7: a loss is not finite on 1 '
                       'other process(es) (this is rank 0); training '
                       'stopped, see their error for the items')


def test_finite_run_is_untouched_and_interval_is_checked(tmp_path):
    runner = make_runner(tmp_path, NaNAtIteration(bad_iter=99))
    runner.train()
    assert runner.iter == 4
    with pytest.raises(ValueError, match='interval must be >= 1'):
        NonFiniteLossHook(interval=0)
    # mmdet's CheckInvalidLossHook, reused
    from mmdet.engine.hooks import CheckInvalidLossHook
    assert issubclass(NonFiniteLossHook, CheckInvalidLossHook)


def test_describe_items_unrolls_track_samples():
    frames = [DetDataSample(metainfo=dict(video_name='seq-a', frame_id=f,
                                          img_path=f'seq-a/{f}.jpg'))
              for f in range(3)]
    track = TrackDataSample(video_data_samples=frames)
    items = describe_items([track])
    assert items == [f"video_name='seq-a' frame_id={f} "
                     f"img_path='seq-a/{f}.jpg'" for f in range(3)]
    many = describe_items([track] * 4, max_items=5)
    assert len(many) == 6 and many[-1] == '... and 7 more'


def test_every_config_has_the_hook():
    configs = sorted(
        p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                             recursive=True)
        if '_base_' not in p.split(os.sep))
    assert len(configs) > 20
    missing = []
    for path in configs:
        hooks = Config.fromfile(path).get('default_hooks', {})
        if hooks.get('non_finite_loss', {}).get('type') != \
                'NonFiniteLossHook':
            missing.append(osp.relpath(path, REPO))
    assert not missing, f'configs without NonFiniteLossHook: {missing}'
