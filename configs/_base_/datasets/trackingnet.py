# TrackingNet in its published layout (data/TrackingNet/{TRAIN_0..TRAIN_11,
# TEST}/{anno,frames}), read directly by TrackingNetDataset (no converter).
# Test: the TEST chunk carries frame 0's box only; GOT10kMetric(protocol=
# 'ope', result_format='trackingnet', format_only=True) writes one
# <seq>.txt per sequence (x,y,w,h per frame) and zips them into
# <outfile_prefix>.zip, the file to upload to the evaluation server.
# Training items: the SOT pipeline of got10k.py on the TRAIN chunks.
# TrackingNet has no val split: got10k.py's val loader is removed.
_base_ = ['./got10k.py']
dataset_type = 'TrackingNetDataset'
data_root = 'data/TrackingNet/'
train_chunks = tuple(f'TRAIN_{i}' for i in range(12))

sot_train_dataset = dict(
    _delete_=True,
    type=dataset_type,
    data_root=data_root,
    chunks=train_chunks,
    filter_cfg=dict(min_visible=2),
    pipeline={{_base_.sot_train_pipeline}})
val_dataloader = None
val_evaluator = None
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        chunks=('TEST', ),
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
test_evaluator = dict(
    _delete_=True,
    type='GOT10kMetric',
    protocol='ope',
    result_format='trackingnet',
    format_only=True,
    outfile_prefix='work_dirs/trackingnet_test_submission')
