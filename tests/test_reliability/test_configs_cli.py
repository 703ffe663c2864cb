"""Bad configs and command lines of tools/train.py and tools/test.py."""
import argparse
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from mmdet.registry import DATASETS, METRICS
from mmstpn.utils import launch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CFG = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_stpn_toy_vid.py')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'{name}_tool', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def train_tool():
    return _tool('train')


@pytest.fixture(scope='module')
def test_tool():
    return _tool('test')


def _exit_message(capsys, fn, *args):
    with pytest.raises(SystemExit) as err:
        fn(*args)
    assert err.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize('argv, match', [
    ([], 'the following arguments are required: config'),
    (['c.py', '--lr', '0.1'], 'unrecognized arguments: --lr 0.1'),
    (['c.py', '--launcher', 'ssh'], "invalid choice: 'ssh'"),
    (['c.py', '--cfg-options', 'train_cfg'],
     "--cfg-options: 'train_cfg' is not a key=value pair"),
    (['c.py', '--cfg-options', 'a=[1,2'],
     r'--cfg-options: cannot parse .*a=\[1,2'),
])
def test_train_options(capsys, train_tool, argv, match):
    import re
    assert re.search(match, _exit_message(capsys, train_tool.parse_args,
                                           argv))


@pytest.mark.parametrize('argv, match', [
    (['c.py'], 'the following arguments are required: checkpoint'),
    (['c.py', 'w.pth', '--cfg-options', 'x'], "'x' is not a key=value"),
])
def test_test_options(capsys, test_tool, argv, match):
    assert match in _exit_message(capsys, test_tool.parse_args, argv)


def _args(config, **kw):
    return argparse.Namespace(config=config, **kw)


def test_missing_config_file(tmp_path):
    path = str(tmp_path / 'nope.py')
    with pytest.raises(FileNotFoundError, match='nope.py'):
        launch.load_config(_args(path))


def test_config_syntax_error(tmp_path):
    path = str(tmp_path / 'broken.py')
    with open(path, 'w') as f:
        f.write('model = dict(\n')
    with pytest.raises(SyntaxError, match='broken.py'):
        launch.load_config(_args(path))


def test_auto_scale_lr_without_key(tmp_path):
    path = str(tmp_path / 'c.py')
    with open(path, 'w') as f:
        f.write('optim_wrapper = dict(optimizer=dict(type="SGD"))\n')
    with pytest.raises(RuntimeError, match='auto_scale_lr'):
        launch.load_config(_args(path, auto_scale_lr=True))


def test_show_without_visualization_hook(tmp_path):
    path = str(tmp_path / 'c.py')
    with open(path, 'w') as f:
        f.write('default_hooks = dict()\n')
    with pytest.raises(RuntimeError, match='visualization hook'):
        launch.load_config(_args(path, show=True))


def test_cfg_options_reach_the_config():
    cfg = launch.load_config(
        _args(TOY_CFG, cfg_options={'train_cfg.max_iters': 3}))
    assert cfg.train_cfg.max_iters == 3


def _dataset_cfg(**kw):
    cfg = Config.fromfile(TOY_CFG).train_dataloader.dataset.to_dict()
    cfg.update(kw)
    return cfg


def test_unknown_dataset_key():
    """A typo in a dataset key names the key (and the class)."""
    with pytest.raises(TypeError, match="unexpected keyword argument "
                       "'ann_fle'") as err:
        DATASETS.build(_dataset_cfg(ann_fle='x.json'))
    assert 'CocoVIDDataset' in str(err.value) or 'Dataset' in str(err.value)


def test_unknown_dataset_type():
    with pytest.raises(KeyError, match='CocoVIDDatset is not in the'):
        DATASETS.build(_dataset_cfg(type='CocoVIDDatset'))


def test_unknown_metric_key():
    with pytest.raises(TypeError, match="unexpected keyword argument "
                       "'ann_fle'"):
        METRICS.build(dict(type='VIDMetric', ann_fle='x.json'))


def test_metric_unsupported_metric():
    with pytest.raises(KeyError, match="metric='bbox' only"):
        METRICS.build(dict(type='VIDMetric', metric='segm'))


def test_missing_ann_file(tmp_path):
    path = str(tmp_path / 'missing.json')
    with pytest.raises(FileNotFoundError, match='missing.json'):
        DATASETS.build(_dataset_cfg(ann_file=path, data_root=None))
