"""Tiny on-disk VIS / MOT sets shared by the tracker tests."""
import pytest

from tests.test_models.test_trackers.fake_vis import LENGTHS, make_vis


@pytest.fixture(scope='module')
def vis(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('vis'))
    return root, make_vis(root, LENGTHS)


@pytest.fixture(scope='module')
def mot(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('mot'))
    return root, make_vis(root, LENGTHS, mot=True)
