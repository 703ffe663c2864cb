"""LaSOT read directly from its published layout."""
import os.path as osp
from typing import List

from mmdet.registry import DATASETS

from .got10k import GOT10kDataset, _read_lines

LASOT_FLAG_FILES = ('full_occlusion', 'out_of_view')


@DATASETS.register_module()
class LaSOTDataset(GOT10kDataset):
    """LaSOT (or any folder in its layout) read without a converter.

    Layout: ``ann_file`` lists sequence names (e.g. LaSOT's
    ``testing_set.txt``: ``airplane-1``, ...), one per line; sequence
    ``<class>-<n>`` lives in ``<data_prefix['img_path']>/<class>/<class>-<n>``
    (the prefix defaults to the folder of ``ann_file``) with::

        groundtruth.txt      x,y,w,h per frame
        full_occlusion.txt   one line of comma-separated 0 / 1 per frame
        out_of_view.txt      idem
        img/00000001.jpg ...

    Items and frames are those of :class:`GOT10kDataset` (``bbox`` xyxy,
    ``visible``, ``instances``, frame count from ``groundtruth.txt``) with
    ``absence = full_occlusion or out_of_view`` and, since LaSOT has no
    cover ratio, ``cover = 0`` when absent else 1 (so that the GOT-10k
    protocol can also be run on it); ``height`` / ``width`` are None (no
    meta file). Every frame of LaSOT is annotated, so
    ``first_frame_only`` must stay False. The OPE protocol
    (``GOT10kMetric(protocol='ope')``) is LaSOT's official one.

    Errors name the file, the sequence and the line as for GOT-10k, plus a
    flag file whose value count differs from ``groundtruth.txt``.

    Args:
        *args, **kwargs: See :class:`GOT10kDataset`;
            ``first_frame_only=True`` is a ValueError.

    See docs/sot.md.
    """

    def __init__(self, *args, **kwargs) -> None:
        if kwargs.get('first_frame_only'):
            raise ValueError('LaSOTDataset: every LaSOT frame is annotated; '
                             'first_frame_only must be False')
        super().__init__(*args, **kwargs)

    def _sequence_dir(self, root: str, name: str) -> str:
        return osp.join(root, name.rsplit('-', 1)[0], name)

    @staticmethod
    def _parse_flags(path: str, name: str, num: int) -> List[int]:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'sequence {name!r}: {path} does not exist')
        text = ','.join(line.strip() for line in _read_lines(path))
        values = [v.strip() for v in text.split(',') if v.strip()]
        if len(values) != num:
            raise ValueError(
                f'{path} (sequence {name!r}) has {len(values)} values but '
                f'groundtruth.txt has {num} lines')
        for i, v in enumerate(values):
            if v not in ('0', '1'):
                raise ValueError(f'{path} (sequence {name!r}): value {i + 1} '
                                 f'is {v!r}, expected 0 or 1')
        return [int(v) for v in values]

    def _load_sequence(self, name: str, seq_dir: str) -> List[dict]:
        gt_file = osp.join(seq_dir, 'groundtruth.txt')
        boxes = self._parse_boxes(gt_file, name)
        flags = [
            self._parse_flags(
                osp.join(seq_dir, f'{key}.txt'), name, len(boxes))
            for key in LASOT_FLAG_FILES
        ]
        absence = [int(a or b) for a, b in zip(*flags)]
        labels = dict(
            absence=absence,
            cover=[1 - a for a in absence],
            cut_by_image=[None] * len(boxes))
        files = [osp.join('img', '%08d.jpg' % (i + 1))
                 for i in range(len(boxes))]
        return self._make_frames(name, seq_dir, gt_file, files, boxes,
                                 labels, None, None)
