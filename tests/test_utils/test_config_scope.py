"""``mmstpn::`` config lookups (mmstpn/utils/config_scope.py) and the
``mmstpn``-scoped registries (mmstpn/registry.py)."""
import os.path as osp

from mmengine.config import config as mmengine_config
from mmengine.config.utils import MODULE2PACKAGE

import mmstpn
from mmstpn.utils import config_scope


def test_import_registers_the_scope():
    assert MODULE2PACKAGE['mmstpn'] == 'mmstpn'
    assert hasattr(mmengine_config.get_installed_path, 'mmstpn_wrapped')
    config_scope.register_config_scope()  # idempotent: wrapped once
    inner = mmengine_config.get_installed_path.mmstpn_wrapped
    assert not hasattr(inner, 'mmstpn_wrapped')


def test_lookup_falls_back_to_the_imported_package(tmp_path):
    answers = {'mmstpn': str(tmp_path / 'site-packages' / 'mmstpn'),
               'other': str(tmp_path / 'nowhere')}
    wrapped = config_scope._installed_path_or_package_dir(answers.__getitem__)
    # an editable install: mmengine's answer is not a folder
    assert wrapped('mmstpn') == osp.dirname(osp.abspath(mmstpn.__file__))
    # a real folder (a wheel install) is kept
    real = tmp_path / 'site-packages' / 'mmstpn'
    real.mkdir(parents=True)
    assert wrapped('mmstpn') == str(real)
    # other packages are never touched
    assert wrapped('other') == answers['other']


def test_mmstpn_scope_builds_from_mmdet_registries():
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.registry import MODELS as ROOT_MODELS

    from mmstpn.registry import MODELS
    assert MODELS.scope == 'mmstpn' and MODELS.parent is MMDET_MODELS
    assert ROOT_MODELS._search_child('mmstpn') is MODELS
    # a dict marked by an mmstpn:: base finds mmstpn's and mmdet's classes
    predictor = ROOT_MODELS.build(
        dict(type='AttentionDVPPredictor', _scope_='mmstpn', in_channels=32,
             prompt_dims=32, num_prompts=2, num_heads=4))
    assert type(predictor).__name__ == 'AttentionDVPPredictor'
    assert type(predictor) is MMDET_MODELS.get('AttentionDVPPredictor')
