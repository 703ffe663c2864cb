"""Config surgery of the robustness tool: ``ClipCorrupt`` inserted into a
test pipeline, and the test-time support setting of a config.

Everything that depends on where the test-time support policy lives is in
the three functions of the first section: :func:`support_mode`,
:func:`support_settings` and :func:`apply_support_setting`. The policy is
``model.backbone.test_support`` when the test pipeline says
``SupportFrameSample(method='from_model')`` (mmstpn's configs); a pipeline
with an explicit test method carries it itself. The sweep keys keep
``SupportFrameSample``'s names: ``num_ref_imgs`` is the policy's
``num_support`` and ``method`` its mode's pipeline method.
"""
import copy
from typing import Any, Dict, List, Optional, Sequence

from mmengine.config import Config

from mmstpn.datasets.transforms.corruption import CLIP_CORRUPT_TARGETS
from mmstpn.structures import SupportPolicy
from mmstpn.structures.support_policy import PIPELINE_METHODS

CLEAN = 'clean'  # target / corruption name of the uncorrupted test
CORRUPT_STAGES = ('clip', 'loaded')
# test-time support arguments a sweep may change (the model and its
# checkpoint stay)
SUPPORT_KEYS = ('num_ref_imgs', 'stride', 'method', 'frame_range',
                'filter_key_img')


# --------------------------------------------- the test-time support policy
def _model_policy(cfg: Config) -> SupportPolicy:
    return SupportPolicy.build(cfg['model']['backbone'].get('test_support'))


def support_mode(cfg: Config) -> str:
    """How the test of ``cfg`` provides support frames.

    Returns:
        str: ``'online'``, ``'offline'`` (test_with_adaptive_stride),
        ``'frames'`` (support frames loaded with every key frame) or
        ``'none'`` (no SupportFrameSample or ``num_ref_imgs=0``: a
        single-frame model).
    """
    sampler = find_sampler(innermost_test_dataset(cfg)['pipeline'])
    if sampler is None:
        return 'none'
    method = sampler.get('method', 'bilateral_uniform')
    if method == 'from_model':
        return _model_policy(cfg).mode
    if sampler.get('num_ref_imgs', 2) == 0:
        return 'none'
    if method == 'online':
        return 'online'
    if method == 'test_with_adaptive_stride':
        return 'offline'
    return 'frames'


def support_settings(cfg: Config) -> Dict[str, Any]:
    """The test-time K, method and stride of ``cfg`` (None when unset)."""
    sampler = find_sampler(innermost_test_dataset(cfg)['pipeline']) or {}
    if sampler.get('method') == 'from_model':
        policy = _model_policy(cfg)
        return dict(num_ref_imgs=policy.num_support,
                    method=policy.pipeline_method, stride=policy.stride)
    return dict(
        num_ref_imgs=sampler.get('num_ref_imgs'),
        method=sampler.get('method'),
        stride=sampler.get('stride'))


def apply_support_setting(cfg: Config, args: Dict[str, Any]) -> Config:
    """A copy of ``cfg`` tested with the support arguments ``args``
    (:data:`SUPPORT_KEYS`, e.g. ``dict(num_ref_imgs=4)``), written to
    ``model.backbone.test_support`` under a ``from_model`` pipeline."""
    cfg = copy.deepcopy(cfg)
    if not args:
        return cfg
    sampler = find_sampler(innermost_test_dataset(cfg)['pipeline'])
    if sampler is None:
        raise ValueError('the test pipeline has no SupportFrameSample to '
                         f'set {sorted(args)} on')
    if sampler.get('method') != 'from_model':
        sampler.update(copy.deepcopy(args))
        return cfg
    policy = dict(vars(_model_policy(cfg)))
    modes = {method: mode for mode, method in PIPELINE_METHODS.items()}
    for key, value in args.items():
        if key == 'num_ref_imgs':
            policy['num_support'] = value
        elif key == 'stride':
            policy['stride'] = value
        elif key == 'method' and value in modes:
            policy['mode'] = modes[value]
        else:
            raise ValueError(
                f'{key}={value!r} cannot be set on '
                'model.backbone.test_support (the test pipeline follows the '
                'model): use num_ref_imgs, stride or method in '
                f'{sorted(modes)}')
    cfg['model']['backbone']['test_support'] = vars(SupportPolicy(**policy))
    return cfg


# ---------------------------------------------------------- config helpers
def type_name(transform: Any) -> str:
    """The registered name of a transform config (``'mmdet.Resize'`` ->
    ``'Resize'``; a class -> its name)."""
    t = transform.get('type') if isinstance(transform, dict) else transform
    if not isinstance(t, str):
        t = getattr(t, '__name__', str(t))
    return t.split('.')[-1]


def innermost_test_dataset(cfg: Any) -> Any:
    """The innermost dataset config of ``cfg.test_dataloader`` (through
    wrappers that hold a ``dataset``)."""
    dataset = cfg['test_dataloader']['dataset']
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def with_test_pipeline(cfg: Config, pipeline: Sequence[dict]) -> Config:
    """A copy of ``cfg`` whose test dataset has ``pipeline``."""
    cfg = copy.deepcopy(cfg)
    innermost_test_dataset(cfg)['pipeline'] = [
        copy.deepcopy(t) for t in pipeline
    ]
    return cfg


def find_sampler(pipeline: Sequence[dict]) -> Optional[dict]:
    """The ``SupportFrameSample`` config of ``pipeline`` or None."""
    for t in pipeline:
        if type_name(t) == 'SupportFrameSample':
            return t
    return None


# ---------------------------------------------------------- corruption
def effective_target(mode: str, target: str) -> str:
    """The target that gives the same run in ``mode``.

    ``'support'`` without support frames is the clean test and ``'both'``
    is ``'key'``; online, ``'both'`` is ``'key'`` and ``'support'`` is not
    definable (ValueError, see :class:`~mmstpn.datasets.ClipCorrupt`).

    Args:
        mode (str): :func:`support_mode` of the config.
        target (str): 'key', 'support' or 'both'.

    Returns:
        str: 'key', 'support', 'both' or :data:`CLEAN`.
    """
    if target not in CLIP_CORRUPT_TARGETS:
        raise ValueError(f'target must be one of {CLIP_CORRUPT_TARGETS}, '
                         f'got {target!r}')
    if mode == 'online':
        if target == 'support':
            raise ValueError(
                "target 'support' is not definable in online mode: no "
                'support frames are loaded, each frame\'s cached pass is '
                'the support of the later frames. Use --target key (online '
                "'key' = 'both': a frame is corrupted for its own pass and "
                'as support)')
        return 'key'
    if mode == 'none':
        return CLEAN if target == 'support' else 'key'
    return target


def insert_clip_corrupt(pipeline: Sequence[dict],
                        corrupt_cfg: dict,
                        stage: str = 'clip') -> List[dict]:
    """A copy of the test ``pipeline`` with ``ClipCorrupt`` inserted.

    Args:
        pipeline (Sequence[dict]): ``SupportFrameSample`` ->
            ``TransformBroadcaster`` -> ``PackClipInputs`` style pipeline.
        corrupt_cfg (dict): The ``ClipCorrupt`` config (with ``type``).
        stage (str): ``'clip'``: right before ``PackClipInputs`` (after the
            last ``TransformBroadcaster``), i.e. on the frames the network
            sees, after ``Resize``; ``'loaded'``: right after
            ``LoadImageFromFile``, at the source size (as mmdet's
            ``test_robustness.py``), by splitting the broadcaster in two.

    Returns:
        list[dict]: The new pipeline.
    """
    pipeline = [copy.deepcopy(t) for t in pipeline]
    corrupt_cfg = copy.deepcopy(dict(corrupt_cfg))
    if stage not in CORRUPT_STAGES:
        raise ValueError(f'stage must be one of {CORRUPT_STAGES}, got '
                         f'{stage!r}')
    names = [type_name(t) for t in pipeline]
    if 'TransformBroadcaster' not in names:
        raise ValueError(
            'the test pipeline has no TransformBroadcaster: ClipCorrupt '
            'works on the per-frame lists of SupportFrameSample + '
            f'TransformBroadcaster; got {names}')
    if stage == 'clip':
        if 'PackClipInputs' in names:
            pos = names.index('PackClipInputs')
        else:
            pos = len(names) - 1 - names[::-1].index(
                'TransformBroadcaster') + 1
        return pipeline[:pos] + [corrupt_cfg] + pipeline[pos:]
    pos = names.index('TransformBroadcaster')
    bcast = pipeline[pos]
    inner = list(bcast['transforms'])
    inner_names = [type_name(t) for t in inner]
    if 'LoadImageFromFile' not in inner_names:
        raise ValueError("stage='loaded' needs LoadImageFromFile inside the "
                         f'first TransformBroadcaster; got {inner_names}')
    cut = inner_names.index('LoadImageFromFile') + 1
    first = dict(copy.deepcopy(bcast), transforms=inner[:cut])
    new = pipeline[:pos] + [first, corrupt_cfg]
    if inner[cut:]:
        new.append(dict(copy.deepcopy(bcast), transforms=inner[cut:]))
    return new + pipeline[pos + 1:]
