"""What the dataset converters in ``tools/dataset_converters/`` share
(ILSVRC XML parsing, running mmdet's own converters). Not imported by
:mod:`mmstpn.datasets`: only the converters need it."""
