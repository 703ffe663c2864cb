# mmdet's default runtime plus mmstpn's reliability default: training stops
# at the first NaN / inf loss with an error naming the iteration and the
# items of the batch (docs/reliability_checkpoints.md).
_base_ = ['mmdet::_base_/default_runtime.py']

default_hooks = dict(non_finite_loss=dict(type='NonFiniteLossHook'))
