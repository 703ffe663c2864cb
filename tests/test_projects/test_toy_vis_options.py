"""The toy VIS tool's --stpn-cfg-options reach the STPN model only, and its
workers get them on their command line."""
from mmstpn.projects.toy_vis import experiment as exp


def test_stpn_cfg_options_reach_the_stpn_model_only(tmp_path):
    args = exp.parse_args([
        '--model', 'minvis', '--out-dir', str(tmp_path), '--data-dir',
        str(tmp_path / 'data'), '--stpn-cfg-options',
        'model.type=PromptSupervisedMinVIS', 'model.prompt_loss_weight=20'
    ])
    stpn = exp.load_cfg('stpn', args, 10, 'stpn')
    base = exp.load_cfg('baseline', args, 10, 'baseline')
    assert stpn.model.type == 'PromptSupervisedMinVIS'
    assert stpn.model.prompt_loss_weight == 20
    assert base.model.type == 'MinVIS' and 'prompt_loss_weight' not in \
        base.model


def test_workers_get_the_stpn_cfg_options(tmp_path, monkeypatch):
    seen = []

    class Proc:
        stdout = iter(())
        returncode = 0

        def __init__(self, cmd, **kwargs):
            seen.append(cmd)
            out = cmd[cmd.index('--worker-out') + 1]
            with open(out, 'w') as f:
                f.write('{}')

        def wait(self):
            return 0

    monkeypatch.setattr(exp.subprocess, 'Popen', Proc)
    args = exp.parse_args([
        '--model', 'm2f', '--out-dir', str(tmp_path), '--stpn-cfg-options',
        'model.prompt_loss_weight=5'
    ])
    exp.spawn(args, ('baseline', 'stpn'))
    for cmd in seen:
        i = cmd.index('--stpn-cfg-options')
        assert cmd[i + 1] == 'model.prompt_loss_weight=5'


def test_table_rows_are_the_models_only():
    metrics = {'segm_mAP': 0.5, 'mask_AP_all': 0.4}
    results = dict(baseline=dict(metrics), stpn=dict(metrics, segm_mAP=0.6),
                   stpn_timings=dict(train_s=1.0), wall_s=3.0,
                   args=dict(model='m2f', seed=0),
                   environment=dict(cpu='x'))
    lines = exp.table(results)
    rows = [line.split('|')[1].strip() for line in lines[2:]]
    assert rows == ['baseline', 'stpn', 'stpn - baseline']
    assert '+10.0' in lines[-1]
