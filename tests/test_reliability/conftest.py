"""Shared helpers of the bad-input suite."""
import json
import logging
import os.path as osp

import pytest
from mmengine.logging import MMLogger


@pytest.fixture
def log_lines():
    """Records what mmengine's current logger prints (warnings and info
    lines); yields the list of messages."""
    records = []

    class _Keep(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = _Keep(level=logging.INFO)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def dump_json(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def edit_json(path, fn):
    """Load ``path``, call ``fn(data)`` and write it back."""
    with open(path) as f:
        data = json.load(f)
    fn(data)
    return dump_json(path, data)


def file_in(path, text):
    return osp.basename(path) in text or path in text
