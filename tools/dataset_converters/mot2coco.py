"""MOTChallenge (MOT15/16/17/20) -> CocoVID json with mmdet's converter,
after a check pass whose errors name the file, sequence, line and field.

mmdet's ``tools/dataset_converters/mot2coco.py`` (shipped inside the mmdet
package) does the conversion and takes the same arguments; it reads
``seqinfo.ini`` by line position (line 2 ``name``, 3 ``imDir``, 4
``frameRate``, 5 ``seqLength``, 6 ``imWidth``, 7 ``imHeight``), every entry
of ``train/`` and ``test/`` as a sequence folder and every ``gt.txt`` line
as 9 comma-separated fields (MOT15: the first 6), failing with a bare
``IndexError`` / ``AssertionError`` / ``ValueError`` otherwise. The check
pass raises a ``ValueError`` that names what is wrong first (frame files
must be numbered 1..seqLength without a gap), then mmdet's script runs
unchanged, except that it orders the frame files by their number: it
lists them with ``sorted(os.listdir(...))``, text order, which puts
``10.jpg`` before ``2.jpg`` and would give wrong ``frame_id`` s and a wrong
half-train / half-val split for unpadded names; the script's ``sorted`` is
bound to :func:`frame_number_sorted` (``runpy``'s ``init_globals``).

Example (MOT17, with the half-train / half-val split for local metrics)::

    python tools/dataset_converters/mot2coco.py -i data/MOT17 \\
        -o data/MOT17/annotations --split-train --convert-det
"""
import argparse
import builtins
import math
import os
import os.path as osp
import sys
from typing import List

from mmstpn.datasets.converters.mmdet_converters import run_mmdet_converter

SEQINFO_KEYS = ('name', 'imDir', 'frameRate', 'seqLength', 'imWidth',
                'imHeight')
INT_KEYS = ('frameRate', 'seqLength', 'imWidth', 'imHeight')
# gt.txt: frame, id, x, y, w, h, conf, class, visibility
GT_TYPES = (int, int, float, float, float, float, float, int, float)


def frame_number_sorted(iterable, *, key=None, reverse=False) -> list:
    """``sorted`` that orders frame file names (``<number>.<ext>``) by
    their number; anything else (a key, ``reverse``, other names) is the
    builtin ``sorted``.

    Args:
        iterable: What to sort.
        key, reverse: As for the builtin.

    Returns:
        list: The sorted items.
    """
    items = list(iterable)
    if key is None and not reverse and all(
            isinstance(n, str) and n.split('.')[0].isdigit() for n in items):
        return builtins.sorted(
            items, key=lambda n: (int(n.split('.')[0]), n))
    return builtins.sorted(items, key=key, reverse=reverse)


def _read_lines(path: str) -> List[str]:
    with open(path) as f:
        return [line.rstrip('\r\n') for line in f]


def check_seqinfo(seq_dir: str) -> dict:
    """Check ``<seq_dir>/seqinfo.ini`` as mmdet's converter reads it.

    Args:
        seq_dir (str): A sequence folder, e.g. ``MOT17/train/MOT17-02-DPM``.

    Returns:
        dict: ``name``, ``imDir`` and the int fields.
    """
    path = osp.join(seq_dir, 'seqinfo.ini')
    seq = osp.basename(osp.normpath(seq_dir))
    if not osp.isfile(path):
        raise ValueError(f'{path}: missing (sequence {seq})')
    lines = _read_lines(path)
    info = {}
    for i, key in enumerate(SEQINFO_KEYS, start=1):
        line = lines[i].strip() if i < len(lines) else ''
        name, _, value = line.partition('=')
        if name.strip() != key or not value.strip():
            raise ValueError(
                f'{path}: line {i + 1} must be "{key}=<value>" (mmdet reads '
                f'seqinfo.ini by line position), got {line!r} '
                f'(sequence {seq})')
        value = value.strip()
        if key in INT_KEYS:
            try:
                value = int(value)
            except ValueError:
                raise ValueError(f'{path}: line {i + 1}: "{key}" must be an '
                                 f'integer, got {value!r} (sequence {seq})')
        info[key] = value
    if info['name'] != seq:
        raise ValueError(f'{path}: line 2: name={info["name"]} is not the '
                         f'folder name {seq}')
    img_dir = osp.join(seq_dir, info['imDir'])
    if not osp.isdir(img_dir):
        raise ValueError(f'{path}: imDir={info["imDir"]}: no folder '
                         f'{img_dir} (sequence {seq})')
    names = os.listdir(img_dir)
    if len(names) != info['seqLength']:
        raise ValueError(
            f'{path}: seqLength={info["seqLength"]} but {img_dir} has '
            f'{len(names)} files (sequence {seq})')
    bad = [n for n in names if not n.split('.')[0].isdigit()]
    if bad:
        raise ValueError(f'{img_dir}: file {sorted(bad)[0]!r} is not named '
                         f'<frame number>.<ext> (sequence {seq})')
    ordered = frame_number_sorted(names)
    for i, name in enumerate(ordered, start=1):
        num = int(name.split('.')[0])
        if num != i:
            what = f'frame {i} is missing' if num > i else \
                f'frame {num} appears twice'
            raise ValueError(
                f'{img_dir}: frame files must be numbered 1..'
                f'{info["seqLength"]} without a gap: {what} (at file '
                f'{name!r}, sequence {seq})')
    return info


def check_track_file(path: str, seq: str, seq_length: int,
                     is_mot15: bool = False, det: bool = False) -> None:
    """Check every line of a ``gt.txt`` (or ``det.txt`` with ``det``).

    Args:
        path (str): The file.
        seq (str): Its sequence (named in errors).
        seq_length (int): Frames of the sequence (frame ids 1..seq_length).
        is_mot15 (bool): MOT15 gt (only the first 6 fields are read).
        det (bool): A detection file (>= 7 fields, id -1).
    """
    if not osp.isfile(path):
        raise ValueError(f'{path}: missing (sequence {seq})')
    if det or is_mot15:
        types, exact = GT_TYPES[:7 if det else 6], False
    else:
        types, exact = GT_TYPES, True
    for n, line in enumerate(_read_lines(path), start=1):
        fields = line.strip().split(',')
        where = f'{path}: line {n} (sequence {seq})'
        if (len(fields) != len(types)) if exact else (
                len(fields) < len(types)):
            raise ValueError(
                f'{where} has {len(fields) if line.strip() else 0} fields, '
                f'expected {"" if exact else "at least "}{len(types)} '
                '(frame, id, x, y, w, h' + (', conf' if det else (
                    '' if is_mot15 else ', conf, class, visibility')) +
                f'): {line!r}')
        for i, (field, typ) in enumerate(zip(fields, types)):
            try:
                typ(field)
            except ValueError:
                raise ValueError(f'{where}: field {i + 1} must be '
                                 f'{typ.__name__}, got {field!r}')
        numbers = [float(f) for f in fields[2:len(types)]]
        if not all(math.isfinite(v) for v in numbers):
            raise ValueError(f'{where}: NaN / inf in x, y, w, h' + (
                ', conf, ...' if len(numbers) > 4 else '') + f': {line!r}')
        frame = int(fields[0])
        if not 1 <= frame <= seq_length:
            raise ValueError(f'{where}: frame {frame} is outside 1..'
                             f'{seq_length} (seqLength)')
        if det and int(fields[1]) != -1:
            raise ValueError(f'{where}: a detection must have id -1, got '
                             f'{fields[1]}')


def check_mot_folder(root: str, convert_det: bool = False) -> int:
    """Check ``<root>/{train,test}/<seq>`` as mmdet's converter reads them.

    Args:
        root (str): The MOTChallenge root (e.g. ``data/MOT17``).
        convert_det (bool): Also check ``det/det.txt``.

    Returns:
        int: Number of sequences checked.
    """
    count = 0
    for subset in ('train', 'test'):
        folder = osp.join(root, subset)
        if not osp.isdir(folder):
            raise ValueError(f'{folder}: missing (mmdet\'s mot2coco '
                             'converts train and test)')
        for seq in sorted(os.listdir(folder)):
            seq_dir = osp.join(folder, seq)
            if not osp.isdir(seq_dir):
                raise ValueError(f'{seq_dir}: not a sequence folder (mmdet '
                                 f'reads every entry of {folder})')
            info = check_seqinfo(seq_dir)
            if subset == 'train':
                check_track_file(
                    osp.join(seq_dir, 'gt', 'gt.txt'), seq,
                    info['seqLength'], is_mot15='MOT15' in seq_dir)
            if convert_det:
                check_track_file(
                    osp.join(seq_dir, 'det', 'det.txt'), seq,
                    info['seqLength'], det=True)
            count += 1
    return count


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='MOTChallenge to CocoVID json (mmdet converter, checked)')
    parser.add_argument('-i', '--input', required=True,
                        help='MOTChallenge root with train/ and test/')
    parser.add_argument('-o', '--output', required=True,
                        help='folder of the converted json files')
    parser.add_argument('--convert-det', action='store_true',
                        help='also convert the public detections')
    parser.add_argument('--split-train', action='store_true',
                        help='also write half-train / half-val of train')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    check_mot_folder(args.input, args.convert_det)
    mmdet_args = ['-i', args.input, '-o', args.output]
    if args.convert_det:
        mmdet_args.append('--convert-det')
    if args.split_train:
        mmdet_args.append('--split-train')
    run_mmdet_converter(
        'mot2coco.py',
        mmdet_args,
        init_globals=dict(sorted=frame_number_sorted))


if __name__ == '__main__':
    main(sys.argv[1:])
