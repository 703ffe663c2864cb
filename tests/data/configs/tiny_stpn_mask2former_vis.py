# A tiny STPN Mask2FormerVideo for CPU model tests on the two-class fake VIS
# set (tests/test_models/test_trackers/fake_vis.py): the tiny toy config
# without the toy's key-frame corruption (the frames' markers must
# survive) and with that set's classes.
_base_ = ['./tiny_stpn_toy_mask2former_vis.py']

classes = ('person', 'giant_panda')
model = dict(
    track_head=dict(
        num_classes=len(classes),
        loss_cls=dict(class_weight=[1.0] * len(classes) + [0.1])))
train_pipeline = _base_.train_pipeline
assert train_pipeline[2]['type'] == 'RandomApply'
train_pipeline.pop(2)
train_dataloader = dict(
    dataset=dict(pipeline=train_pipeline, metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = val_dataloader
