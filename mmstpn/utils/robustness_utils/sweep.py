"""Test-time ablations of the robustness tool: ``--sweep KEY=V1,V2``
parsing, the settings of a sweep and their labels."""
import itertools
from collections import OrderedDict
from typing import Any, Dict, List, Sequence, Tuple

from .pipeline import SUPPORT_KEYS

NUM_PROMPTS_KEYS = ('num_prompts', 'np', 'n_p')


def _value(text: str) -> Any:
    low = text.lower()
    if low in ('true', 'false'):
        return low == 'true'
    if low in ('none', 'null'):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_sweep(items: Sequence[str]) -> 'OrderedDict[str, List[Any]]':
    """``['num_ref_imgs=2,4,8,14', 'stride=1,4']`` ->
    ``{'num_ref_imgs': [2, 4, 8, 14], 'stride': [1, 4]}``.

    Values are ints, floats, true/false, none or strings; ``:`` separates
    the items of a list value (``frame_range=-4:4,-9:9``).
    """
    out: 'OrderedDict[str, List[Any]]' = OrderedDict()
    for item in items:
        if '=' not in item:
            raise ValueError(f'--sweep items are KEY=V1,V2,...; got {item!r}')
        key, values = item.split('=', 1)
        key = key.strip()
        if key.lower() in NUM_PROMPTS_KEYS:
            key = 'num_prompts'
        vals = []
        for v in values.split(','):
            v = v.strip()
            if not v:
                continue
            vals.append([_value(x) for x in v.split(':')] if ':' in v else
                        _value(v))
        if not key or not vals:
            raise ValueError(f'--sweep item {item!r} has no key or values')
        if key in out:
            raise ValueError(f'--sweep key {key!r} given twice')
        out[key] = vals
    return out


def parse_sweep_checkpoints(items: Sequence[str]) -> 'OrderedDict[int, str]':
    """``['2=np2.pth,5=np5.pth']`` (or separate items) -> ``{2: 'np2.pth',
    5: 'np5.pth'}``: one checkpoint per N_P."""
    out: 'OrderedDict[int, str]' = OrderedDict()
    for item in items:
        for part in item.split(','):
            part = part.strip()
            if not part:
                continue
            if '=' not in part:
                raise ValueError('--sweep-checkpoints items are NP=CKPT; '
                                 f'got {part!r}')
            num, path = part.split('=', 1)
            try:
                num = int(num)
            except ValueError:
                raise ValueError(f'--sweep-checkpoints: N_P must be an int, '
                                 f'got {num!r}') from None
            if num < 0:
                raise ValueError(f'--sweep-checkpoints: N_P must be >= 0, '
                                 f'got {num}')
            out[num] = path
    return out


def sweep_settings(sweep: Dict[str, List[Any]],
                   grid: bool = False) -> List[Dict[str, Any]]:
    """The settings of a sweep: one key at a time (the others at the
    config's value), or the full grid.

    Returns:
        list[dict]: ``{key: value}`` per setting, in order.
    """
    if grid:
        keys = list(sweep)
        return [
            dict(zip(keys, combo))
            for combo in itertools.product(*(sweep[k] for k in keys))
        ]
    return [{k: v} for k, vals in sweep.items() for v in vals]


def split_setting(setting: Dict[str, Any]) -> Tuple[dict, dict]:
    """Split a sweep setting into test-time support arguments (see
    :func:`.pipeline.apply_support_setting`) and config overrides
    (``num_prompts`` -> ``model.backbone.num_prompts``; dotted keys as
    ``--cfg-options``)."""
    sampler, cfg = {}, {}
    for k, v in setting.items():
        if k in SUPPORT_KEYS:
            sampler[k] = v
        elif k == 'num_prompts':
            cfg['model.backbone.num_prompts'] = v
        elif '.' in k:
            cfg[k] = v
        else:
            raise ValueError(
                f'unknown sweep key {k!r}: use one of {SUPPORT_KEYS} '
                '(test-time support), num_prompts (N_P) or a dotted config '
                'key (e.g. model.test_cfg.rcnn.score_thr)')
    return sampler, cfg


def setting_label(setting: Dict[str, Any]) -> str:
    """``{'num_ref_imgs': 4, 'stride': 1}`` -> ``'num_ref_imgs=4 stride=1'``
    (``'config'`` for the empty setting)."""
    if not setting:
        return 'config'
    return ' '.join(f'{k}={format_value(v)}' for k, v in setting.items())


def format_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ':'.join(str(x) for x in v)
    return str(v)
