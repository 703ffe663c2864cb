"""tools/model_converters/mmtrack_vid_to_mmstpn.py on a small fake
MMTracking checkpoint written to a tmp dir."""
import os.path as osp
import sys

import pytest
import torch

CONVERTERS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'model_converters')
sys.path.insert(0, CONVERTERS)

import mmtrack_vid_to_mmstpn as conv  # noqa: E402


def test_converts_keys_and_keeps_classes(tmp_path):
    weight = torch.randn(4, 3)
    src, dst = str(tmp_path / 'selsa.pth'), str(tmp_path / 'out' / 'm.pth')
    torch.save(
        dict(
            meta=dict(CLASSES=('airplane', 'antelope'), epoch=7),
            state_dict={
                'detector.roi_head.bbox_head.aggregator.0.fc_embed.weight':
                weight,
                'detector.backbone.conv1.weight': torch.zeros(2)
            }), src)
    conv.main([src, dst])
    out = torch.load(dst, weights_only=True)
    assert list(out['state_dict']) == [
        'roi_head.bbox_head.aggregator.0.fc_embed.weight',
        'backbone.conv1.weight'
    ]
    assert torch.equal(
        out['state_dict']['roi_head.bbox_head.aggregator.0.fc_embed.weight'],
        weight)
    assert out['meta']['dataset_meta'] == dict(
        classes=('airplane', 'antelope'))


def test_foreign_checkpoint_names_file_and_key(tmp_path):
    src = str(tmp_path / 'faster.pth')
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(1)}),
               src)
    with pytest.raises(ValueError, match=r"faster\.pth: .*'backbone\.conv1"):
        conv.main([src, str(tmp_path / 'x.pth')])
