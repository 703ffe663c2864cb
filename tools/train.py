"""Train a detector with mmstpn (MMDetection 3.3 command line).

Examples::

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]]
    bash tools/dist_train.sh CONFIG 8 [--amp ...]
"""
import argparse


from mmdet.utils import setup_cache_size_limit_of_dynamo

import mmstpn  # noqa: F401  (registers modules, checkpoint globals)
from mmstpn.utils import launch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (AmpOptimWrapper, dynamic scale)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the LR by total batch size / auto_scale_lr.'
        'base_batch_size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or, without a path, from the latest '
        'checkpoint in the work dir')
    launch.add_common_args(parser)
    return launch.finalize_args(parser.parse_args(argv))


def main(argv=None):
    args = parse_args(argv)
    setup_cache_size_limit_of_dynamo()
    cfg = launch.load_config(args)
    launch.setup_distributed(args.launcher, cfg)
    runner = launch.build_runner(cfg)
    runner.train()
    launch.teardown_distributed(runner)


if __name__ == '__main__':
    main()
