"""Reading, checking and writing checkpoints.

Loading into a model (``tools/test.py``, the demos, the inference API and,
through :class:`mmstpn.engine.StrictCheckpointRunner`, ``load_from`` and
``resume``):

* :func:`read_checkpoint` reads a file (local path or any scheme mmengine's
  ``CheckpointLoader`` knows) with torch's safe loading; a missing, random,
  truncated or unsafe file is a :class:`CheckpointReadError` naming the
  file and what is wrong with it.
* :func:`load_state_dict_checked` loads a read checkpoint into a model
  after comparing keys and shapes (through the model's own loading where
  names differ, so that a model that maps an older layout of its keys
  still loads its old checkpoints): anything missing, unexpected or of
  another shape is a :class:`CheckpointMismatchError` naming the file and
  the first keys of each kind, and the model keeps its values, unless the
  caller opts in to a partial load (``allow_partial=True``: the mismatch
  is logged as a warning).
  The only keys that may be missing are ``OPTIONAL_KEY_SUFFIXES``
  (BatchNorm's ``num_batches_tracked``, which mmengine ignores too).
* :func:`load_checkpoint_strict` is both in one call.

What the model converters (``tools/model_converters/``) share:

* :func:`load_untrusted` reads a checkpoint with ``torch.load(...,
  weights_only=True)`` and torch's default allow-list only (mmstpn's own
  additions for mmengine checkpoints are set aside while it reads). A global
  outside that list is named in the error and nothing is loaded; the caller
  opts in explicitly with ``allow_numpy`` (numpy scalars / arrays / dtypes,
  plain data) or ``trust`` (``weights_only=False``: runs the pickle's code).
* :func:`get_state_dict` unwraps ``state_dict`` / ``model`` / ``module``.
* :class:`ConversionReport` records every source key (mapped, transformed or
  dropped, with the reason) and prints it grouped by key pattern.
* :func:`check_against_model` compares a converted state dict with a target
  model's (names, shapes, dtypes; what may stay missing).
* :func:`save_atomic` writes only tensors and primitives, to a temporary file
  in the destination folder that is renamed at the end, so a failed run
  leaves nothing partial behind.
"""
import contextlib
import hashlib
import logging
import os
import os.path as osp
import pickle
import re
import tempfile
from collections import OrderedDict, defaultdict
from typing import (Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple, Union)

import torch
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)
from torch import Tensor, nn

from .checkpoint_compat import _numpy_globals

_GLOBAL_RE = re.compile(r'Unsupported global: GLOBAL (\S+)')
_PLAIN = (str, int, float, bool, type(None))


class CheckpointConversionError(ValueError):
    """A checkpoint could not be read or does not fit the conversion."""


class CheckpointLoadError(RuntimeError):
    """A checkpoint cannot be loaded into a model."""


class CheckpointReadError(CheckpointLoadError):
    """A checkpoint file is missing, unreadable, truncated or unsafe."""


class CheckpointMismatchError(CheckpointLoadError):
    """A checkpoint's weights do not fit the model (keys or shapes)."""


# model keys a checkpoint may lack (mmengine's load_state_dict ignores them)
OPTIONAL_KEY_SUFFIXES = ('num_batches_tracked', )
# how many keys of each kind an error names
NAMED_KEYS = 5
DEFAULT_REVISE_KEYS = ((r'^module\.', ''), )


@contextlib.contextmanager
def _default_safe_globals_only() -> Iterator[None]:
    """Set aside globals added with ``add_safe_globals`` (e.g. by ``import
    mmstpn``) while reading an untrusted file; restore them afterwards."""
    ser = torch.serialization
    if not hasattr(ser, 'get_safe_globals'):
        yield
        return
    saved = list(ser.get_safe_globals())
    ser.clear_safe_globals()
    try:
        yield
    finally:  # keep what torch itself registered meanwhile
        added = [g for g in ser.get_safe_globals() if g not in saved]
        ser.clear_safe_globals()
        ser.add_safe_globals(saved + added)


def load_untrusted(path: str,
                   allow_numpy: bool = False,
                   trust: bool = False) -> object:
    """Read a checkpoint file without running code from it.

    Args:
        path (str): The file.
        allow_numpy (bool): Also allow numpy scalars, arrays and dtypes
            (plain data, still ``weights_only=True``).
        trust (bool): ``weights_only=False``: only for files from a trusted
            source (the pickle may run arbitrary code).

    Returns:
        object: What the file holds.

    Raises:
        CheckpointConversionError: Missing, unreadable or truncated file, or
            a pickled global outside the allowed list (named, with the opt-in
            flags).
    """
    if not osp.isfile(path):
        raise CheckpointConversionError(f'{path}: no such file')
    if trust:
        return torch.load(path, map_location='cpu', weights_only=False)
    try:
        with _default_safe_globals_only():
            if allow_numpy:
                with torch.serialization.safe_globals(_numpy_globals()):
                    return torch.load(
                        path, map_location='cpu', weights_only=True)
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        found = _GLOBAL_RE.search(str(err))
        if found is None:
            raise CheckpointConversionError(
                f'{path}: cannot read it as a torch checkpoint (truncated or '
                f'corrupted?): {_first_line(err)}') from err
        name = found.group(1).rstrip('.,')
        hint = ('--allow-numpy (numpy scalars/arrays/dtypes only) or '
                '--trust-checkpoint' if name.startswith('numpy') else
                '--trust-checkpoint')
        raise CheckpointConversionError(
            f'{path}: refusing to load: it pickles the global {name}, which '
            'is not allowed with weights_only=True. Nothing was converted. '
            f'If you trust the file, rerun with {hint} (weights_only=False '
            'runs code from the file).') from err
    except Exception as err:  # zip/legacy readers raise many types
        raise CheckpointConversionError(
            f'{path}: cannot read it as a torch checkpoint (truncated or '
            f'corrupted?): {type(err).__name__}: {_first_line(err)}') from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else repr(err)


def _read_error_detail(err: BaseException) -> str:
    """What torch says is wrong with a file, without its advice to turn off
    ``weights_only`` (the cause of a random or truncated file is not
    that)."""
    text = str(err).strip()
    for line in text.splitlines():
        if 'WeightsUnpickler error:' in line:
            return line.split('WeightsUnpickler error:', 1)[1].strip()
    first = _first_line(err)
    if 'weights_only' in first or 'Weights only load failed' in first:
        return type(err).__name__
    return f'{type(err).__name__}: {first}'


def read_checkpoint(filename: str,
                    map_location: Union[str, Callable, None] = 'cpu'
                    ) -> dict:
    """Read a checkpoint with mmengine's loader and torch's safe loading.

    Args:
        filename (str): Local path, URL, ``torchvision://...``, ... (every
            scheme of mmengine's ``CheckpointLoader``).
        map_location: As ``torch.load``.

    Returns:
        dict: The checkpoint (a dict; a bare state dict too).

    Raises:
        CheckpointReadError: The file is missing, cannot be read as a torch
            checkpoint (random bytes, truncated, another format), pickles a
            global that safe loading refuses (named, nothing is run), or
            does not hold a dict. The message names the file.
    """
    local = osp.expanduser(filename)
    if '://' not in filename and not osp.isfile(local):
        raise CheckpointReadError(f'{filename}: no such checkpoint file')
    try:
        ckpt = _load_checkpoint(filename, map_location=map_location)
    except pickle.UnpicklingError as err:
        found = _GLOBAL_RE.search(str(err))
        if found is not None:
            name = found.group(1).rstrip('.,')
            raise CheckpointReadError(
                f'{filename}: refusing to load it: it pickles the global '
                f'{name}, which torch\'s safe loading does not allow, and '
                'nothing from it was run. A checkpoint from a trusted '
                'source can be converted to plain tensors with the tools '
                'in tools/model_converters/ (see docs/model_converters.md)'
            ) from err
        raise CheckpointReadError(_unreadable(filename, err)) from err
    except Exception as err:  # zip / legacy readers raise many types
        raise CheckpointReadError(_unreadable(filename, err)) from err
    if not isinstance(ckpt, dict):
        raise CheckpointReadError(
            f'{filename}: holds a {type(ckpt).__name__}, not a checkpoint '
            '(a dict with a state_dict, or a state dict)')
    return ckpt


def _unreadable(filename: str, err: BaseException) -> str:
    size = ''
    if osp.isfile(osp.expanduser(filename)):
        size = f' ({osp.getsize(osp.expanduser(filename))} bytes)'
    return (f'{filename}{size}: not a readable torch checkpoint (truncated, '
            f'e.g. by a run killed while saving, corrupted, or another '
            f'format): {_read_error_detail(err)}')


# files of CheckpointHook that a run can resume from, and the temporary
# files of an atomic save (StrictCheckpointRunner.save_checkpoint)
RESUMABLE_RE = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
TMP_RE = re.compile(r'^\..+\.pth\.\d+\.tmp$')


def temporary_name(filename: str) -> str:
    """The name an atomic save writes ``filename`` to first: hidden, in the
    same folder, with the writer's pid (see :data:`TMP_RE`)."""
    folder, base = osp.split(filename)
    return osp.join(folder, f'.{base}.{os.getpid()}.tmp')


def publish(tmp: str, filename: str) -> None:
    """Make a fully written ``tmp`` the file ``filename`` in one step:
    flush it to disk, ``os.replace`` it (atomic within a file system) and
    flush the folder's entry."""
    with open(tmp, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp, filename)
    try:
        fd = os.open(osp.dirname(osp.abspath(filename)), os.O_RDONLY)
    except OSError:  # e.g. a platform without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def resume_candidates(work_dir: str) -> Tuple[List[str], List[str]]:
    """Checkpoints an automatic resume may use, newest first, and the
    temporary files interrupted saves left behind.

    Args:
        work_dir (str): The run's work dir (holds mmengine's
            ``last_checkpoint`` file, which names the latest checkpoint).

    Returns:
        tuple[list[str], list[str]]: The file ``last_checkpoint`` names
        (when it names one), then every ``epoch_N.pth`` / ``iter_N.pth`` of
        its folder and of ``work_dir``, newest (modification time, then N)
        first, without repeats; and the ``.<name>.pth.<pid>.tmp`` files of
        those folders.
    """
    candidates: List[str] = []
    folders = [work_dir]
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
        if last:
            candidates.append(last)
            if osp.isdir(osp.dirname(last)):
                folders.insert(0, osp.dirname(last))
    found, stale = [], []
    seen = set()
    for folder in folders:
        key = osp.realpath(folder)
        if key in seen or not osp.isdir(folder):
            continue
        seen.add(key)
        for name in os.listdir(folder):
            path = osp.join(folder, name)
            match = RESUMABLE_RE.match(name)
            if match and osp.isfile(path):
                found.append((osp.getmtime(path), int(match.group(2)), path))
            elif TMP_RE.match(name):
                stale.append(path)
    known = {osp.realpath(p) for p in candidates}
    for _, _, path in sorted(found, reverse=True):
        if osp.realpath(path) not in known:
            known.add(osp.realpath(path))
            candidates.append(path)
    return candidates, sorted(stale)


def _target_module(model: nn.Module) -> nn.Module:
    """The module whose state dict a checkpoint holds: model wrappers (DDP)
    and TTA models are unwrapped, as mmengine's loader does."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def checkpoint_state_dict(checkpoint: dict,
                          revise_keys: Sequence[Tuple[str, str]] = (
                              DEFAULT_REVISE_KEYS)) -> Dict[str, Tensor]:
    """The state dict of a checkpoint (``state_dict`` or the dict itself),
    its keys revised as mmengine's loader does (``module.`` stripped)."""
    state_dict = checkpoint.get('state_dict', checkpoint)
    metadata = getattr(state_dict, '_metadata', None)
    for pattern, repl in revise_keys:
        state_dict = OrderedDict(
            (re.sub(pattern, repl, k), v) for k, v in state_dict.items())
    if metadata is not None:  # module versions, as mmengine keeps them
        state_dict._metadata = metadata
    return state_dict


def compare_state_dict(model: nn.Module, state_dict: Dict[str, Tensor]
                       ) -> Tuple[List[str], List[str], List[str]]:
    """Keys of ``model`` missing from ``state_dict`` (optional ones aside),
    keys of ``state_dict`` the model does not have, and shape mismatches
    (``'key: (shape in file) vs (shape in model)'``), each in model /
    file order."""
    target = _target_module(model).state_dict()
    missing = [
        k for k in target
        if k not in state_dict and not k.endswith(OPTIONAL_KEY_SUFFIXES)
    ]
    unexpected = [k for k in state_dict if k not in target]
    shapes = [
        f'{k}: {tuple(v.shape)} in the file vs {tuple(target[k].shape)} in '
        'the model' for k, v in state_dict.items()
        if k in target and isinstance(v, Tensor)
        and v.shape != target[k].shape
    ]
    return missing, unexpected, shapes


def _load_reporting(target: nn.Module, state_dict: Dict[str, Tensor]
                    ) -> Tuple[List[str], List[str], List[str]]:
    """Load with torch's ``load_state_dict(strict=False)``, so that the
    model's own ``_load_from_state_dict`` hooks (e.g. a layout upgrade that
    renames old keys) run, and return what still does not fit: (missing,
    unexpected, shape mismatches). Tensors of another shape are not
    loaded."""
    own = target.state_dict()
    shapes = [
        k for k, v in state_dict.items()
        if k in own and isinstance(v, Tensor) and v.shape != own[k].shape
    ]
    kept = OrderedDict(
        (k, v) for k, v in state_dict.items() if k not in shapes)
    if hasattr(state_dict, '_metadata'):
        kept._metadata = state_dict._metadata
    shape_msgs = [
        f'{k}: {tuple(state_dict[k].shape)} in the file vs '
        f'{tuple(own[k].shape)} in the model' for k in shapes
    ]
    try:
        result = target.load_state_dict(kept, strict=False)
    except RuntimeError as err:  # a key renamed by a hook, another shape
        lines = [
            line.strip() for line in str(err).splitlines()
            if 'size mismatch' in line
        ]
        return [], [], shape_msgs + (lines or [_first_line(err)])
    missing = [
        k for k in result.missing_keys
        if not k.endswith(OPTIONAL_KEY_SUFFIXES) and k not in shapes
    ]
    return missing, list(result.unexpected_keys), shape_msgs


def load_state_dict_checked(model: nn.Module,
                            checkpoint: dict,
                            filename: str,
                            allow_partial: bool = False,
                            revise_keys: Sequence[Tuple[str, str]] = (
                                DEFAULT_REVISE_KEYS),
                            logger: Union[str, logging.Logger,
                                          None] = 'current') -> None:
    """Load a read checkpoint into ``model`` if its weights fit.

    Keys and shapes are compared with the model's state dict. Where the
    names differ, the checkpoint is loaded through the model's own loading
    (``_load_from_state_dict`` hooks, e.g. a model that maps an older
    layout of its keys) and what still does not fit decides; the model's
    previous values are restored when that is an error.

    Args:
        model (nn.Module): The model (DDP / TTA wrappers are unwrapped).
        checkpoint (dict): What :func:`read_checkpoint` returned.
        filename (str): The file, for the messages.
        allow_partial (bool): Load what fits and log the rest as a warning
            instead of raising (the explicit opt-in for fine-tuning from
            another model's weights).
        revise_keys: ``(pattern, replacement)`` pairs applied to the keys
            first. Defaults to stripping ``module.``.
        logger: Where the partial-load warning goes.

    Raises:
        CheckpointMismatchError: Missing keys (beyond
            ``OPTIONAL_KEY_SUFFIXES``), unexpected keys or other shapes,
            with their counts, the first :data:`NAMED_KEYS` of each and the
            file; the model keeps its values.
    """
    target = _target_module(model)
    state_dict = checkpoint_state_dict(checkpoint, revise_keys)
    missing, unexpected, shapes = compare_state_dict(target, state_dict)
    if not (missing or unexpected or shapes):
        _load_checkpoint_to_model(target, checkpoint, strict=False,
                                  logger='silent',
                                  revise_keys=list(revise_keys))
        return
    backup = OrderedDict(
        (k, v.detach().clone()) for k, v in target.state_dict().items())
    missing, unexpected, shapes = _load_reporting(target, state_dict)
    if not (missing or unexpected or shapes):
        return  # the model's own loading mapped the names
    problems = []
    for what, keys in (('missing (in the model, not in the file)', missing),
                       ('unexpected (in the file, not in the model)',
                        unexpected), ('of another shape', shapes)):
        if keys:
            more = f' (+{len(keys) - NAMED_KEYS} more)' \
                if len(keys) > NAMED_KEYS else ''
            problems.append(f'{len(keys)} keys {what}: '
                            f'{keys[:NAMED_KEYS]}{more}')
    text = (f'{filename}: the checkpoint does not fit '
            f'{type(target).__name__}: ' + '; '.join(problems))
    if not allow_partial:
        target.load_state_dict(backup)
        raise CheckpointMismatchError(
            text + '. Nothing was loaded. Is it the checkpoint of this '
            'config? To load only the weights that fit (e.g. to fine-tune '
            'from another model), opt in with --allow-partial-load '
            '(tools/test.py, tools/train.py, demos) or '
            'allow_partial_load=True in the config.')
    print_log(f'partial load (allowed): {text}; the model keeps its own '
              'values there', logger=logger, level=logging.WARNING)


def checkpoint_dataset_meta(checkpoint: dict) -> Optional[dict]:
    """The ``dataset_meta`` a checkpoint's ``meta`` records (keys lower
    case, as mmdet's ``init_detector`` reads it; an mmdet 2.x ``CLASSES``
    entry becomes ``classes``); None when it records none."""
    meta = checkpoint.get('meta') or {}
    if 'dataset_meta' in meta:
        return {k.lower(): v for k, v in meta['dataset_meta'].items()}
    if 'CLASSES' in meta:
        return dict(classes=meta['CLASSES'])
    return None


def load_checkpoint_strict(model: nn.Module,
                           filename: str,
                           map_location: Union[str, Callable, None] = 'cpu',
                           allow_partial: bool = False,
                           revise_keys: Sequence[Tuple[str, str]] = (
                               DEFAULT_REVISE_KEYS),
                           logger: Union[str, logging.Logger,
                                         None] = 'current') -> dict:
    """Read ``filename`` and load it into ``model``, or fail clearly.

    :func:`read_checkpoint` then :func:`load_state_dict_checked`: what the
    inference API, ``tools/test.py`` and the demos call.

    Args:
        model (nn.Module): The model.
        filename (str): The checkpoint (local path or mmengine scheme).
        map_location: As ``torch.load``. Defaults to 'cpu'.
        allow_partial (bool): Explicit opt-in to load only what fits.
        revise_keys: Key rewrites, default: strip ``module.``.
        logger: For the partial-load warning.

    Returns:
        dict: The checkpoint (``meta`` holds e.g. ``dataset_meta``).

    Raises:
        CheckpointReadError: The file cannot be read (see
            :func:`read_checkpoint`).
        CheckpointMismatchError: The weights do not fit and
            ``allow_partial`` is False.
    """
    checkpoint = read_checkpoint(filename, map_location)
    load_state_dict_checked(model, checkpoint, filename, allow_partial,
                            revise_keys, logger)
    return checkpoint


def get_state_dict(ckpt: object, path: str) -> Tuple[Dict[str, Tensor], str]:
    """The state dict in a checkpoint and the wrapper key it was under
    (``''`` for a bare state dict).

    Raises:
        CheckpointConversionError: No mapping of names to tensors found.
    """
    if isinstance(ckpt, dict):
        for key in ('state_dict', 'model', 'module'):
            inner = ckpt.get(key)
            if isinstance(inner, dict) and inner and all(
                    isinstance(v, Tensor) for v in inner.values()):
                return inner, key
        if ckpt and all(isinstance(v, Tensor) for v in ckpt.values()):
            return ckpt, ''
    what = (f'a dict with keys {sorted(ckpt)[:8]}'
            if isinstance(ckpt, dict) else type(ckpt).__name__)
    raise CheckpointConversionError(
        f'{path}: no state dict found (expected a mapping of names to '
        f'tensors, bare or under state_dict/model/module); got {what}')


def strip_prefix(state_dict: Dict[str, Tensor],
                 prefixes: Sequence[str]) -> Tuple[Dict[str, Tensor], str]:
    """Remove the first of ``prefixes`` that EVERY key carries (e.g. DDP's
    ``module.``); returns the new dict and the prefix removed (or '')."""
    for prefix in prefixes:
        if state_dict and all(k.startswith(prefix) for k in state_dict):
            return OrderedDict(
                (k[len(prefix):], v) for k, v in state_dict.items()), prefix
    return state_dict, ''


def sha256_of(path: str, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def _pattern(key: str) -> str:
    return re.sub(r'(?<=\.)\d+(?=\.|$)', '{N}', key)


class ConversionReport:
    """Every source key's fate, printed grouped by pattern (digits of module
    indices become ``{N}``), so a 230-key conversion is a short table.

    Args:
        src (str): Source file name, for the header.
    """

    def __init__(self, src: str) -> None:
        self.src = src
        self.mapped: List[Tuple[str, str, str]] = []
        self.dropped: List[Tuple[str, str]] = []
        self.notes: List[str] = []

    def map(self, src_key: str, dst_key: str, how: str = 'copy') -> None:
        self.mapped.append((src_key, dst_key, how))

    def drop(self, src_key: str, why: str) -> None:
        self.dropped.append((src_key, why))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def lines(self, verbose: bool = False) -> List[str]:
        out = [f'{self.src}: {len(self.mapped)} tensors mapped, '
               f'{len(self.dropped)} dropped']
        groups: Dict[Tuple[str, str, str], int] = defaultdict(int)
        for s, d, how in self.mapped:
            groups[(s, d, how) if verbose else
                   (_pattern(s), _pattern(d), how)] += 1
        for (s, d, how), n in groups.items():
            times = f'  x{n}' if n > 1 else ''
            extra = '' if how == 'copy' else f'  [{how}]'
            out.append(f'  {s} -> {d}{extra}{times}')
        drops: Dict[Tuple[str, str], int] = defaultdict(int)
        for s, why in self.dropped:
            drops[(s if verbose else _pattern(s), why)] += 1
        for (s, why), n in drops.items():
            times = f'  x{n}' if n > 1 else ''
            out.append(f'  dropped {s} ({why}){times}')
        out.extend(f'  note: {text}' for text in self.notes)
        return out

    def print(self, verbose: bool = False,
              printer: Callable[[str], None] = print) -> None:
        for line in self.lines(verbose):
            printer(line)


def check_against_model(state_dict: Dict[str, Tensor],
                        target: Dict[str, Tensor],
                        src: str,
                        what: str,
                        may_miss: Iterable[str] = ()) -> List[str]:
    """Compare converted tensors with a target model's state dict.

    Args:
        state_dict (dict): Converted tensors.
        target (dict): The target model's ``state_dict()``.
        src (str): Source file, for the message.
        what (str): The target, for the message (e.g. the config file).
        may_miss (Iterable[str]): Key prefixes that may stay missing (left
            to the model's initialisation).

    Returns:
        list[str]: The target keys left missing (all under ``may_miss``).

    Raises:
        CheckpointConversionError: Unexpected keys, missing keys outside
            ``may_miss``, or a shape / dtype mismatch (each named).
    """
    may_miss = tuple(may_miss)
    unexpected = [k for k in state_dict if k not in target]
    missing = [k for k in target if k not in state_dict]
    bad_missing = [k for k in missing if not k.startswith(may_miss)]
    shapes = [
        f'{k}: {tuple(v.shape)} {v.dtype} in the converted file, '
        f'{tuple(target[k].shape)} {target[k].dtype} in the model'
        for k, v in state_dict.items()
        if k in target and (v.shape != target[k].shape
                            or v.dtype != target[k].dtype)
    ]
    problems = []
    if unexpected:
        problems.append(f'{len(unexpected)} keys not in the model: '
                        f'{unexpected[:6]}')
    if bad_missing:
        problems.append(f'{len(bad_missing)} model keys not provided: '
                        f'{bad_missing[:6]}')
    if shapes:
        problems.append(f'{len(shapes)} shape/dtype mismatches: '
                        + '; '.join(shapes[:4]))
    if problems:
        raise CheckpointConversionError(
            f'{src}: converted tensors do not fit {what}: '
            + ' | '.join(problems))
    return missing


def assert_plain(obj: object, where: str = 'checkpoint') -> None:
    """Raise TypeError unless ``obj`` holds only tensors, dicts, lists,
    tuples and primitives (what loads under ``weights_only=True``)."""
    if isinstance(obj, (Tensor, ) + _PLAIN):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, _PLAIN):
                raise TypeError(f'{where}: key {k!r} is a {type(k)}')
            assert_plain(v, f'{where}[{k!r}]')
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            assert_plain(v, f'{where}[{i}]')
        return
    raise TypeError(f'{where} is a {type(obj).__name__}, not a tensor or '
                    'primitive')


def save_atomic(obj: dict, dst: str) -> None:
    """``torch.save`` to a temporary file beside ``dst``, then rename it:
    ``dst`` is either the complete new file or untouched."""
    assert_plain(obj)
    folder = osp.dirname(osp.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(dst)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
        os.replace(tmp, dst)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def converter_meta(src: str, converter: str, **extra) -> dict:
    """``meta`` of a converted file: source name and sha256, converter."""
    meta = dict(
        converted_from=osp.basename(src),
        source_sha256=sha256_of(src),
        converter=converter)
    meta.update(extra)
    return meta


def load_source(path: str,
                allow_numpy: bool = False,
                trust: bool = False,
                prefixes: Sequence[str] = ('module.', )
                ) -> Tuple[object, Dict[str, Tensor], str]:
    """:func:`load_untrusted` + :func:`get_state_dict` + strip one of
    ``prefixes``; returns (checkpoint, state dict, description)."""
    ckpt = load_untrusted(path, allow_numpy, trust)
    state_dict, wrapper = get_state_dict(ckpt, path)
    state_dict, prefix = strip_prefix(state_dict, prefixes)
    desc = (f'{len(state_dict)} tensors'
            + (f' under {wrapper!r}' if wrapper else ' (bare state dict)')
            + (f', prefix {prefix!r} stripped' if prefix else ''))
    return ckpt, state_dict, desc


def add_common_args(parser, trust_default: bool = False) -> None:
    """Arguments all converters take."""
    parser.add_argument('src', help='source checkpoint')
    parser.add_argument('dst', help='output checkpoint (written atomically)')
    parser.add_argument(
        '--allow-numpy',
        action='store_true',
        help='also allow numpy scalars/arrays/dtypes in the source (still '
        'weights_only=True)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        default=trust_default,
        help='load the source with weights_only=False (runs code from the '
        'file: only for a trusted source)')
    parser.add_argument(
        '--verbose', action='store_true', help='print every key, not '
        'patterns')


def build_model_state(config: str,
                      path_in_model: Optional[str] = None
                      ) -> Dict[str, Tensor]:
    """Build ``model`` of a config (no pretrained init, nothing loaded) and
    return the state dict of it or of its ``path_in_model`` submodule."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    if path_in_model is None:
        model_cfg = cfg.model
    else:
        model_cfg = cfg.model
        for part in path_in_model.split('.'):
            model_cfg = model_cfg[part]
    model = MODELS.build(model_cfg)
    return model.state_dict()
