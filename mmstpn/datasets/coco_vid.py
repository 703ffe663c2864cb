"""CocoVID (MMTracking's video annotation format) as an mmdet video dataset."""
import os.path as osp
import random
from collections import Counter
from typing import Any, Dict, List, Sequence, Tuple, Union

from mmdet.datasets import BaseVideoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from .annotation_rules import (IGNORED, NOT_GT, box_kinds,
                               check_cocovid_layout, check_frame_ids,
                               load_json)

Index = Union[int, Tuple[int, int]]


@DATASETS.register_module()
class CocoVIDDataset(BaseVideoDataset):
    """Video dataset read from a CocoVID json (MMTracking's format).

    The json holds ``videos``, ``images`` (with ``video_id`` and
    ``frame_id``), ``annotations`` (with ``instance_id``) and ``categories``.
    Each element of the dataset is one video::

        dict(video_id, video_length, images=[frame info, ...],
             key_frame_inds=[...])

    ``images`` holds EVERY frame of the video, sorted by ``frame_id``; each
    frame gets ``frame_index`` (its position, 0..video_length-1), which is
    what frame sampling counts in and what the backbone cache keys on.
    ``key_frame_inds`` lists the positions that may be key frames: in test
    mode all of them; in training the frames that pass ``filter_cfg`` and,
    when the image carries ``is_vid_train_frame``, only those with it true.
    Support frames may still come from any frame of the video.

    Images without a ``video_id`` (or every image when
    ``load_as_video=False``, e.g. ImageNet DET) become one-frame videos with
    ``frame_id=0`` and a new ``video_id`` above the largest one in the file.

    Indexing: ``dataset[(video_idx, i)]`` runs the pipeline on the whole
    video with ``key_frame_id = key_frame_inds[i]`` (what ``TrackImgSampler``
    yields); ``dataset[video_idx]`` picks a random key frame (training only).

    Ground truth follows :mod:`mmstpn.datasets.annotation_rules` (the rule
    :class:`~mmstpn.evaluation.VIDMetric` applies too): boxes with NaN / inf
    coordinates, of a ``category_id`` missing from ``categories`` or of an
    image without size are errors; boxes below 1 pixel, outside their
    image, of ``drop_category_ids`` or of classes not chosen are left out
    of ``instances``; ``iscrowd`` / ``ignore`` boxes get ``ignore_flag=1``;
    each count is logged. ``frame_id`` must be an int (frames are ordered by
    its value). A file that is empty, not json, or whose frames are all
    filtered out in training is an error naming it.

    Args:
        load_as_video (bool): False: every image is a one-frame video.
            Defaults to True.
        drop_category_ids (Sequence[int]): Category ids whose boxes are
            dropped (counted), e.g. ids that the file uses without listing
            them in ``categories``. Defaults to ().
        *args, **kwargs: See :class:`mmdet.datasets.BaseVideoDataset`.
            ``metainfo=dict(classes=...)`` selects and orders the classes
            (labels follow that order); without it all categories of the
            file are used, in category id order. ``filter_cfg`` keys:
            ``filter_empty_gt`` (default True) and ``min_size`` (default 32),
            as in mmdet.
    """

    METAINFO: dict = dict()

    def __init__(self,
                 *args,
                 load_as_video: bool = True,
                 drop_category_ids: Sequence[int] = (),
                 **kwargs) -> None:
        self.load_as_video = load_as_video
        self.drop_category_ids = tuple(drop_category_ids)
        super().__init__(*args, **kwargs)

    # --------------------------------------------------------------- loading
    def load_data_list(self) -> List[dict]:
        """Load, check and group the annotation file into videos.

        Returns:
            list[dict]: One dict per video (see the class docstring).
        """
        raw = load_json(self.ann_file, self.backend_args)
        check_cocovid_layout(raw, self.ann_file)
        if not raw['images']:
            raise ValueError(f'{self.ann_file}: "images" is empty')
        self._check_ids(raw)
        coco = COCO()
        coco.dataset = raw
        self._set_classes(coco)
        kinds, _ = box_kinds(raw, self.ann_file, self.cat_ids,
                             self.drop_category_ids)
        coco.createIndex()
        anns = raw.get('annotations') or []
        self._ann_kinds = {a['id']: k for a, k in zip(anns, kinds.tolist())}

        videos: Dict[Any, List[dict]] = {}
        real_ids = [v['id'] for v in coco.dataset.get('videos', [])]
        next_video_id = max([i for i in real_ids if isinstance(i, int)],
                            default=0) + 1
        for img_id in coco.get_img_ids():
            img = dict(coco.imgs[img_id], img_id=img_id)
            video_id = img.get('video_id') if self.load_as_video else None
            if video_id is None:
                video_id, next_video_id = next_video_id, next_video_id + 1
                img.update(video_id=video_id, frame_id=0)
            ann_ids = coco.get_ann_ids(img_ids=[img_id])
            info = self.parse_data_info(
                dict(raw_img_info=img, raw_ann_info=coco.load_anns(ann_ids)))
            videos.setdefault(video_id, []).append(info)

        data_list = []
        for video_id, frames in videos.items():
            frames.sort(key=lambda f: f['frame_id'])
            for index, frame in enumerate(frames):
                frame['frame_index'] = index
            data_list.append(
                dict(
                    video_id=video_id,
                    video_length=len(frames),
                    images=frames))
        del self._ann_kinds
        return data_list

    def _check_ids(self, raw: dict) -> None:
        """Raise a ValueError naming the file and the id for broken links
        and for non-int ``frame_id`` s."""
        src = self.ann_file
        images = raw['images']
        missing = [i for i, img in enumerate(images) if 'id' not in img]
        if missing:
            raise ValueError(f'{src}: images[{missing[0]}] has no "id"')
        dup = [k for k, c in Counter(i['id'] for i in images).items() if c > 1]
        if dup:
            raise ValueError(f'{src}: duplicate image id {dup[0]}')
        img_ids = {img['id'] for img in images}
        ann_ids = set()
        for n, ann in enumerate(raw.get('annotations') or []):
            if 'id' not in ann or 'image_id' not in ann:
                key = 'id' if 'id' not in ann else 'image_id'
                raise ValueError(f'{src}: annotations[{n}] (id '
                                 f'{ann.get("id")}) has no "{key}"')
            if ann['image_id'] not in img_ids:
                raise ValueError(
                    f'{src}: annotation id {ann.get("id")} refers to image '
                    f'id {ann["image_id"]}, which is not in "images"')
            if ann['id'] in ann_ids:
                raise ValueError(f'{src}: duplicate annotation id {ann["id"]}')
            ann_ids.add(ann['id'])
        check_frame_ids(images, src)
        if not self.load_as_video:
            return
        video_ids = {v.get('id') for v in raw.get('videos', [])}
        seen: Dict[Tuple[Any, Any], Any] = {}
        for img in images:
            vid = img.get('video_id')
            if vid is None:
                continue
            if vid not in video_ids:
                raise ValueError(
                    f'{src}: image id {img["id"]} has video_id {vid}, which '
                    'is not in "videos"')
            if 'frame_id' not in img:
                raise ValueError(f'{src}: image id {img["id"]} of video '
                                 f'{vid} has no frame_id')
            key = (vid, img['frame_id'])
            if key in seen:
                raise ValueError(
                    f'{src}: video {vid} has frame_id {img["frame_id"]} '
                    f'twice (image ids {seen[key]} and {img["id"]})')
            seen[key] = img['id']

    def _set_classes(self, coco: COCO) -> None:
        """Resolve the classes and the category-id -> label map."""
        classes = self._metainfo.get('classes')
        cats = sorted(coco.dataset.get('categories', []),
                      key=lambda c: c['id'])
        if classes is None:
            classes = tuple(c['name'] for c in cats)
            self._metainfo['classes'] = classes
        classes = list(classes)
        self.cat2label = {
            c['id']: classes.index(c['name'])
            for c in cats if c['name'] in classes
        }
        self.cat_ids = list(self.cat2label)
        missing = set(classes) - {c['name'] for c in cats}
        if missing:
            print_log(
                f'{self.ann_file}: classes {sorted(missing)} have no '
                'category in the file', 'current')

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Turn one raw image and its annotations into a frame info.

        Unlike mmdet's, keeps ``instance_id`` 0 as is and the ``occluded`` /
        ``generated`` flags of ImageNet VID annotations. Which annotations
        become instances, and which get ``ignore_flag=1``, follows
        :func:`~mmstpn.datasets.annotation_rules.box_kinds` (computed for
        the whole file in :meth:`load_data_list`).

        Args:
            raw_data_info (dict): ``raw_img_info`` and ``raw_ann_info``.

        Returns:
            dict: The image fields, ``img_path`` and ``instances``.
        """
        img = raw_data_info['raw_img_info']
        info = dict(img)
        prefix = self.data_prefix.get('img_path')
        info['img_path'] = osp.join(prefix, img['file_name']) \
            if prefix else img['file_name']
        instances = []
        for i, ann in enumerate(raw_data_info['raw_ann_info']):
            kind = self._ann_kinds[ann['id']]
            if kind in NOT_GT:
                continue
            x1, y1, w, h = ann['bbox']
            instance = dict(
                bbox=[x1, y1, x1 + w, y1 + h],
                bbox_label=self.cat2label[ann['category_id']],
                ignore_flag=int(kind == IGNORED),
                instance_id=ann['instance_id']
                if ann.get('instance_id') is not None else i)
            if ann.get('segmentation'):
                instance['mask'] = ann['segmentation']
            for flag in ('occluded', 'generated'):
                if flag in ann:
                    instance[flag] = ann[flag]
            instances.append(instance)
        info['instances'] = instances
        return info

    def filter_data(self) -> List[dict]:
        """Choose each video's key frames; drop videos without any.

        Returns:
            list[dict]: The kept videos, ``images`` untouched.
        """
        if self.test_mode:
            for video in self.data_list:
                video['key_frame_inds'] = list(range(video['video_length']))
            return self.data_list
        cfg = self.filter_cfg or {}
        filter_empty = cfg.get('filter_empty_gt', True)
        min_size = cfg.get('min_size', 32)
        kept, num_before, num_after = [], 0, 0
        for video in self.data_list:
            video['key_frame_inds'] = [
                f['frame_index'] for f in video['images']
                if f.get('is_vid_train_frame', True) and (
                    not filter_empty or f['instances'])
                and min(f['width'], f['height']) >= min_size
            ]
            num_before += video['video_length']
            num_after += len(video['key_frame_inds'])
            if video['key_frame_inds']:
                kept.append(video)
        print_log(
            f'{self.ann_file}: key frames before / after filtering: '
            f'{num_before} / {num_after} ({len(kept)} videos)', 'current')
        if not kept:
            num_gt = sum(
                bool(f['instances']) for v in self.data_list
                for f in v['images'])
            raise ValueError(
                f'{self.ann_file}: no training key frame left after '
                f'filtering ({num_before} frames, {num_gt} with ground-truth '
                f'boxes; filter_cfg: filter_empty_gt={filter_empty}, '
                f'min_size={min_size}; is_vid_train_frame and the box kinds '
                'logged above also count)')
        return kept

    # ------------------------------------------------------------- indexing
    def get_len_per_video(self, idx: int) -> int:
        """Number of key frames of a video (all frames at test).

        Args:
            idx (int): The video.

        Returns:
            int: ``len(key_frame_inds)``.
        """
        return len(self.get_data_info(idx)['key_frame_inds'])

    def get_cat_ids(self, index: Index) -> List[int]:
        """Labels of one key frame or of a whole video.

        Args:
            index (int | tuple[int, int]): ``(video_idx, i)``: the i-th key
                frame; ``video_idx``: the video (mmengine's rule).

        Returns:
            list[int]: The ``bbox_label`` of each instance.
        """
        if isinstance(index, tuple):
            video = self.get_data_info(index[0])
            frame = video['images'][video['key_frame_inds'][index[1]]]
            return [inst['bbox_label'] for inst in frame['instances']]
        return super().get_cat_ids(index)

    def prepare_data(self, idx: Index) -> Any:
        """Run the pipeline on the whole video with ``key_frame_id`` set.

        Args:
            idx (int | tuple[int, int]): ``(video_idx, i)``: the i-th key
                frame of the video; ``video_idx``: a random key frame
                (training only).

        Returns:
            Any: What the pipeline returns.
        """
        video_idx, key_idx = idx if isinstance(idx, tuple) else (idx, None)
        video = self.get_data_info(video_idx)
        if key_idx is None:
            if self.test_mode:
                raise ValueError(
                    f'{type(self).__name__} ({self.ann_file}) in test mode '
                    'needs (video_idx, frame_idx) indices: use '
                    "sampler=dict(type='TrackImgSampler')")
            video['key_frame_id'] = random.choice(video['key_frame_inds'])
        else:
            video['key_frame_id'] = video['key_frame_inds'][key_idx]
        return self.pipeline(video)
