# A tiny STPN MinVIS for CPU model tests on the two-class fake VIS set
# (tests/test_models/test_trackers/fake_vis.py): the tiny toy config
# without the toy's key-frame corruption and with that set's classes.
_base_ = ['./tiny_stpn_toy_minvis.py']

classes = ('person', 'giant_panda')
model = dict(
    detector=dict(
        panoptic_head=dict(
            num_things_classes=len(classes),
            loss_cls=dict(class_weight=[1.0] * len(classes) + [0.1])),
        panoptic_fusion_head=dict(num_things_classes=len(classes))))
train_pipeline = _base_.train_pipeline
assert train_pipeline[2]['type'] == 'RandomApply'
train_pipeline.pop(2)
train_dataloader = dict(
    dataset=dict(pipeline=train_pipeline, metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = val_dataloader
