"""mmcv's ``LoadImageFromFile`` whose failures name the file."""
import os.path as osp
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module(name='LoadImageFromFile')
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile``, registered under the same name in
    mmdet's registry (as mmdet does with mmcv's ``Resize``), so that configs
    with ``type='LoadImageFromFile'`` get it.

    Loading is mmcv's, unchanged. A file that cannot be read or decoded
    (0 bytes, truncated, not an image: OpenCV's bare ``cv2.error`` or a
    ``None`` image) raises a ``ValueError`` naming the file and, when the
    results carry them, the video and the frame; a missing file keeps the
    backend's ``FileNotFoundError`` (which names it). ``ignore_empty=True``
    still returns None.

    Args:
        See :class:`mmcv.transforms.LoadImageFromFile`.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']`` (see the class docstring).

        Args:
            results (dict): With ``img_path``.

        Returns:
            dict | None: ``results`` with ``img``, ``img_shape`` and
            ``ori_shape``; None for an unreadable file with
            ``ignore_empty``.
        """
        path = results['img_path']
        try:
            out = super().transform(results)
        except FileNotFoundError:
            raise
        except Exception as err:
            raise ValueError(f'{path}{self._where(results)} '
                             f'{self._what(path)} ({type(err).__name__}: '
                             f'{str(err).strip()})') from err
        return out

    @staticmethod
    def _where(results: dict) -> str:
        video = results.get('video_id', results.get('video_name'))
        frame = results.get('frame_id')
        parts = ([f'video {video!r}'] if video is not None else []) + (
            [f'frame {frame}'] if frame is not None else [])
        return f' ({", ".join(parts)})' if parts else ''

    @staticmethod
    def _what(path: str) -> str:
        if osp.isfile(path) and osp.getsize(path) == 0:
            return 'is empty (0 bytes)'
        return 'cannot be decoded as an image (truncated or not an image?)'
