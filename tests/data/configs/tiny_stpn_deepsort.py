# A tiny STPN DeepSORT for CPU tests: the tiny STPN ByteTrack's detector and
# test data with mmdet's DeepSORT model and SORT tracker (mmdet's settings,
# ReID crops scaled down). mmdet's own ReID (BaseReID) needs mmpretrain,
# which mmstpn does not depend on: the test registers a tiny ReID network
# ('TinyTestReID') with the interface the tracker uses.
_base_ = ['./tiny_stpn_bytetrack.py']
model = dict(
    _delete_=True,
    type='STPNDeepSORT',
    data_preprocessor=_base_.model.data_preprocessor,
    detector=_base_.model.detector,
    reid=dict(type='TinyTestReID'),
    tracker=dict(
        type='SORTTracker',
        motion=dict(type='KalmanFilter', center_only=False),
        obj_score_thr=0.01,
        reid=dict(
            num_samples=10,
            img_scale=(32, 16),
            img_norm_cfg=None,
            match_score_thr=2.0),
        match_iou_thr=0.5,
        momentums=None,
        num_tentatives=2,
        num_frames_retain=100))
