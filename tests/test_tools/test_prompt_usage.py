"""tools/analysis_tools/prompt_usage.py on the tiny toy config: the figures
it prints are the ones defined in its docstring, and a model whose predictor
outputs one constant prompt is reported as ignoring its prompts."""
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from mmstpn.projects.toy_vid.generator import generate_deteriorated_vid
from tests.test_tools.tool_helpers import REPO, load_tool

CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_stpn_toy_vid.py')
TOOL = 'analysis_tools/prompt_usage.py'


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('prompt_usage')
    data = generate_deteriorated_vid(
        str(root / 'toy_vid'), num_train_videos=1, num_val_videos=4,
        frames_per_video=6, img_size=(64, 64), seed=0)
    return root, data


def options(data):
    root = data['root'].rstrip('/') + '/'
    return ['--cfg-options', f'test_dataloader.dataset.data_root={root}',
            f'test_evaluator.ann_file={data["val_ann"]}']


def test_figures_of_a_random_model(toy, tmp_path):
    _, data = toy
    tool = load_tool(TOOL)
    out = tmp_path / 'usage.json'
    figures = tool.main([CONFIG, 'none', '--max-videos', '4',
                         '--frames-per-video', '2', '--probe-steps', '20',
                         '--json', str(out), *options(data)])
    assert figures['videos'] == 4 and out.exists()
    assert len(figures['swap_change_per_stage']) == 4  # 4 backbone stages
    assert figures['prompt_spread']['all_pairs'] > 0
    assert all(c > 0 for c in figures['zero_change_per_stage'])
    assert 0 <= figures['support_probe']['accuracy'] <= 1


def test_constant_prompts_are_reported_as_ignored(toy, tmp_path):
    _, data = toy
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():  # the predictor's output no longer depends on
        model.backbone.predictor.out_proj.weight.zero_()  # the support
        model.backbone.predictor.out_proj.bias.normal_()
    ckpt = tmp_path / 'constant.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    tool = load_tool(TOOL)
    figures = tool.main([CONFIG, str(ckpt), '--max-videos', '3',
                         '--frames-per-video', '2', '--probe-steps', '10',
                         *options(data)])
    assert figures['prompt_spread']['all_pairs'] < 1e-6
    assert max(figures['swap_change_per_stage']) < 1e-6
    assert figures['verdict'].startswith('prompts IGNORED')
    # zero prompts still differ from the constant ones
    assert max(figures['zero_change_per_stage']) > 1e-4


def test_prompt_spread_by_hand():
    tool = load_tool(TOOL)
    p = [torch.ones(2, 3), torch.ones(2, 3) * 3, torch.ones(2, 3)]
    spread = tool.prompt_spread(p, [0, 1, 0])
    # pairs: (0,1): 2n/2n = 1; (0,2): 0; (1,2): 1
    assert spread['all_pairs'] == pytest.approx(2 / 3)
    assert spread['different_class_pairs'] == pytest.approx(1.0)
