"""TrackingNet read directly from its published layout."""
import os
import os.path as osp
from typing import List, Sequence

from mmdet.registry import DATASETS

from .got10k import GOT10kDataset, list_numbered_frames

TEST_CHUNK = 'TEST'


@DATASETS.register_module()
class TrackingNetDataset(GOT10kDataset):
    """TrackingNet (or any folder in its layout) read without a converter.

    Layout (``data_root``)::

        TRAIN_0/anno/<seq>.txt           x,y,w,h per frame (comma separated)
        TRAIN_0/frames/<seq>/0.jpg ...   frame i is ``<i>.jpg`` (NOT padded)
        ...
        TRAIN_11/...
        TEST/anno/<seq>.txt              frame 0's box only
        TEST/frames/<seq>/0.jpg ...

    ``chunks`` picks the folders, e.g. ``('TRAIN_0', 'TRAIN_1')`` or
    ``('TEST', )``; the sequences are the ``anno/*.txt`` files of each chunk
    (sorted by name, chunks in the given order), each of which needs its
    ``frames/<seq>/`` folder. Train chunks: the frame count is the number
    of ``anno`` lines (images are neither opened nor listed). The ``TEST``
    chunk: the ``frames/<seq>/*.jpg`` files are listed, sorted numerically,
    and must be numbered 0..n-1 without a gap; only frame 0 is annotated
    (as :class:`GOT10kDataset` with ``first_frame_only=True``). A TEST
    chunk cannot be mixed with train chunks.

    Items and frames are those of :class:`GOT10kDataset` (``bbox`` xyxy,
    ``x2 = x + w``; ``video_id`` = position over the chosen chunks).
    TrackingNet has no absence / occlusion labels: every annotated frame is
    ``visible=True``, ``absence=0``, ``cover=1``; the unannotated TEST
    frames have ``bbox`` / ``visible`` / ``absence`` / ``cover`` None;
    ``cut_by_image``, ``width`` and ``height`` are None (no meta file).
    The OPE protocol (``GOT10kMetric(protocol='ope')``, ``norm_precision``)
    is TrackingNet's; ``result_format='trackingnet'`` writes the server's
    submission.

    Errors name the file, the sequence and the line: a missing chunk or
    ``anno`` folder, a chunk without sequence, a sequence name in two
    chunks, a missing ``frames/<seq>/`` folder, a line without exactly 4
    comma-separated numbers, a non-positive width / height, a TEST anno
    with more than one line, a TEST frames folder without ``.jpg``, with a
    non-numeric name or with a gap in its numbers.

    Args:
        chunks (Sequence[str]): Chunk folders under ``data_root``.
            Defaults to ``('TRAIN_0', )``.
        *args, **kwargs: See :class:`GOT10kDataset` (``ann_file`` is not
            used; ``first_frame_only`` follows from ``chunks``).
    """

    def __init__(self,
                 *args,
                 chunks: Sequence[str] = ('TRAIN_0', ),
                 **kwargs) -> None:
        if 'first_frame_only' in kwargs:
            raise ValueError(
                'TrackingNetDataset: first_frame_only follows from chunks '
                "(True for the 'TEST' chunk); do not set it")
        if isinstance(chunks, str):
            chunks = (chunks, )
        chunks = tuple(chunks)
        if not chunks:
            raise ValueError('TrackingNetDataset: chunks is empty')
        if len(set(chunks)) != len(chunks):
            raise ValueError(
                f'TrackingNetDataset: chunks {chunks} has a duplicate')
        is_test = [c == TEST_CHUNK for c in chunks]
        if any(is_test) and not all(is_test):
            raise ValueError(
                f'TrackingNetDataset: chunks {chunks} mixes {TEST_CHUNK!r} '
                '(frame 0 annotated only) with train chunks')
        self.chunks = chunks
        super().__init__(*args, first_frame_only=all(is_test), **kwargs)

    def source_name(self) -> str:
        """What log messages name as this dataset's source (TrackingNet
        has no list file).

        Returns:
            str: ``<data_root> chunks (...)``.
        """
        return f'{self.data_root} chunks {self.chunks}'

    # --------------------------------------------------------------- loading
    def load_data_list(self) -> List[dict]:
        """Parse every ``anno/<seq>.txt`` of the chunks.

        Returns:
            list[dict]: One dict per sequence (see :class:`GOT10kDataset`).
        """
        root = self.data_root or ''
        data_list, seen, num_frames = [], {}, 0
        for chunk in self.chunks:
            anno_dir = osp.join(root, chunk, 'anno')
            if not osp.isdir(anno_dir):
                raise FileNotFoundError(
                    f'TrackingNet chunk {chunk!r}: {anno_dir} does not '
                    'exist')
            names = sorted(
                f[:-len('.txt')] for f in os.listdir(anno_dir)
                if f.endswith('.txt'))
            if not names:
                raise ValueError(f'TrackingNet chunk {chunk!r}: no .txt '
                                 f'file in {anno_dir}')
            for name in names:
                anno_file = osp.join(anno_dir, f'{name}.txt')
                if name in seen:
                    raise ValueError(
                        f'{anno_file}: sequence {name!r} is also in chunk '
                        f'{seen[name]!r}')
                seen[name] = chunk
                frames = self._load_chunk_sequence(name, anno_file,
                                                   osp.join(
                                                       root, chunk, 'frames',
                                                       name))
                num_frames = self.append_video(data_list, name, frames,
                                               num_frames)
        return data_list

    def _load_chunk_sequence(self, name: str, anno_file: str,
                             frames_dir: str) -> List[dict]:
        if not osp.isdir(frames_dir):
            raise FileNotFoundError(
                f'{anno_file} (sequence {name!r}): no frames folder '
                f'{frames_dir}')
        boxes = self._parse_boxes(anno_file, name)
        if self.first_frame_only:
            if len(boxes) != 1:
                raise ValueError(
                    f'{anno_file} (sequence {name!r}) has {len(boxes)} '
                    f'lines; the {TEST_CHUNK} chunk has frame 0\'s box only')
            files = list_numbered_frames(name, frames_dir, first=0)
            rest = [None] * (len(files) - 1)
            labels = dict(
                absence=[0] + rest,
                cover=[1] + rest,
                cut_by_image=[None] * len(files))
            boxes = boxes + rest
        else:
            files = ['%d.jpg' % i for i in range(len(boxes))]
            labels = dict(
                absence=[0] * len(boxes),
                cover=[1] * len(boxes),
                cut_by_image=[None] * len(boxes))
        return self._make_frames(name, frames_dir, anno_file, files, boxes,
                                 labels, None, None)
