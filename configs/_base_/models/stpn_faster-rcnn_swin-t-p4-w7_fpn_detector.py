# The STPN Faster R-CNN (STPNSwin-T + attention predictor, FPN; the released
# VID detector) as `stpn_detector`, for models that hold a detector
# (ByteTrack): `model` of the base is removed, as mmdet's MOT configs do.
_base_ = ['./stpn_faster-rcnn_swin-t-p4-w7_fpn.py']

stpn_detector = _base_.model
stpn_detector.pop('data_preprocessor')
del _base_.model
