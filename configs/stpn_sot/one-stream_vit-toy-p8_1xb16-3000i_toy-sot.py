# Baseline of the toy tracking experiment: the same one-stream tracker
# without prompts (num_prompts=0: no predictor, no support pass). The
# pipeline is kept as it is (the support crops are loaded and ignored), so
# that with one seed both trackers see exactly the same template / search
# items.
_base_ = ['./stpn_one-stream_vit-toy-p8_1xb16-3000i_toy-sot.py']
# the plain tracker (no prompt loss either)
model = dict(type='OneStreamTracker', backbone=dict(num_prompts=0))
