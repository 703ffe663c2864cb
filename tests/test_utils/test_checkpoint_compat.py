"""Runner checkpoints written by mmengine load under torch >= 2.6
(weights_only=True) once mmstpn is imported, and untrusted pickles still
do not run code."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmstpn  # noqa: F401


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(inputs)
        if mode == 'loss':
            targets = torch.stack(targets) if isinstance(targets,
                                                         list) else targets
            return dict(loss=((out.squeeze(-1) - targets)**2).mean())
        return out


class ToyData(Dataset):

    def __len__(self):
        return 16

    def __getitem__(self, i):
        x = torch.tensor([float(i), 1.0])
        return dict(inputs=x, targets=torch.tensor(0.5 * i))


def make_runner(work_dir, max_iters, resume=False, load_from=None):
    torch.manual_seed(0)
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        load_from=load_from,
        randomness=dict(seed=0),
        default_scope='mmengine')


def test_checkpoint_holds_non_tensor_objects(tmp_path):
    runner = make_runner(tmp_path, 2)
    runner.train()
    path = str(tmp_path / 'iter_2.pth')
    # every global in an mmengine checkpoint is now allow-listed ...
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    # ... and there are some beyond tensors: the reason the shim exists
    ckpt = torch.load(path, map_location='cpu')  # weights_only=True
    buffers = ckpt['message_hub']['log_scalars']
    assert type(buffers['train/loss']).__name__ == 'HistoryBuffer'


def test_resume_continues_iterations_and_weights(tmp_path):
    runner = make_runner(tmp_path, 2)
    runner.train()
    weights_at_2 = runner.model.linear.weight.detach().clone()
    momentum_at_2 = runner.optim_wrapper.optimizer.state_dict()['state']

    resumed = make_runner(tmp_path, 4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    ckpt = torch.load(tmp_path / 'iter_4.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    # the resumed run started from the saved weights and optimizer state:
    # it matches an uninterrupted 4-iteration run exactly
    straight = make_runner(tmp_path / 'straight', 4)
    straight.train()
    assert torch.allclose(resumed.model.linear.weight,
                          straight.model.linear.weight)
    assert not torch.allclose(resumed.model.linear.weight, weights_at_2)
    assert momentum_at_2  # SGD momentum buffers existed and were restored


def test_load_from_restores_weights(tmp_path):
    runner = make_runner(tmp_path, 2)
    runner.train()
    loaded = make_runner(
        tmp_path / 'other', 2, load_from=str(tmp_path / 'iter_2.pth'))
    loaded.load_or_resume()
    assert torch.equal(loaded.model.linear.weight, runner.model.linear.weight)


class _Evil:

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


def test_untrusted_pickle_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        torch.save({'state_dict': {}, 'payload': _Evil()}, f)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_without_mmstpn_the_same_checkpoint_fails(tmp_path):
    """Proves the test above is not vacuous on this torch."""
    runner = make_runner(tmp_path, 2)
    runner.train()
    code = ('import torch, sys; torch.load(sys.argv[1], map_location="cpu")')
    proc = subprocess.run(
        [sys.executable, '-c', code, str(tmp_path / 'iter_2.pth')],
        capture_output=True,
        text=True)
    assert proc.returncode != 0
    assert 'weights_only' in proc.stderr


def test_getattr_stand_in_refuses_other_attributes(tmp_path):

    class _GetattrOs:

        def __reduce__(self):
            return (getattr, (np.ndarray, 'tofile'))

    path = tmp_path / 'getattr.pth'
    torch.save({'x': _GetattrOs()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
