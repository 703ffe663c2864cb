import copy
import os

import pytest
import torch

from mmdet.utils import register_all_modules
from mmengine.registry import DefaultScope

import mmstpn  # noqa: F401  (registers everything)

# builds resolve plain type names in mmdet's scope, as configs with
# default_scope='mmdet' do
register_all_modules(init_default_scope=True)

# 2 cores: keep torch from oversubscribing them under pytest
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

TINY_SWIN = dict(
    type='STPNSwin',
    embed_dims=16,
    depths=(2, 2, 2, 2),
    num_heads=(1, 2, 2, 4),
    window_size=7,
    drop_path_rate=0.,
    # self-contained clips at test (the released default is 'offline')
    test_support=dict(mode='frames', num_support=2),
    init_cfg=None)
TINY_VIT = dict(
    type='STPNViT',
    img_size=64,
    embed_dims=32,
    depth=4,
    num_heads=2,
    window_size=3,
    window_block_indices=(0, 2),
    drop_path_rate=0.,
    test_support=dict(mode='frames', num_support=2),
    init_cfg=None)
# the simple feature pyramid of TINY_VIT's stride-16 map (a detector's first
# neck module): strides 4, 8, 16, 32 with 8, 16, 32, 32 channels
TINY_VIT_PYRAMID = dict(type='SimpleFeaturePyramid', in_channels=32)
PREDICTORS = ('AttentionDVPPredictor', 'MixerDVPPredictor',
              'AverageDVPPredictor')


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """A Runner built in a test (e.g. with ``default_scope='mmengine'``)
    leaves mmengine's global default scope behind; restore the scopes that
    were there, so that a later test's ``DATASETS.build`` does not depend on
    which tests ran before it."""
    saved = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = saved
