# A tiny STPN OC-SORT for CPU tests: the tiny STPN ByteTrack's detector and
# data with mmdet's OCSORT model and OC-SORT tracker settings.
_base_ = ['./tiny_stpn_bytetrack.py']
model = dict(
    type='STPNOCSORT',
    tracker=dict(
        _delete_=True,
        type='OCSORTTracker',
        motion=dict(type='KalmanFilter'),
        obj_score_thr=0.3,
        init_track_thr=0.7,
        weight_iou_with_det_scores=True,
        match_iou_thr=0.3,
        num_tentatives=3,
        vel_consist_weight=0.2,
        vel_delta_t=3,
        num_frames_retain=30))
