"""Test (and evaluate) a detector with mmstpn (MMDetection 3.3 command line).

Examples::

    python tools/test.py CONFIG CKPT [--out results.pkl] [--show-dir vis]
    bash tools/dist_test.sh CONFIG CKPT 8 [--tta ...]
"""
import argparse


from mmdet.datasets import BaseVideoDataset
from mmdet.evaluation import DumpDetResults
from mmdet.utils import setup_cache_size_limit_of_dynamo

import mmstpn  # noqa: F401  (registers modules, checkpoint globals)
from mmstpn.evaluation import DumpVideoDetResults
from mmstpn.utils import launch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='where the log and the metrics json go')
    parser.add_argument(
        '--out', help='also dump the raw predictions to this .pkl file')
    parser.add_argument(
        '--show', action='store_true', help='show the predictions')
    parser.add_argument(
        '--show-dir',
        help='save painted images to WORK_DIR/TIMESTAMP/SHOW_DIR')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per --show image')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    launch.add_common_args(parser)
    args = launch.finalize_args(parser.parse_args(argv))
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error('--out must be a .pkl or .pickle file')
    return args


def main(argv=None):
    args = parse_args(argv)
    setup_cache_size_limit_of_dynamo()
    cfg = launch.load_config(args)
    launch.setup_distributed(args.launcher, cfg)
    runner = launch.build_runner(cfg)
    if args.out is not None:
        # a video dataset's length counts videos: DumpDetResults would cut
        # the frames' results there
        video = isinstance(runner.test_dataloader.dataset, BaseVideoDataset)
        dump = DumpVideoDetResults if video else DumpDetResults
        runner.test_evaluator.metrics.append(dump(out_file_path=args.out))
    runner.test()
    launch.teardown_distributed(runner)


if __name__ == '__main__':
    main()
