"""GOT-10k read directly from its published layout."""
import ast
import os
import os.path as osp
from typing import Any, Dict, List, Tuple, Union

import numpy as np
from mmdet.datasets import BaseVideoDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log

Index = Union[int, Tuple[int, int]]

LABEL_FILES = ('absence', 'cover', 'cut_by_image')


def _read_lines(path: str) -> List[str]:
    with open(path, 'r') as f:
        lines = f.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def list_numbered_frames(name: str, frames_dir: str, first: int) -> List[str]:
    """The ``.jpg`` files of a folder whose names are frame numbers,
    ordered by number (``2.jpg`` before ``10.jpg``; ``00000002.jpg`` works
    too), checked to run ``first, first + 1, ...`` without a gap.

    Args:
        name (str): The sequence (named in errors).
        frames_dir (str): The folder.
        first (int): Number of the first frame (GOT-10k: 1, TrackingNet: 0).

    Returns:
        list[str]: File names in frame order.

    Raises:
        FileNotFoundError: No ``.jpg`` in the folder.
        ValueError: A ``.jpg`` whose name is not a number, a number twice
            or a gap, naming the file.
    """
    numbered = []
    for fname in os.listdir(frames_dir):
        stem, ext = osp.splitext(fname)
        if ext.lower() != '.jpg':
            continue
        if not stem.isdigit():
            raise ValueError(
                f'sequence {name!r}: frame file '
                f'{osp.join(frames_dir, fname)} is not named <i>.jpg')
        numbered.append((int(stem), fname))
    if not numbered:
        raise FileNotFoundError(
            f'sequence {name!r}: no .jpg frame in {frames_dir}')
    numbered.sort()
    for i, (num, fname) in enumerate(numbered, first):
        if num < i:
            raise ValueError(f'sequence {name!r}: frame {num} appears '
                             f'twice in {frames_dir} ({fname})')
        if num > i:
            raise ValueError(
                f'sequence {name!r}: frames in {frames_dir} are not '
                f'numbered {first}..{first + len(numbered) - 1} without a '
                f'gap: frame {i} is missing (next file {fname})')
    return [fname for _, fname in numbered]


def parse_meta_info(path: str) -> Dict[str, str]:
    """``meta_info.ini``: a ``[METAINFO]`` header then ``key: value`` lines.

    Args:
        path (str): The file.

    Returns:
        dict[str, str]: key -> raw value.
    """
    meta = {}
    for n, line in enumerate(_read_lines(path), 1):
        line = line.strip()
        if not line or line.startswith('['):
            continue
        key, sep, value = line.partition(':')
        if not sep:
            raise ValueError(f'{path} line {n}: expected "key: value", got '
                             f'{line!r}')
        meta[key.strip()] = value.strip()
    return meta


@DATASETS.register_module()
class GOT10kDataset(BaseVideoDataset):
    """GOT-10k (or any folder in its layout) read without a converter.

    Layout (``data_root`` / ``ann_file`` / ``data_prefix['img_path']``)::

        <split>/list.txt                 one sequence name per line
        <split>/<seq>/00000001.jpg ...   frames
        <split>/<seq>/groundtruth.txt    x,y,w,h per frame (test: frame 0)
        <split>/<seq>/absence.label      0 / 1 per frame (train / val)
        <split>/<seq>/cover.label        0..8 per frame (train / val)
        <split>/<seq>/cut_by_image.label 0 / 1 per frame (optional)
        <split>/<seq>/meta_info.ini      ``resolution: (w, h)`` (optional)

    e.g. ``data_root='data/GOT10k', ann_file='val/list.txt',
    data_prefix=dict(img_path='val')``. The frame count of a train / val
    sequence is the number of ``groundtruth.txt`` lines (image files are
    neither opened nor listed, frame ``i`` is ``%08d.jpg % (i + 1)``); for
    a test sequence (``first_frame_only=True``) the ``*.jpg`` files of the
    folder are listed and ordered by their number (``10.jpg`` after
    ``9.jpg``), which must run 1, 2, ... without a gap.

    One item per sequence, in ``list.txt`` order::

        dict(video_id=<position in list.txt>, video_name=<seq>,
             video_length=F, images=[frame, ...], key_frame_inds=[...])

    and each frame::

        dict(frame_id=i, img_id=<running frame number over the split>,
             img_path, video_name, height, width,  # None without
                                                   # meta_info.ini
             bbox=[x1, y1, x2, y2] or None,   # xyxy, x2 = x + w; None for
                                               # unannotated test frames
             visible=bool or None,             # absence == 0
             cover=int or None, absence=int or None, cut_by_image=int or None,
             instances=[dict(bbox, bbox_label=0, instance_id=0,
                             ignore_flag=0)])  # only when visible

    Boxes are mmdet's ``x1, y1, x2, y2`` (``x2 = x + w``);
    :class:`~mmstpn.evaluation.GOT10kMetric` converts back to ``x, y, w,
    h``. On test frames 1.. ``bbox`` / ``visible`` / ``cover`` are None and
    ``instances`` is empty; frame 0 of a test sequence counts as visible.

    Errors (``ValueError`` / ``FileNotFoundError``) name the file, the
    sequence and the line: a missing ``list.txt``, a listed sequence without
    folder, a duplicated name, a missing ``groundtruth.txt`` or label file,
    a line without exactly 4 comma-separated numbers, a box with
    non-positive width or height on a visible frame, label files whose
    line count differs from ``groundtruth.txt``, label values out of
    range (NaN and inf included), a box with a NaN / inf coordinate, an
    unreadable ``resolution``.

    Indexing: ``dataset[(video_idx, i)]`` (``TrackImgSampler``): test mode
    gives frame i (mmdet's frame-level item); training runs the pipeline on
    the whole sequence with ``key_frame_id=i``. ``dataset[video_idx]`` in
    training gives the whole sequence (for :class:`SOTPairSample`).

    Args:
        first_frame_only (bool): The split carries only frame 0's box (the
            GOT-10k test split). Defaults to False.
        *args, **kwargs: See :class:`mmengine.dataset.BaseDataset`.
            ``filter_cfg=dict(min_visible=1)`` (training only, default 1):
            drop sequences with fewer visible frames (logged).
    """

    METAINFO: dict = dict(classes=('object', ))

    def __init__(self, *args, first_frame_only: bool = False,
                 **kwargs) -> None:
        self.first_frame_only = first_frame_only
        super().__init__(*args, **kwargs)

    # --------------------------------------------------------------- loading
    def _seq_root(self) -> str:
        prefix = self.data_prefix.get('img_path')
        return prefix if prefix else osp.dirname(self.ann_file)

    def load_data_list(self) -> List[dict]:
        """Parse ``list.txt`` and every sequence folder.

        Returns:
            list[dict]: One dict per sequence (see the class docstring).
        """
        list_file = self.ann_file
        if not osp.isfile(list_file):
            raise FileNotFoundError(f'GOT-10k sequence list {list_file} '
                                    'does not exist')
        root = self._seq_root()
        data_list, seen, num_frames = [], {}, 0
        for n, line in enumerate(_read_lines(list_file), 1):
            name = line.strip()
            if not name:
                continue
            if name in seen:
                raise ValueError(f'{list_file} line {n}: sequence {name!r} '
                                 f'is listed twice (first on line '
                                 f'{seen[name]})')
            seen[name] = n
            seq_dir = self._sequence_dir(root, name)
            if not osp.isdir(seq_dir):
                raise FileNotFoundError(
                    f'{list_file} line {n}: sequence {name!r} has no folder '
                    f'{seq_dir}')
            frames = self._load_sequence(name, seq_dir)
            num_frames = self.append_video(data_list, name, frames,
                                           num_frames)
        if not data_list:
            raise ValueError(f'{list_file} lists no sequence')
        return data_list

    def _sequence_dir(self, root: str, name: str) -> str:
        """Folder of sequence ``name``."""
        return osp.join(root, name)

    @staticmethod
    def _parse_boxes(path: str, name: str) -> List[List[float]]:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'sequence {name!r}: {path} does not exist')
        boxes = []
        for n, line in enumerate(_read_lines(path), 1):
            fields = line.strip().split(',')
            if len(fields) != 4:
                raise ValueError(
                    f'{path} line {n} (sequence {name!r}): expected 4 '
                    f'comma-separated values x,y,w,h, got {len(fields)}: '
                    f'{line!r}')
            try:
                boxes.append([float(v) for v in fields])
            except ValueError:
                raise ValueError(f'{path} line {n} (sequence {name!r}): '
                                 f'not a number in {line!r}') from None
        if not boxes:
            raise ValueError(f'{path} (sequence {name!r}) is empty')
        bad = np.flatnonzero(~np.isfinite(np.asarray(boxes)).all(axis=1))
        if len(bad):
            raise ValueError(
                f'{path} line {bad[0] + 1} (sequence {name!r}, frame '
                f'{bad[0]}): non-finite box {boxes[bad[0]]} ({len(bad)} '
                'line(s) with NaN / inf)')
        return boxes

    @staticmethod
    def _parse_labels(path: str, name: str, num: int,
                      max_value: int) -> List[int]:
        lines = _read_lines(path)
        if len(lines) != num:
            raise ValueError(
                f'{path} (sequence {name!r}) has {len(lines)} lines but '
                f'groundtruth.txt has {num}')
        values = []
        for n, line in enumerate(lines, 1):
            try:
                value = float(line.strip())
            except ValueError:
                raise ValueError(f'{path} line {n} (sequence {name!r}): not '
                                 f'a number: {line!r}') from None
            if not np.isfinite(value) or value != int(value) \
                    or not 0 <= value <= max_value:
                raise ValueError(
                    f'{path} line {n} (sequence {name!r}): expected an '
                    f'integer in [0, {max_value}], got {line.strip()!r}')
            values.append(int(value))
        return values

    def _load_sequence(self, name: str, seq_dir: str) -> List[dict]:
        gt_file = osp.join(seq_dir, 'groundtruth.txt')
        boxes = self._parse_boxes(gt_file, name)
        width = height = None
        meta_file = osp.join(seq_dir, 'meta_info.ini')
        if osp.isfile(meta_file):
            res = parse_meta_info(meta_file).get('resolution')
            if res is not None:
                try:
                    width, height = (int(v) for v in ast.literal_eval(res))
                except (ValueError, SyntaxError, TypeError):
                    raise ValueError(
                        f'{meta_file} (sequence {name!r}): resolution must '
                        f'be "(width, height)", got {res!r}') from None

        if self.first_frame_only:
            files = list_numbered_frames(name, seq_dir, first=1)
            if len(boxes) != 1:
                raise ValueError(
                    f'{gt_file} (sequence {name!r}) has {len(boxes)} lines; '
                    'first_frame_only=True expects only frame 0\'s box')
            labels = {k: [None] * len(files) for k in LABEL_FILES}
            labels['absence'][0], labels['cover'][0] = 0, None
            boxes = boxes + [None] * (len(files) - 1)
        else:
            files = ['%08d.jpg' % (i + 1) for i in range(len(boxes))]
            labels = {}
            for key, max_value in zip(LABEL_FILES, (1, 8, 1)):
                path = osp.join(seq_dir, f'{key}.label')
                if not osp.isfile(path):
                    if key == 'cut_by_image':
                        labels[key] = [None] * len(boxes)
                        continue
                    raise FileNotFoundError(
                        f'sequence {name!r}: {path} does not exist (a test '
                        'split needs first_frame_only=True)')
                labels[key] = self._parse_labels(path, name, len(boxes),
                                                 max_value)

        return self._make_frames(name, seq_dir, gt_file, files, boxes,
                                 labels, width, height)

    @staticmethod
    def _make_frames(name: str, seq_dir: str, gt_file: str,
                     files: List[str], boxes: List[Any],
                     labels: Dict[str, List[Any]], width: Any,
                     height: Any) -> List[dict]:
        """Frame dicts (class docstring) from the parsed files; checks
        that visible frames have a positive box."""
        frames = []
        for i, fname in enumerate(files):
            box = boxes[i]
            absence = labels['absence'][i]
            visible = None if absence is None else absence == 0
            frame = dict(
                frame_id=i,
                img_path=osp.join(seq_dir, fname),
                video_name=name,
                height=height,
                width=width,
                visible=visible,
                absence=absence,
                cover=labels['cover'][i],
                cut_by_image=labels['cut_by_image'][i],
                bbox=None,
                instances=[])
            if box is not None:
                x, y, w, h = box
                if visible and (w <= 0 or h <= 0):
                    raise ValueError(
                        f'{gt_file} line {i + 1} (sequence {name!r}): box '
                        f'{box} has non-positive width or height on a '
                        'visible frame')
                frame['bbox'] = [x, y, x + w, y + h]
                if visible:
                    frame['instances'] = [
                        dict(
                            bbox=frame['bbox'],
                            bbox_label=0,
                            instance_id=0,
                            ignore_flag=0)
                    ]
            frames.append(frame)
        return frames

    def filter_data(self) -> List[dict]:
        """Set ``key_frame_inds``; in training drop sequences with fewer
        than ``filter_cfg['min_visible']`` (default 1) visible frames.

        Returns:
            list[dict]: The kept sequences (all of them at test).

        Raises:
            ValueError: No sequence left for training.
        """
        if self.test_mode:
            for video in self.data_list:
                video['key_frame_inds'] = list(range(video['video_length']))
            return self.data_list
        min_visible = (self.filter_cfg or {}).get('min_visible', 1)
        kept = []
        for video in self.data_list:
            video['key_frame_inds'] = [
                f['frame_id'] for f in video['images'] if f['visible']
            ]
            if len(video['key_frame_inds']) >= min_visible:
                kept.append(video)
        if not kept:
            raise ValueError(
                f'{self.source_name()}: no sequence left for training: each '
                f'of the {len(self.data_list)} sequences has fewer than '
                f'{min_visible} visible frames (filter_cfg.min_visible; '
                'absence.label marks every frame absent?)')
        if len(kept) != len(self.data_list):
            dropped = [
                v['video_name'] for v in self.data_list if v not in kept
            ]
            print_log(
                f'{self.source_name()}: dropped {len(dropped)} sequences with '
                f'fewer than {min_visible} visible frames: {dropped[:10]}'
                + (' ...' if len(dropped) > 10 else ''), 'current')
        return kept

    @staticmethod
    def append_video(data_list: List[dict], name: str, frames: List[dict],
                     num_frames: int) -> int:
        """Append one sequence to ``data_list``.

        Args:
            data_list (list[dict]): The sequences so far (appended to).
            name (str): The sequence name.
            frames (list[dict]): Its frame dicts; each gets a dataset-wide
                ``img_id`` (``num_frames + frame_id``).
            num_frames (int): Frames of the sequences before it.

        Returns:
            int: The new frame count.
        """
        for frame in frames:
            frame['img_id'] = num_frames + frame['frame_id']
        data_list.append(
            dict(
                video_id=len(data_list),
                video_name=name,
                video_length=len(frames),
                images=frames))
        return num_frames + len(frames)

    def source_name(self) -> str:
        """What log messages name as this dataset's source.

        Returns:
            str: ``ann_file``.
        """
        return self.ann_file

    # ------------------------------------------------------------- indexing
    def get_len_per_video(self, idx: int) -> int:
        """Key frames of a sequence.

        Args:
            idx (int): The sequence.

        Returns:
            int: Its frames (test) or its visible frames (training).
        """
        return len(self.get_data_info(idx)['key_frame_inds'])

    def prepare_data(self, idx: Index) -> Any:
        """Test: mmdet's frame-level item; training: the whole sequence.

        Args:
            idx (int | tuple[int, int]): ``(video_idx, i)`` or ``video_idx``.

        Returns:
            Any: What the pipeline returns.
        """
        if self.test_mode:
            if not isinstance(idx, tuple):
                raise ValueError(
                    f'{type(self).__name__} ({self.ann_file}) in test mode '
                    'needs (video_idx, frame_idx) indices: use '
                    "sampler=dict(type='TrackImgSampler')")
            return super().prepare_data(idx)
        video_idx, key_idx = idx if isinstance(idx, tuple) else (idx, None)
        video = self.get_data_info(video_idx)
        if key_idx is not None:
            video['key_frame_id'] = video['key_frame_inds'][key_idx]
        else:
            video.pop('key_frame_id', None)
        return self.pipeline(video)

