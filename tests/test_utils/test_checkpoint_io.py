"""Checkpoints: strict loads with errors naming the keys and the file,
clear errors for unreadable files, atomic saves, and an automatic resume
that falls back to the newest checkpoint that can be read."""
import itertools
import logging
import os

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from torch.utils.data import Dataset

import mmstpn  # noqa: F401
from mmstpn.engine import StrictCheckpointRunner
from mmstpn.utils import (CheckpointMismatchError, CheckpointReadError,
                          load_checkpoint_strict, read_checkpoint)
from mmstpn.utils.checkpoint_io import resume_candidates


# ------------------------------------------------------------ library
class Tracker(nn.Module):

    def __init__(self):
        super().__init__()
        self.template = nn.Linear(3, 3)
        self.head = nn.ModuleDict(
            {f'branch{i}': nn.Linear(3, 1) for i in range(7)})


class Detector(nn.Module):

    def __init__(self, width=4):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, width, 1),
                                      nn.BatchNorm2d(width))
        self.roi_head = nn.Linear(width, 2)


def _save(obj, path):
    torch.save(obj, path)
    return str(path)


def test_mismatched_checkpoint_names_keys_and_file(tmp_path):
    ckpt = _save(dict(state_dict=Tracker().state_dict()),
                 tmp_path / 'tracker.pth')
    model = Detector()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint_strict(model, ckpt)
    msg = str(err.value)
    assert msg.startswith(f'{ckpt}: the checkpoint does not fit Detector')
    # the first missing keys, in model order (BN's counter is optional)
    assert "8 keys missing (in the model, not in the file): " \
        "['backbone.0.weight', 'backbone.0.bias', 'backbone.1.weight', " \
        "'backbone.1.bias', 'backbone.1.running_mean'] (+3 more)" in msg
    assert 'num_batches_tracked' not in msg
    # 16 unexpected keys: the first 5 named, the count of the rest
    assert "16 keys unexpected (in the file, not in the model): " \
        "['template.weight', 'template.bias', 'head.branch0.weight', " \
        "'head.branch0.bias', 'head.branch1.weight'] (+11 more)" in msg
    assert '--allow-partial-load' in msg
    # nothing was loaded
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_shape_mismatch_is_an_error_and_partial_load_is_opt_in(tmp_path):
    src = Detector(width=4)
    sd = src.state_dict()
    sd['roi_head.weight'] = torch.randn(2, 8)  # another width
    sd['extra.weight'] = torch.zeros(1)
    del sd['roi_head.bias']
    ckpt = _save(dict(state_dict=sd, meta=dict(epoch=3)), tmp_path / 'd.pth')
    model = Detector(width=4)
    with pytest.raises(CheckpointMismatchError,
                       match=r"1 keys of another shape: \['roi_head.weight: "
                       r'\(2, 8\) in the file vs \(2, 4\) in the model'):
        load_checkpoint_strict(model, ckpt)
    init_weight = model.roi_head.weight.detach().clone()
    logger = MMLogger.get_instance('test_partial', log_level='WARNING')
    with _capture(logger) as records:
        out = load_checkpoint_strict(model, ckpt, allow_partial=True,
                                     logger=logger)
    assert out['meta']['epoch'] == 3
    # what fits is loaded, the rest keeps its values
    assert torch.equal(model.backbone[0].weight, src.backbone[0].weight)
    assert torch.equal(model.backbone[1].running_var,
                       src.backbone[1].running_var)
    assert torch.equal(model.roi_head.weight, init_weight)
    text = '\n'.join(records)
    assert 'partial load (allowed)' in text and ckpt in text
    assert "['roi_head.bias']" in text and "['extra.weight']" in text


def test_module_prefix_and_bare_state_dict_load(tmp_path):
    src = Detector()
    ddp_style = {f'module.{k}': v for k, v in src.state_dict().items()}
    model = Detector()
    load_checkpoint_strict(model, _save(ddp_style, tmp_path / 'bare.pth'))
    assert torch.equal(model.roi_head.weight, src.roi_head.weight)
    # a checkpoint without num_batches_tracked (older torch) is complete
    sd = {k: v for k, v in src.state_dict().items()
          if not k.endswith('num_batches_tracked')}
    load_checkpoint_strict(Detector(), _save(sd, tmp_path / 'old.pth'))


class OldLayout(nn.Module):
    """Loads checkpoints of an older layout: ``old.*`` keys go to
    ``new.*`` (as a model's ``_load_from_state_dict`` upgrade does)."""

    def __init__(self):
        super().__init__()
        self.new = nn.Linear(2, 2)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for key in [k for k in state_dict if k.startswith(prefix + 'old.')]:
            rest = key[len(prefix + 'old.'):]
            state_dict[prefix + 'new.' + rest] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def test_the_models_own_key_mapping_is_honoured(tmp_path):
    src = nn.Linear(2, 2)
    old = {'backbone.old.weight': src.weight.detach().clone(),
           'backbone.old.bias': src.bias.detach().clone()}
    model = nn.Module()
    model.backbone = OldLayout()
    load_checkpoint_strict(model, _save(old, tmp_path / 'old.pth'))
    assert torch.equal(model.backbone.new.weight, src.weight)
    # still a mismatch once mapped: an error, and the values are restored
    model.backbone.new.weight.data.fill_(7.0)
    del old['backbone.old.bias']
    old['backbone.old.extra'] = torch.zeros(1)
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint_strict(model, _save(old, tmp_path / 'bad.pth'))
    assert "1 keys missing (in the model, not in the file): " \
        "['backbone.new.bias']" in str(err.value)
    assert "['backbone.new.extra']" in str(err.value)
    assert (model.backbone.new.weight == 7.0).all()


@pytest.mark.parametrize('kind', ['truncated', 'random', 'empty', 'text'])
def test_unreadable_file_names_the_file(tmp_path, kind):
    path = tmp_path / f'{kind}.pth'
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict=Detector().state_dict()), good)
    data = good.read_bytes()
    content = dict(
        truncated=data[:len(data) // 2],
        random=os.urandom(4096),
        empty=b'',
        text=b'not a checkpoint\n')[kind]
    path.write_bytes(content)
    with pytest.raises(CheckpointReadError) as err:
        load_checkpoint_strict(Detector(), str(path))
    msg = str(err.value)
    assert msg.startswith(f'{path} ({len(content)} bytes): not a readable '
                          'torch checkpoint (truncated')
    # torch's advice to turn safe loading off is not the cause here
    assert 'weights_only' not in msg


class Payload:
    """Any class outside torch's safe list."""


def test_missing_file_and_unsafe_global(tmp_path):
    with pytest.raises(CheckpointReadError,
                       match=r'nope\.pth: no such checkpoint file'):
        read_checkpoint(str(tmp_path / 'nope.pth'))
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, extra=Payload()), evil)
    with pytest.raises(CheckpointReadError) as err:
        read_checkpoint(str(evil))
    assert str(err.value).startswith(
        f'{evil}: refusing to load it: it pickles the global '
        f'{__name__}.Payload')
    assert 'nothing from it was run' in str(err.value)
    not_dict = tmp_path / 'list.pth'
    torch.save([torch.zeros(1)], not_dict)
    with pytest.raises(CheckpointReadError, match='holds a list, not a'):
        read_checkpoint(str(not_dict))


# ------------------------------------------------------------ the runner
class ToyModel(BaseModel):

    def __init__(self, extra=False):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        if extra:
            self.extra = nn.Linear(2, 2)

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
        return dict(inputs=torch.tensor([float(i), 1.0]),
                    targets=torch.tensor(0.5 * i))


_RUN_IDS = itertools.count()


def make_runner(work_dir, max_iters, resume=False, load_from=None,
                extra=False, keep=3, **cfg):
    torch.manual_seed(0)
    from mmengine.config import Config
    return StrictCheckpointRunner(
        model=ToyModel(extra),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False,
                            max_keep_ckpts=keep),
            logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        load_from=load_from,
        randomness=dict(seed=0),
        default_scope='mmengine',
        experiment_name=f'ckpt_io_{next(_RUN_IDS)}',
        cfg=Config(cfg))


class _capture:
    """Collect the messages a logger emits."""

    def __init__(self, logger):
        self.logger, self.records = logger, []

    def __enter__(self):
        records = self.records

        class _Handler(logging.Handler):

            def emit(self, record):
                records.append(record.getMessage())

        self.handler = _Handler(logging.DEBUG)
        self.logger.addHandler(self.handler)
        return self.records

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)


def test_saves_are_atomic(tmp_path, monkeypatch):
    runner = make_runner(tmp_path, 2)
    runner.train()
    good = (tmp_path / 'iter_2.pth').read_bytes()
    names = sorted(os.listdir(tmp_path))
    assert 'iter_2.pth' in names and not [n for n in names
                                          if n.endswith('.tmp')]

    # a save killed half way through writing: the final name never holds a
    # partial file and the temporary file is removed
    from mmengine.fileio import LocalBackend

    def dying_put(self, obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(LocalBackend, 'put', dying_put)
    with pytest.raises(KeyboardInterrupt):
        runner.save_checkpoint(str(tmp_path), 'iter_2.pth', by_epoch=False)
    monkeypatch.undo()
    assert (tmp_path / 'iter_2.pth').read_bytes() == good
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]


def test_auto_resume_skips_a_truncated_latest_checkpoint(tmp_path):
    """A run killed while saving: the latest checkpoint is truncated and
    last_checkpoint points at it; resume takes the previous one, says so,
    and the run ends where an uninterrupted one ends."""
    first = make_runner(tmp_path, 3)
    first.train()
    latest = tmp_path / 'iter_3.pth'
    assert (tmp_path / 'last_checkpoint').read_text().strip() == str(latest)
    data = latest.read_bytes()
    latest.write_bytes(data[:len(data) // 3])
    stale = tmp_path / '.iter_4.pth.12345.tmp'  # an interrupted save
    stale.write_bytes(b'partial')

    resumed = make_runner(tmp_path, 5, resume=True)
    with _capture(resumed.logger) as records:
        resumed.load_or_resume()
    text = '\n'.join(records)
    assert f'auto resume: skipping {latest}: {latest} (' in text
    assert 'not a readable torch checkpoint' in text
    assert f"Auto resumed from {tmp_path / 'iter_2.pth'} (newest readable " \
        f"checkpoint; skipped ['{latest}'])" in text
    assert 'removed 1 temporary file' in text and not stale.exists()
    assert resumed.iter == 2
    resumed.train()
    assert resumed.iter == 5
    straight = make_runner(tmp_path / 'straight', 5)
    straight.train()
    assert torch.allclose(resumed.model.linear.weight,
                          straight.model.linear.weight)


def test_auto_resume_with_a_broken_pointer_or_nothing_readable(tmp_path):
    make_runner(tmp_path, 2).train()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_9.pth'))
    cands, _ = resume_candidates(str(tmp_path))
    assert cands == [str(tmp_path / n)
                     for n in ('iter_9.pth', 'iter_2.pth', 'iter_1.pth')]
    resumed = make_runner(tmp_path, 3, resume=True)
    resumed.load_or_resume()
    assert resumed.iter == 2
    # every candidate unreadable: an error, not a silent fresh start
    for name in ('iter_1.pth', 'iter_2.pth'):
        (tmp_path / name).write_bytes(b'garbage')
    with pytest.raises(CheckpointReadError,
                       match=r'auto resume: none of the 3 checkpoints'):
        make_runner(tmp_path, 3, resume=True).load_or_resume()
    # an empty work dir: a fresh start, as mmengine
    fresh = make_runner(tmp_path / 'empty', 3, resume=True)
    fresh.load_or_resume()
    assert fresh.iter == 0


def test_explicit_resume_and_load_from_are_checked(tmp_path):
    make_runner(tmp_path, 2).train()
    bad = tmp_path / 'iter_2.pth'
    bad.write_bytes(bad.read_bytes()[:100])
    # a checkpoint named explicitly is used or fails, never replaced
    with pytest.raises(CheckpointReadError, match=str(bad)):
        make_runner(tmp_path / 'b', 3, resume=True,
                    load_from=str(bad)).load_or_resume()
    good = str(tmp_path / 'iter_1.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r"2 keys missing .*\['extra.weight', "
                       r"'extra.bias'\]"):
        make_runner(tmp_path / 'c', 3, load_from=good,
                    extra=True).load_or_resume()
    partial = make_runner(tmp_path / 'd', 3, load_from=good, extra=True,
                          allow_partial_load=True)
    partial.load_or_resume()
    ref = torch.load(good, map_location='cpu')['state_dict']
    assert torch.equal(partial.model.linear.weight, ref['linear.weight'])


def test_max_keep_ckpts_1_is_warned(tmp_path):
    """mmengine deletes the previous checkpoint before writing the next:
    with max_keep_ckpts=1 a killed save leaves none."""
    runner = make_runner(tmp_path, 1, keep=1)
    with _capture(runner.logger) as records:
        runner.train()
    assert any('max_keep_ckpts=1' in r and 'keeps no checkpoint' in r
               for r in records)
    quiet = make_runner(tmp_path / 'quiet', 1, keep=2)
    with _capture(quiet.logger) as records:
        quiet.train()
    assert not any('keeps no checkpoint' in r for r in records)
