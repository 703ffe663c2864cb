"""ImageNet VID (+ ImageNet DET still images) in the CocoVID format."""
from mmdet.registry import DATASETS

from .coco_vid import CocoVIDDataset

#: The 30 ImageNet VID classes, in the order of the VID devkit.
IMAGENET_VID_CLASSES = (
    'airplane', 'antelope', 'bear', 'bicycle', 'bird', 'bus', 'car',
    'cattle', 'dog', 'domestic_cat', 'elephant', 'fox', 'giant_panda',
    'hamster', 'horse', 'lion', 'lizard', 'monkey', 'motorcycle', 'rabbit',
    'red_panda', 'sheep', 'snake', 'squirrel', 'tiger', 'train', 'turtle',
    'watercraft', 'whale', 'zebra')

#: Their WordNet ids (``<name>`` of the ILSVRC XML files), same order.
IMAGENET_VID_WNIDS = (
    'n02691156', 'n02419796', 'n02131653', 'n02834778', 'n01503061',
    'n02924116', 'n02958343', 'n02402425', 'n02084071', 'n02121808',
    'n02503517', 'n02118333', 'n02510455', 'n02342885', 'n02374451',
    'n02129165', 'n01674464', 'n02484322', 'n03790512', 'n02324045',
    'n02509815', 'n02411705', 'n01726692', 'n02355227', 'n02129604',
    'n04468005', 'n01662784', 'n04530566', 'n02062744', 'n02391049')


@DATASETS.register_module()
class ImagenetVIDDataset(CocoVIDDataset):
    """ImageNet VID with its 30 classes.

    Training key frames are the images with ``is_vid_train_frame`` true (the
    15-frames-per-video list of FGFA / MMTracking) when the json has that
    key; support frames come from every frame of the video. ImageNet DET
    json files (images without ``video_id``, or ``load_as_video=False``)
    load as one-frame videos, so VID + DET train together with
    ``VideoConcatDataset`` + ``VideoFrameSampler``.

    Args:
        See :class:`CocoVIDDataset`.
    """

    METAINFO = dict(classes=IMAGENET_VID_CLASSES)
