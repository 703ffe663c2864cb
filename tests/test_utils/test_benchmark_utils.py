"""Tests of tools/analysis_tools/benchmark.py,
mmstpn/utils/benchmark_utils and of mmstpn/utils/benchmark.py (the
reusable measurement helpers).

Timing, ratio, percentile, FLOP and memory logic on toy inputs / tiny
models, and one smoke run of the command line. Nothing here asserts on a
measured time (the machine is shared and noisy).
"""
import json
import math
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mmstpn.models.layers import windowed_attention_with_prompts
from mmstpn.structures import SupportPolicy
from mmstpn.utils import benchmark as stats
from mmstpn.utils.benchmark import (PeakMemory, Timer, alternating,
                                    count_flops, sdpa_flops, tensor_bytes)
from mmstpn.utils.benchmark_utils import estimators
from mmstpn.utils.benchmark_utils import (BenchSettings, FrameStream,
                                          SyntheticVideo, compute_ratios,
                                          count_params, format_report,
                                          measure_flops, offline_plans,
                                          share_weights, support_indices,
                                          uses_prompts)
from tests.test_tools.tool_helpers import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark.py')
TINY = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_stpn_faster_rcnn.py')


def _load_tool():
    return load_tool('analysis_tools/benchmark.py')


@pytest.fixture(scope='module')
def tiny_pair():
    tool = _load_tool()
    main = tool.build_detector(tool.load_config(TINY))
    base = tool.build_detector(tool.load_config(TINY, no_prompts=True))
    share_weights(main, base)
    return main, base


# ------------------------------------------------------------------ stats
@pytest.mark.parametrize('q', [0, 10, 25, 50, 75, 90, 100])
def test_percentile_matches_numpy(q):
    values = [5.0, 1.0, 3.0, 2.5, 9.0, 7.0, 4.0]
    assert stats.percentile(values, q) == pytest.approx(
        np.percentile(values, q))


def test_summarize_fields():
    s = stats.summarize([1, 2, 3, 4, 100])
    assert s['median'] == 3 and s['n'] == 5
    assert s['iqr'] == pytest.approx(s['q3'] - s['q1'])
    assert s['p10'] <= s['median'] <= s['p90']
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_offline_latency_amortises_frame_zero():
    # frame 0 (support passes + predictor) costs 15, later frames 1
    times = [15.] + [1.] * 9
    assert estimators.offline_latency(times, 10) == pytest.approx(24 / 10)
    # equals the plain mean over a fully measured video
    assert estimators.offline_latency(times, 10) == pytest.approx(
        sum(times) / len(times))
    # extrapolated to a longer video; robust to one slow later frame
    assert estimators.offline_latency(times + [50.], 317) == pytest.approx(
        (15 + 316) / 317)
    assert estimators.amortized_latency(2., 1., 1) == 2.


def test_phase_latency():
    # period 4: grid frames cost 3, the others 2; one outlier ignored
    times = [3., 2., 2., 2.] * 3 + [30.]
    assert estimators.phase_latency(times, 4) == pytest.approx(9 / 4)
    assert estimators.phase_latency([1., 2.], 4) == pytest.approx(1.5)


def test_ratio_and_goals():
    assert stats.ratio(3., 2.) == 1.5
    assert stats.ratio(1., 0.) is None and stats.ratio(None, 1.) is None
    assert stats.paired_ratios([2., 3.], [1., 2.]) == [2., 1.5]
    goals = {
        g['key']: g
        for g in estimators.check_goals({
            'offline_latency@317': 1.05,
            'online_latency': 1.4,
            'train_step_time': None
        })
    }
    assert goals['offline_latency@317']['status'] == 'PASS'
    assert goals['online_latency']['status'] == 'FAIL'
    assert goals['train_step_time']['status'] == 'n/a'
    assert goals['train_peak_memory']['status'] == 'n/a'


def test_alternating_order():
    assert alternating(['a', 'b'], 0) == ['a', 'b']
    assert alternating(['a', 'b'], 1) == ['b', 'a']
    assert alternating(['a', 'b', 'c'], 4) == ['b', 'c', 'a']
    assert alternating([], 3) == []


def test_timer_and_offline_plans():
    with Timer('cpu') as t:
        sum(range(1000))
    assert t.elapsed >= 0
    assert offline_plans([317, 30, 100], None) == {
        30: [30], 100: [100], 317: [317]}
    assert offline_plans([317, 30, 100], 40) == {30: [30], 40: [100, 317]}


def test_compute_ratios():
    def fake(scale, pred):
        lat = dict(per_frame_s=scale, per_repeat_s=[scale, 1.1 * scale])
        return dict(
            params=dict(total=10 * scale, backbone=5 * scale,
                        predictor=pred),
            latency=dict(offline={'317': lat}, online={'100': lat}),
            flops=dict(
                offline=dict(per_frame={'317': 4 * scale}),
                online=dict(per_frame={'100': 2 * scale})),
            memory=dict(offline=dict(peak_bytes=8 * scale)),
            train=dict(step_s=scale, memory=dict(peak_bytes=scale)))

    r, spread = compute_ratios(fake(1.2, 5), fake(1., 0))
    for key in ('offline_latency@317', 'online_latency', 'params_total',
                'offline_flops@317', 'online_flops', 'train_step_time',
                'train_peak_memory'):
        assert r[key] == pytest.approx(1.2), key
    assert r['params_predictor'] is None
    assert spread['online_latency']['min'] == pytest.approx(1.2)


# ------------------------------------------------------------------ FLOPs
class _Attention(nn.Module):

    def forward(self, q, k, v, mask=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@pytest.mark.parametrize('with_mask', [False, True])
def test_sdpa_flops_match_hand_formula(with_mask):
    b, h, lq, lk, d = 2, 3, 5, 7, 8
    q, k, v = torch.randn(b, h, lq, d), torch.randn(b, h, lk, d), \
        torch.randn(b, h, lk, d)
    inputs = (q, k, v) + ((torch.zeros(lq, lk), ) if with_mask else ())
    counted = count_flops(_Attention(), inputs)['by_operator']
    # mmengine convention: 1 FMA = 1 flop, i.e. half of 4*B*H*Lq*Lk*d
    assert counted['sdpa_matmul'] == 4 * b * h * lq * lk * d // 2
    assert counted['sdpa_softmax_mask'] == b * h * lq * lk * (
        1 + int(with_mask))
    assert counted == sdpa_flops(b, h, lq, lk, d, with_mask=with_mask)
    # torch's own counter (2 flops per FMA) on the explicit math gives
    # the textbook 4*B*H*Lq*Lk*d
    with FlopCounterMode(display=False) as fc:
        ((q @ k.transpose(-2, -1)) * d**-0.5).softmax(-1) @ v
    assert fc.get_total_flops() == 4 * b * h * lq * lk * d
    assert fc.get_total_flops() == 2 * counted['sdpa_matmul']


def test_sdpa_flops_with_window_batch_dims():
    """5-D (B, nW, heads, L, hd) SDPA with a bias broadcast over B."""
    b, nw, heads, length, hd = 2, 6, 3, 54, 8
    q, k, v = (torch.randn(b, nw, heads, length, hd) for _ in range(3))
    bias = torch.zeros(nw, heads, length, length)
    counted = count_flops(_Attention(), (q, k, v, bias))['by_operator']
    assert counted == sdpa_flops(
        b * nw, heads, length, length, hd, with_mask=True)


def test_prompted_window_attention_flops_match_hand_formula():
    """STPN's windowed attention with prompts, whatever its implementation
    (SDPA or explicit matmuls): every window attends over 49 + P tokens, so
    its two attention matmuls cost B*nW*heads*(Lw+P)^2*hd each."""
    b, nw, lw, p, heads, c = 2, 6, 49, 5, 3, 24

    class Win(nn.Module):

        def forward(self, qkv_w, qkv_p, bias):
            return windowed_attention_with_prompts(qkv_w, qkv_p, heads, 0.5,
                                                   bias)

    inputs = (torch.randn(b, nw, lw, 3 * c), torch.randn(b, p, 3 * c),
              torch.zeros(1, heads, lw + p, lw + p))
    ops = count_flops(Win(), inputs)['by_operator']
    attention = ops.get('matmul', 0) + ops.get('sdpa_matmul', 0)
    assert attention == 2 * b * nw * heads * (lw + p)**2 * (c // heads)


def test_matmul_flops_count_broadcasting():
    """One query set against the keys of every window: (B, 1, h, P, d) @
    (B, nW, h, d, L) makes nW * P * L dot products per head."""

    class Mm(nn.Module):

        def forward(self, a, b):
            return a @ b

    a, b = torch.randn(2, 1, 3, 5, 8), torch.randn(2, 6, 3, 8, 54)
    assert count_flops(Mm(), (a, b))['total'] == 2 * 6 * 3 * 5 * 54 * 8
    a, b = torch.randn(4, 7), torch.randn(7)
    assert count_flops(Mm(), (a, b))['total'] == 4 * 7


def test_elementwise_and_default_ops_counted():

    class Toy(nn.Module):

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)
            self.norm = nn.LayerNorm(4)

        def forward(self, x):
            y = self.fc(x)
            return self.norm(y + y * 2).softmax(-1)

    res = count_flops(Toy(), (torch.randn(3, 8), ))
    ops = res['by_operator']
    assert ops['linear'] == 3 * 8 * 4
    assert ops['add'] == 12 and ops['mul'] == 12 and ops['softmax'] == 12
    assert ops['layer_norm'] == 5 * 12  # mmengine's default
    assert res['total'] == sum(ops.values())


# ------------------------------------------------------------ memory
def test_peak_memory_cpu_sees_torch_allocations():
    with PeakMemory('cpu') as mem:
        x = torch.ones(16 * 2**20 // 4)  # 16 MiB, touched
        del x
    if mem.peak_bytes is None:
        pytest.skip(mem.reason)
    assert mem.peak_bytes >= 8 * 2**20
    t = torch.zeros(10)
    assert tensor_bytes([t, t, t[:5]]) == 40  # shared storage once


# ----------------------------------------------------- streams and models
def test_support_indices_and_video():
    assert support_indices(317, 14)[0] == 0
    assert support_indices(317, 14)[-1] == 316
    assert len(support_indices(30, 14)) == 14
    assert support_indices(5, 1) == [0]
    video = SyntheticVideo((40, 50), 32)
    assert video.pad_size == (64, 64)
    assert video.frame(3).shape == (3, 64, 64)
    assert not torch.equal(video.frame(0), video.frame(1))
    sample = video.data_sample('v', 2)
    assert sample.metainfo['img_shape'] == (40, 50)
    assert sample.metainfo['batch_input_shape'] == (64, 64)


def test_frame_streams(tiny_pair):
    main, base = tiny_pair
    assert uses_prompts(main) and not uses_prompts(base)
    video = SyntheticVideo((64, 96), 32)
    off = FrameStream(main, video, 'offline', 20, 3, 2, 'v')
    x0, s0 = off.inputs(0)
    assert x0.frames.shape == (1, 4, 3, 64, 96)
    assert x0.metas[0].num_support == 3
    assert main.backbone.test_support == SupportPolicy('offline', 3, 2)
    x1, _ = off.inputs(1)
    assert x1.frames.shape == (1, 1, 3, 64, 96)
    assert x1.metas[0].num_support == 0
    on = FrameStream(main, video, 'online', 20, 3, 2, 'w')
    meta = on.inputs(5)[0].metas[0]
    assert (meta.video_key, meta.frame_id, meta.num_support) == ('w', 5, 0)
    assert main.backbone.test_support == SupportPolicy('online', 3, 2)
    xb, _ = FrameStream(base, video, 'offline', 20, 3, 2, 'v').inputs(0)
    assert isinstance(xb, torch.Tensor) and xb.shape == (1, 3, 64, 96)
    p_main, p_base = count_params(main), count_params(base)
    assert p_main['predictor'] > 0 and p_base['predictor'] == 0
    assert p_main['total'] - p_main['predictor'] == p_base['total']


def test_measure_flops_modes(tiny_pair):
    main, base = tiny_pair
    video = SyntheticVideo((64, 96), 32)
    s = BenchSettings(
        img_size=(64, 96), video_lengths=(3, 30), online_length=12,
        num_support=2, stride=2)
    fm, fb = measure_flops(main, video, s), measure_flops(base, video, s)
    first = fm['offline']['frames']['first']['total']
    later = fm['offline']['frames']['later']['total']
    one = fb['offline']['frames']['every']['total']
    # frame 0 also runs K=2 unprompted (stock) backbone passes (they skip
    # the output norms of stages 0-2) and the predictor
    stock_backbone = fb['offline']['frames']['every']['by_module']['backbone']
    assert 1.95 * stock_backbone < first - later < 2.05 * stock_backbone
    assert fm['offline']['per_frame']['3'] == pytest.approx(
        (first + 2 * later) / 3)
    assert fm['offline']['per_frame']['30'] < fm['offline']['per_frame']['3']
    # the online grid frame's own unprompted pass is counted (it is only
    # used by later frames: a jit trace would drop it as dead code)
    grid = fm['online']['frames']['grid']['total']
    other = fm['online']['frames']['other']['total']
    assert grid - other > 0.2 * one
    assert fm['online']['frames']['grid']['by_module'][
        'backbone.prompt_generator'] > 0
    # attention is counted in both (explicit q @ k^T and attn @ v are
    # mmengine's matmul, F.scaled_dot_product_attention our sdpa_matmul):
    # the baseline (mmdet's stock Swin) attends over 49 tokens per 7x7
    # window, the prompted pass over 49 + 5. Tiny Swin on 64x96: windows per
    # stage 12, 4, 1, 1; heads 1, 1, 2, 2; head dims 16, 32, 32, 64 ->
    # sum(windows * heads * head_dim) = 512.
    per_token_pair = 2 * 512

    def attention(ops):
        return ops.get('matmul', 0) + ops.get('sdpa_matmul', 0)

    stock = fb['offline']['frames']['every']['by_operator']
    prompted = fm['offline']['frames']['later']['by_operator']
    assert attention(stock) == 49 * 49 * per_token_pair
    assert attention(prompted) == 54 * 54 * per_token_pair
    assert 1. < later / one < 1.2
    assert fb['online']['per_frame']['12'] == one


# ------------------------------------------------------------ command line
def test_tool_config_helpers():
    tool = _load_tool()
    cfg = tool.load_config(TINY, no_prompts=True)
    assert cfg.model.backbone.num_prompts == 0
    nested = dict(a=dict(init_cfg=dict(type='Pretrained')),
                  b=[dict(pretrained='x')])
    tool.strip_init(nested)
    assert nested['a']['init_cfg'] is None and nested['b'][0][
        'pretrained'] is None
    assert tool.pad_divisor(Config(dict(model=dict()))) == 32


def test_cli_smoke(tmp_path):
    out = tmp_path / 'bench.json'
    cmd = [
        sys.executable, TOOL, TINY, '--baseline-from-config', '--img-size',
        '64', '96', '--video-lengths', '3', '--online-length', '3',
        '--num-support', '2', '--stride', '2', '--warmup', '1', '--repeats',
        '1', '--train-step', '--train-steps', '1', '--threads', '1',
        '--json',
        str(out)
    ]
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'ms/frame' in proc.stdout and 'goals' in proc.stdout
    res = json.loads(out.read_text())
    ratios = res['ratios']
    for key in ('offline_latency@3', 'online_latency', 'offline_flops@3',
                'online_flops', 'params_total', 'offline_peak_memory',
                'train_step_time', 'train_peak_memory',
                'backbone_operator_calls'):
        value = ratios[key]
        assert isinstance(value, float) and value > 0 and \
            math.isfinite(value), key
    assert {g['status'] for g in res['goals']} <= {'PASS', 'FAIL', 'n/a'}
    main = res['models']['main']
    assert main['prompted'] and not res['models']['baseline']['prompted']
    assert main['params']['predictor'] > 0
    assert main['latency']['offline']['3']['per_frame_s'] > 0
    assert main['flops']['online']['per_frame']['3'] > 0
    assert 'scaled_dot_product_attention' in res['flop_counting']
    assert res['settings']['img_size'] == [64, 96]
    # the prompted pass issues more operator calls than the plain one
    assert main['backbone_ops'] > res['models']['baseline']['backbone_ops']
    # the text report renders from the JSON alone
    assert 'offline L=3' in format_report(res)
    assert 'operator calls' in format_report(res)


# ------------------------------------------- batched inference and compile
def test_batched_offline_predictions_equal_frame_by_frame(tiny_pair):
    """The throughput mode's batches (later frames of one video, prompts
    from the cache) predict the same boxes and scores as frame by frame,
    for the STPN detector and its baseline."""
    from mmstpn.utils.benchmark_utils.throughput import batch_schedule
    assert batch_schedule(3, 4) == [[1, 2, 3], [4, 5, 6]]
    video = SyntheticVideo((64, 96), 32)
    for model in tiny_pair:
        stream = FrameStream(model, video, 'offline', 8, 3, 2, 'bv')
        with torch.no_grad():
            model.predict(*stream.inputs(0))
            single = [model.predict(*stream.inputs(t))[0] for t in (1, 2, 3)]
            x, samples = stream.batch_inputs([1, 2, 3])
            batched = model.predict(x, samples)
        for a, b in zip(batched, single):
            pa, pb = a.pred_instances, b.pred_instances
            assert len(pa) == len(pb) > 0
            assert torch.allclose(pa.bboxes, pb.bboxes, atol=1e-3)
            assert torch.allclose(pa.scores, pb.scores, atol=1e-5)
            assert torch.equal(pa.labels, pb.labels)
        assert a.metainfo['frame_id'] == 3
    with pytest.raises(ValueError, match='later frames'):
        stream.batch_inputs([0, 1])


def test_cli_throughput_and_compile_smoke(tmp_path):
    """--throughput and --compile (eager backend: no C++ build) run, write
    their figures and ratios, and a fixed frame size compiles nothing
    during the timed frames."""
    out = tmp_path / 'bench.json'
    cmd = [
        sys.executable, TOOL, TINY, '--baseline-from-config', '--img-size',
        '64', '96', '--video-lengths', '5', '--mode', 'offline',
        '--num-support', '2', '--warmup', '0', '--repeats', '1',
        '--frame-cap', '2', '--no-flops', '--no-memory', '--threads', '1',
        '--throughput', '1', '2', '--throughput-frames', '2', '--compile',
        '--compile-backend', 'eager', '--compile-frames', '3', '--json',
        str(out)
    ]
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'offline batch 2 frames/s' in proc.stdout
    assert 'torch.compile' in proc.stdout
    res = json.loads(out.read_text())
    for name in ('main', 'baseline'):
        tp = res['models'][name]['throughput']
        assert set(tp) == {'1', '2'}
        assert tp['2']['timed_frames'] == 2 and tp['2']['fps'] > 0
        assert tp['1']['speedup_over_batch_1'] == pytest.approx(1.)
    for key in ('batched_latency@1', 'batched_latency@2'):
        assert res['ratios'][key] > 0
    comp = res['compile']
    assert comp['options'] == {'backend': 'eager'}
    assert comp['graphs_compiled_during_timed_frames'] == 0
    assert set(comp['models']) == {'main', 'main+compile', 'baseline',
                                   'baseline+compile'}
    assert comp['models']['main']['difference']['max_abs'] < 1e-5
    for key in ('main_compiled_over_eager@5', 'compiled_offline_latency@5',
                'eager_later_frame'):
        assert comp['ratios'][key] > 0
    assert 'offline batch 2 frames/s' in format_report(res)


# ------------------------------------------- SELSA-type detectors (issue 11)
TINY_SELSA = osp.join(REPO, 'tests', 'data', 'configs',
                      'tiny_selsa_faster_rcnn.py')
TINY_TROI = osp.join(REPO, 'tests', 'data', 'configs',
                     'tiny_troi_faster_rcnn.py')


def test_selsa_streams_feed_reference_frames():
    """Offline: frame 0 carries the K frames spread over the video and
    fills SELSA's memory (their proposals and head states); later frames
    carry none and reuse it. Online: nothing carried; the prefill runs the
    K grid frames so that the memory holds K past frames."""
    from mmstpn.models.vid.selsa import RefMemory
    from mmstpn.utils.benchmark_utils import (prefill_online_cache,
                                              uses_references)
    tool = _load_tool()
    model = tool.build_detector(tool.load_config(TINY_SELSA))
    assert uses_references(model) and not uses_prompts(model)
    video = SyntheticVideo((64, 96), 32)
    off = FrameStream(model, video, 'offline', 20, 3, 2, 'v')
    x0, s0 = off.inputs(0)
    assert x0.frames.shape == (1, 4, 3, 64, 96)
    assert torch.equal(x0.frames[0, 1:], video.frames(
        support_indices(20, 3)))
    assert model.test_support == SupportPolicy('offline', 3, 2)
    assert model.backbone.test_support == model.test_support
    with torch.no_grad():
        model.predict(x0, s0)
        memory = model.video_context.slot('selsa')['v']
        assert isinstance(memory, RefMemory) and len(memory.states) == 3
        x1, s1 = off.inputs(1)
        assert x1.frames.shape == (1, 1, 3, 64, 96)
        model.predict(x1, s1)
    assert model.video_context.slot('selsa')['v'] is memory  # reused
    on = FrameStream(model, video, 'online', 20, 3, 2, 'w')
    assert on.inputs(5)[0].metas[0].num_support == 0
    prefill_online_cache(model, 'w', on.raw_inputs(0)[:, 0], 3, 2)
    assert model.video_context.slot('selsa')['w'].frame_ids == [0, 2, 4]


def test_latency_vs_baseline_ratios():
    def fig(per_frame, raw):
        return dict(latency=dict(offline={'4': dict(
            per_frame_s=per_frame, raw_s=raw)}))

    figures = dict(
        baseline=fig(0.1, [[0.4, 0.1, 0.1, 0.1]]),
        selsa=fig(0.5, [[2.0, 0.3, 0.6, 0.3]]))
    from mmstpn.utils.benchmark_utils import latency_vs_baseline
    got = latency_vs_baseline(figures)
    assert got['selsa']['offline@4'] == pytest.approx(5.0)
    # later frames run back to back: ratios 3, 6, 3 -> median 3
    assert got['selsa']['offline_later_frame_paired'] == pytest.approx(3.0)
    assert set(got) == {'selsa'}


def test_cli_smoke_with_selsa_and_troi(tmp_path):
    """STPN vs its baseline plus SELSA and TRoI in one run: every model's
    per-frame latency, FLOPs per frame in both modes, and the latency ratio
    of each to the baseline."""
    out = tmp_path / 'bench.json'
    cmd = [
        sys.executable, TOOL, TINY, '--baseline-from-config', '--also',
        f'selsa={TINY_SELSA}', '--also', f'troi={TINY_TROI}', '--img-size',
        '64', '96', '--video-lengths', '3', '--online-length', '3',
        '--num-support', '2', '--stride', '1', '--warmup', '0', '--repeats',
        '1', '--no-memory', '--threads', '1', '--json',
        str(out)
    ]
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'per-frame latency / baseline' in proc.stdout
    res = json.loads(out.read_text())
    assert list(res['models']) == ['main', 'baseline', 'selsa', 'troi']
    assert res['models']['selsa']['references']
    assert not res['models']['baseline']['references']
    for name in ('main', 'selsa', 'troi'):
        row = res['latency_vs_baseline'][name]
        assert row['offline@3'] > 0 and row['online'] > 0
    for name in ('selsa', 'troi'):
        flops = res['models'][name]['flops']
        # frame 0 also runs the 2 reference frames: more work than later
        first = flops['offline']['frames']['first']['total']
        later = flops['offline']['frames']['later']['total']
        assert first > later > 0
        assert flops['online']['per_frame']['3'] > 0
    # main / baseline ratios and goals are still those of the first two
    assert res['ratio_of'] == 'main / baseline'
    bad = subprocess.run(
        [sys.executable, TOOL, TINY, '--also', 'x'], cwd=REPO,
        capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and 'expected NAME=VALUE' in bad.stderr
# ------------------------------------------------------------------ --amp
def test_amp_context_sets_autocast():
    tool = _load_tool()
    with tool.amp_context('bf16', 'cpu'):
        assert torch.is_autocast_enabled('cpu')
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16
    assert not torch.is_autocast_enabled('cpu')
    with tool.amp_context(None, 'cpu'):
        assert not torch.is_autocast_enabled('cpu')
