"""Frame sources and all-or-nothing writers of ``demo/video_demo.py``.

A source is a video file (decoded with mmcv's ``VideoReader``) or a folder
of frames; both stream (one frame in memory at a time) and can decode
chosen frames by index (the support frames of offline mode). The writers
stage every output under a temporary name next to it and rename them only
when the whole video went through, so an error leaves nothing at ``--out``.
"""
import os
import os.path as osp
import re
import shutil
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_OUT_FOURCC = {'.mp4': 'mp4v', '.avi': 'MJPG'}


def _natural_key(name: str) -> list:
    """``frame2.jpg`` before ``frame10.jpg``."""
    return [int(p) if p.isdigit() else p for p in re.split(r'(\d+)', name)]


class FrameSource:
    """Frames of one video, streamed in order or read by index.

    Attributes:
        path (str): The video file or frame folder.
        num_frames (int): Frames the source declares (a video's header; the
            files of a folder).
        fps (float, optional): The video's frame rate (None for a folder).
    """

    path: str
    num_frames: int
    fps: Optional[float]

    def __iter__(self) -> Iterator[np.ndarray]:
        """BGR uint8 frames in order."""
        raise NotImplementedError

    def read_frames(self, indices: Sequence[int]) -> List[np.ndarray]:
        """The BGR frames at ``indices`` (random access)."""
        raise NotImplementedError


class VideoFileSource(FrameSource):
    """A video file, decoded by mmcv's ``VideoReader`` (OpenCV)."""

    def __init__(self, path: str) -> None:
        self.path = path
        cap = cv2.VideoCapture(path)
        try:
            if not cap.isOpened():
                raise ValueError(
                    f'{path}: OpenCV (mmcv.VideoReader) cannot open it as a '
                    'video: no decodable video stream (expected an mp4 / '
                    'avi / ... file or a folder of frames)')
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = float(cap.get(cv2.CAP_PROP_FPS))
        finally:
            cap.release()
        if count <= 0:
            raise ValueError(f'{path}: the video declares {count} frames; '
                             'expected at least 1')
        self.num_frames = count
        self.fps = fps if fps > 0 else None
        self._reader = mmcv.VideoReader(path)

    def __iter__(self) -> Iterator[np.ndarray]:
        reader = mmcv.VideoReader(self.path)  # its own decoding position
        while True:
            frame = reader.read()
            if frame is None:
                return
            yield frame

    def read_frames(self, indices: Sequence[int]) -> List[np.ndarray]:
        frames: Dict[int, np.ndarray] = {}
        for i in sorted(set(indices)):
            frame = self._reader.get_frame(i)
            if frame is None:
                raise ValueError(
                    f'{self.path}: cannot decode frame {i} (the video '
                    f'declares {self.num_frames} frames)')
            frames[i] = frame
        return [frames[i] for i in indices]


class FrameFolderSource(FrameSource):
    """A folder of image files, in natural file-name order."""

    def __init__(self, path: str) -> None:
        self.path = path
        names = sorted((n for n in os.listdir(path)
                        if n.lower().endswith(IMAGE_EXTS)),
                       key=_natural_key)
        if not names:
            raise ValueError(
                f'{path}: the folder holds no frames (no files ending in '
                f'{", ".join(IMAGE_EXTS)})')
        self.files = [osp.join(path, n) for n in names]
        self.num_frames = len(self.files)
        self.fps = None
        self._shape: Optional[Tuple[int, ...]] = None

    def _read(self, i: int) -> np.ndarray:
        file = self.files[i]
        frame = mmcv.imread(file, flag='color')
        if frame is None:
            raise ValueError(f'{file}: cannot be read as an image (frame {i} '
                             f'of folder {self.path})')
        if self._shape is None:
            self._shape = frame.shape
        elif frame.shape != self._shape:
            raise ValueError(
                f'{file}: frame {i} is {frame.shape[1]}x{frame.shape[0]} but '
                f'the frames of {self.path} start at {self._shape[1]}x'
                f'{self._shape[0]}; all frames of a video must share a size')
        return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.num_frames):
            yield self._read(i)

    def read_frames(self, indices: Sequence[int]) -> List[np.ndarray]:
        return [self._read(i) for i in indices]


def open_frames(path: str) -> FrameSource:
    """The frame source of ``path`` (a video file or a folder of frames).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Not a decodable video, zero frames, or an empty folder
            (the message names the file).
    """
    if osp.isdir(path):
        return FrameFolderSource(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such video file or frame folder')
    return VideoFileSource(path)


class StagedOutputs:
    """Outputs written under temporary names, renamed all at once.

    ``stage(path)`` gives the temporary path to write (same folder and
    extension, so OpenCV picks the same container); :meth:`commit` renames
    every staged file or folder to its final path, :meth:`abort` deletes
    them. Used as a context manager it aborts on an exception.
    """

    def __init__(self) -> None:
        self.staged: List[Tuple[str, str]] = []

    def stage(self, path: str, folder: bool = False) -> str:
        """A temporary path for ``path`` (a folder when ``folder``)."""
        parent = osp.dirname(osp.abspath(path))
        os.makedirs(parent, exist_ok=True)
        base = osp.basename(path.rstrip('/\\'))
        if folder:
            tmp = tempfile.mkdtemp(prefix=f'.{base}.', suffix='.tmp',
                                   dir=parent)
        else:
            ext = osp.splitext(base)[1]
            fd, tmp = tempfile.mkstemp(prefix=f'.{base}.', suffix=f'.tmp{ext}',
                                       dir=parent)
            os.close(fd)
        self.staged.append((tmp, path))
        return tmp

    def commit(self) -> None:
        """Move every staged output to its final path (with the permissions
        of a file created normally: mkstemp / mkdtemp make them private)."""
        umask = os.umask(0)
        os.umask(umask)
        for tmp, path in self.staged:
            os.chmod(tmp, (0o777 if osp.isdir(tmp) else 0o666) & ~umask)
            if osp.isdir(tmp) and osp.isdir(path):
                os.rmdir(path)  # only ever an empty folder (checked before)
            os.replace(tmp, path)
        self.staged = []

    def abort(self) -> None:
        """Delete every staged output."""
        for tmp, _ in self.staged:
            if osp.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            elif osp.exists(tmp):
                os.remove(tmp)
        self.staged = []

    def __enter__(self) -> 'StagedOutputs':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class FrameSink:
    """Annotated frames to an mp4 / avi file (OpenCV writer, streaming) or,
    when ``path`` has no extension, to a folder of lossless PNG frames
    (``000000.png``, ...).

    Args:
        path (str): The staged (temporary) path to write.
        fps (float): Frame rate of a video file.
        target (str): The final path, named in errors.
    """

    def __init__(self, path: str, fps: float, target: str) -> None:
        self.path, self.fps, self.target = path, fps, target
        self.folder = osp.isdir(path)
        self.writer = None
        self.size: Optional[Tuple[int, int]] = None
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR uint8 frame."""
        size = (frame.shape[1], frame.shape[0])
        if self.size is None:
            self.size = size
            if not self.folder:
                ext = osp.splitext(self.target)[1].lower()
                self.writer = cv2.VideoWriter(
                    self.path, cv2.VideoWriter_fourcc(*VIDEO_OUT_FOURCC[ext]),
                    self.fps, size)
                if not self.writer.isOpened():
                    raise RuntimeError(
                        f'{self.target}: OpenCV cannot write this video '
                        f'({VIDEO_OUT_FOURCC[ext]} codec, {size[0]}x'
                        f'{size[1]} at {self.fps} fps)')
        elif size != self.size:
            raise ValueError(f'{self.target}: frame {self.count} is '
                             f'{size[0]}x{size[1]}, the first was '
                             f'{self.size[0]}x{self.size[1]}')
        if self.folder:
            mmcv.imwrite(frame, osp.join(self.path, f'{self.count:06d}.png'))
        else:
            self.writer.write(np.ascontiguousarray(frame))
        self.count += 1

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None


class GifSink:
    """Annotated frames to an animated GIF (Pillow). Pillow writes a GIF in
    one go, so the (optionally downscaled) frames are kept until
    :meth:`save`: meant for short clips.

    Args:
        fps (float): Frame rate (GIF frame duration ``1000 / fps`` ms).
        scale (float): Resize factor of the GIF frames.
    """

    def __init__(self, fps: float, scale: float = 1.0) -> None:
        try:
            from PIL import Image  # noqa: F401
        except ImportError as e:  # pragma: no cover (Pillow comes with mmcv)
            raise ImportError('--gif needs Pillow: pip install pillow') from e
        self.fps, self.scale = fps, scale
        self.frames: list = []

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR uint8 frame."""
        from PIL import Image
        rgb = mmcv.bgr2rgb(frame)
        if self.scale != 1.0:
            rgb = mmcv.imrescale(rgb, self.scale)
        self.frames.append(Image.fromarray(rgb))

    def save(self, path: str) -> None:
        """Write the GIF (loops forever)."""
        first, *rest = self.frames
        first.save(path, format='GIF', save_all=True, append_images=rest,
                   duration=max(1, round(1000 / self.fps)), loop=0)
