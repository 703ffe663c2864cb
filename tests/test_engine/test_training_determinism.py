"""The same training twice on one machine gives the same figures.

Two short trainings of the tiny toy-VID STPN (tests/data/configs/
tiny_stpn_toy_vid.py: prompts on, the toy data pipeline with its random
support sampling, flips and key-frame corruption, one data-loader worker
process as in the toy jobs) on a tiny generated set, each in its own
process on one thread, as the same command run twice: the loss terms at
every iteration, the trained weights and the test metrics are equal
bit for bit. The second process first trains with another seed, which must
change the losses (the comparison can fail, and the seed reaches the run),
then with the first seed again (nothing of a run leaks into the next one in
the same process)."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from mmstpn.projects.toy_vid.generator import generate_deteriorated_vid
from tests.test_tools.tool_helpers import REPO, tool_env

CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_stpn_toy_vid.py')
ITERS = 4


def train_and_test(data_root: str, work_dir: str, seed: int) -> dict:
    """Train the tiny config ``ITERS`` iterations with ``seed`` on one
    thread and test it; the loss terms of every iteration (the message
    hub's full history), a digest of the trained weights and the metrics."""
    import hashlib

    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    import mmstpn  # noqa: F401
    torch.set_num_threads(1)
    root = data_root.rstrip('/') + '/'
    cfg = Config.fromfile(CONFIG)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = \
        root + 'val.json'
    # one loader worker process: its seeding is part of what is checked
    cfg.train_dataloader.num_workers = 1
    cfg.train_cfg.max_iters = ITERS
    cfg.train_cfg.val_interval = ITERS + 1     # test once, below
    cfg.train_cfg.val_begin = ITERS + 1
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)   # one per run
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    losses = {
        key: hub.get_scalar(key).data[0].tolist()
        for key in sorted(hub.log_scalars)
        if key.startswith('train/') and 'loss' in key
    }
    digest = hashlib.sha256()
    for name, value in sorted(runner.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    metrics = {k: float(v) for k, v in runner.test().items()}
    return dict(losses=losses, weights=digest.hexdigest(), metrics=metrics)


def _run(data_root, tmp_path, tag, seeds):
    """``train_and_test`` for each of ``seeds`` in one new process."""
    out = tmp_path / f'{tag}.json'
    code = (
        'import json, sys\n'
        'from tests.test_engine.test_training_determinism import '
        'train_and_test\n'
        'root, work, out, seeds = sys.argv[1:5]\n'
        'json.dump([train_and_test(root, f"{work}_seed{s}", int(s))\n'
        '           for s in seeds.split(",")], open(out, "w"))\n')
    proc = subprocess.run(
        [sys.executable, '-c', code, data_root, str(tmp_path / tag),
         str(out), ','.join(map(str, seeds))],
        cwd=REPO, env=tool_env(), capture_output=True, text=True,
        timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('determinism') / 'toy_vid')
    generate_deteriorated_vid(root, num_train_videos=2, num_val_videos=1,
                              frames_per_video=8, img_size=(64, 64), seed=0)
    return root


def test_same_command_twice_gives_the_same_figures(tiny_set, tmp_path):
    (first, ) = _run(tiny_set, tmp_path, 'a', [0])
    other, again = _run(tiny_set, tmp_path, 'b', [1, 0])
    losses = first['losses']
    assert 'train/loss' in losses and len(losses) >= 4   # loss terms
    for key, values in losses.items():
        assert len(values) == ITERS, key
    assert first['metrics'] and any(
        k.endswith('bbox_mAP_50_deteriorated') for k in first['metrics'])
    # equal, bit for bit: losses at every iteration, weights, metrics
    assert again['losses'] == losses
    assert again['weights'] == first['weights']
    # (as json text: a per-class AP may be NaN, which equals nothing)
    assert json.dumps(again['metrics']) == json.dumps(first['metrics'])
    # another seed: other data order, initialisation and augmentation
    assert other['losses']['train/loss'] != losses['train/loss']
    assert other['weights'] != first['weights']
