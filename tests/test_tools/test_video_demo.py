"""demo/video_demo.py on a synthetic 8-frame 64x64 video with the tiny toy
STPN model (random weights saved as a checkpoint in tmp).

The reference predictions are computed here without the demo's code: the
frames decoded by a plain ``cv2.VideoCapture`` loop (or read from PNGs),
the model built from the config with the policy set through
``model.backbone.test_support`` (the documented key), each frame packed by
hand as a ``(1+K, C, H, W)`` uint8 clip with its metainfo and run through
``model.test_step`` in order. The drawn frames are compared pixel for pixel
(PNG output) with mmdet's ``DetLocalVisualizer`` drawing the reference
predictions.
"""
import importlib.util
import json
import os
import os.path as osp
import pickle

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmengine.structures import InstanceData
from PIL import Image

from tests.test_tools.tool_helpers import REPO

CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_stpn_toy_vid.py')
DEMO = osp.join(REPO, 'demo', 'video_demo.py')
NUM_FRAMES, SIZE, MAX_DETS = 8, 64, 5


def _demo():
    spec = importlib.util.spec_from_file_location('video_demo', DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synthetic_frames():
    """A bright rectangle moving over a horizontal gradient (BGR)."""
    frames = []
    for t in range(NUM_FRAMES):
        img = np.empty((SIZE, SIZE, 3), np.uint8)
        img[:] = np.linspace(40, 120, SIZE).astype(np.uint8)[None, :, None]
        img[10 + 2 * t:30 + 2 * t, 8 + 3 * t:28 + 3 * t] = (200, 60, 30)
        frames.append(img)
    return frames


@pytest.fixture(scope='module')
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp('video_demo')
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = str(root / 'tiny_random.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=cfg.classes))), ckpt)
    frames = _synthetic_frames()
    video = str(root / 'synthetic.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             (SIZE, SIZE))
    for f in frames:
        writer.write(f)
    writer.release()
    folder = root / 'png_frames'
    folder.mkdir()
    for t, f in enumerate(frames):  # natural order: 2 before 10
        cv2.imwrite(str(folder / f'f{t}.png'), f)
    return dict(root=root, ckpt=ckpt, video=video, folder=str(folder),
                png_frames=frames, classes=cfg.classes)


def _decode(video):
    """Every frame of ``video`` by a plain sequential OpenCV loop."""
    cap = cv2.VideoCapture(video)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _reference(ckpt, frames, test_support, score_thr=0.):
    """Predictions of each frame, in order, with the policy
    ``test_support`` (a dict for ``model.backbone.test_support``)."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.test_support = test_support
    model = MODELS.build(cfg.model)
    load_checkpoint(model, ckpt, map_location='cpu')
    model.eval()
    n, k = len(frames), test_support['num_support']
    # offline: frame 0 carries K frames spread over the video (the design
    # doc's round(i*(N-1)/(K-1)))
    spread = [round(i * (n - 1) / (k - 1)) for i in range(k)]
    preds = []
    for t, frame in enumerate(frames):
        clip = [frame]
        if test_support['mode'] == 'offline' and t == 0:
            clip += [frames[i] for i in spread]
        inputs = torch.from_numpy(
            np.ascontiguousarray(np.stack(clip).transpose(0, 3, 1, 2)))
        h, w = frame.shape[:2]
        sample = DetDataSample(
            metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                          scale_factor=(1., 1.), video_id='ref', frame_id=t))
        with torch.no_grad():
            pred = model.test_step(
                dict(inputs=[inputs], data_samples=[sample]))[0]
        inst = pred.pred_instances
        inst = inst[inst.scores > score_thr]
        inst = inst[torch.argsort(inst.scores, descending=True,
                                  stable=True)[:MAX_DETS]]
        preds.append(
            {f: getattr(inst, f).numpy() for f in ('bboxes', 'scores',
                                                    'labels')})
    return preds


def _assert_same_preds(dumped, reference):
    assert [d['frame'] for d in dumped] == list(range(len(reference)))
    for d, r in zip(dumped, reference):
        assert d['labels'].tolist() == r['labels'].tolist(), d['frame']
        np.testing.assert_allclose(d['scores'], r['scores'], atol=1e-5)
        np.testing.assert_allclose(d['bboxes'], r['bboxes'], atol=1e-3)


def _run(assets, name, *extra, video=None):
    out_dir = assets['root'] / name
    out_dir.mkdir()
    out = str(out_dir / 'out.mp4')
    dump = str(out_dir / 'preds.pkl')
    summary = _demo().main([
        video or assets['video'], CONFIG, assets['ckpt'], '--out', out,
        '--device', 'cpu', '--score-thr', '0', '--max-dets',
        str(MAX_DETS), '--dump', dump, *extra
    ])
    with open(dump, 'rb') as f:
        dumped = pickle.load(f)
    return out, dumped, summary


def test_online_mp4_frames_size_json_and_boxes(assets):
    out, dumped, summary = _run(assets, 'online', '--num-support', '2',
                                '--stride', '2')
    # the output video: frame count and size
    reader = mmcv.VideoReader(out)
    assert (len(reader), reader.width, reader.height) == (NUM_FRAMES, SIZE,
                                                         SIZE)
    decoded = _decode(out)
    assert len(decoded) == NUM_FRAMES
    assert all(f.shape == (SIZE, SIZE, 3) for f in decoded)
    # the timings json (default path next to --out)
    with open(osp.splitext(out)[0] + '_timings.json') as f:
        timings = json.load(f)
    assert [e['frame'] for e in timings['frames']] == list(range(NUM_FRAMES))
    assert all(e['seconds'] > 0 for e in timings['frames'])
    assert [e['num_boxes'] for e in timings['frames']] == \
        [len(d['scores']) for d in dumped]
    s = timings['summary']
    assert (s['mode'], s['num_support'], s['stride']) == ('online', 2, 2)
    assert (s['num_frames'], s['width'], s['height']) == (NUM_FRAMES, SIZE,
                                                         SIZE)
    assert s == summary
    np.testing.assert_allclose(
        s['total_seconds'], sum(e['seconds'] for e in timings['frames']))
    # boxes exist (cap respected) and equal an independent causal run
    assert all(0 < len(d['scores']) <= MAX_DETS for d in dumped)
    frames = _decode(assets['video'])
    online = _reference(assets['ckpt'], frames,
                        dict(mode='online', num_support=2, stride=2))
    _assert_same_preds(dumped, online)
    # the policy matters: an offline run predicts differently, so the
    # comparison above would catch a demo that ignored --mode
    offline = _reference(assets['ckpt'], frames,
                         dict(mode='offline', num_support=2, stride=1))
    assert any(not np.allclose(a['scores'], b['scores'], atol=1e-5)
               for a, b in zip(online, offline))


def test_offline_mp4_reads_spread_support_frames(assets):
    _, dumped, summary = _run(assets, 'offline', '--mode', 'offline',
                              '--num-support', '3')
    assert (summary['mode'], summary['num_support']) == ('offline', 3)
    # support frames 0, 4, 7 decoded by index must equal those of a
    # sequential decode, else frame 0's prompts (and every frame) differ
    reference = _reference(assets['ckpt'], _decode(assets['video']),
                           dict(mode='offline', num_support=3, stride=1))
    _assert_same_preds(dumped, reference)


def test_default_policy_size_is_the_configs(assets):
    _, _, summary = _run(assets, 'default_k')
    # tiny_stpn_toy_vid.py: test_support=dict(mode='offline', num_support=4)
    assert (summary['mode'], summary['num_support'], summary['stride']) == \
        ('online', 4, 1)


def test_frame_folder_to_png_frames_draws_the_predictions(assets):
    out_dir = assets['root'] / 'png_out'
    out_dir.mkdir()
    out, gif = str(out_dir / 'annotated'), str(out_dir / 'demo.gif')
    _demo().main([
        assets['folder'], CONFIG, assets['ckpt'], '--out', out, '--device',
        'cpu', '--score-thr', '0', '--max-dets', str(MAX_DETS), '--gif', gif,
        '--num-support', '2', '--verbose'
    ])
    frames = assets['png_frames']
    reference = _reference(assets['ckpt'], frames,
                           dict(mode='online', num_support=2, stride=1))
    written = sorted(os.listdir(out))
    assert written == [f'{t:06d}.png' for t in range(NUM_FRAMES)]
    visualizer = DetLocalVisualizer(name='test_video_demo_reference')
    visualizer.dataset_meta = dict(classes=assets['classes'],
                                   palette='random')
    for t, (frame, pred) in enumerate(zip(frames, reference)):
        sample = DetDataSample()
        sample.pred_instances = InstanceData(
            **{k: torch.from_numpy(v) for k, v in pred.items()})
        visualizer.add_datasample(
            'ref', mmcv.bgr2rgb(frame), sample, draw_gt=False,
            pred_score_thr=0.)
        expected = mmcv.rgb2bgr(visualizer.get_image())
        drawn = mmcv.imread(osp.join(out, written[t]))
        assert not np.array_equal(drawn, frame), t  # something was drawn
        np.testing.assert_array_equal(drawn, expected, err_msg=str(t))
    with Image.open(gif) as im:
        assert (im.n_frames, im.size) == (NUM_FRAMES, (SIZE, SIZE))
    assert osp.isfile(osp.join(out_dir, 'annotated_timings.json'))


def _bad_inputs(root):
    text = root / 'notes.mp4'
    text.write_text('not a video')
    empty = root / 'empty_folder'
    empty.mkdir()
    zero = str(root / 'zero_frames.mp4')
    cv2.VideoWriter(zero, cv2.VideoWriter_fourcc(*'mp4v'), 5,
                    (SIZE, SIZE)).release()
    broken = root / 'broken_folder'
    broken.mkdir()
    for t, f in enumerate(_synthetic_frames()[:3]):
        cv2.imwrite(str(broken / f'{t}.png'), f)
    (broken / '3.png').write_bytes(b'truncated')  # fails after 3 frames
    return {
        'text': (str(text), ValueError, 'cannot open it as a video'),
        'empty_folder': (str(empty), ValueError, 'holds no frames'),
        'zero_frames': (zero, ValueError, 'zero_frames.mp4'),
        'missing': (str(root / 'missing.mp4'), FileNotFoundError,
                    'no such video'),
        'broken_frame': (str(broken / '3.png'), ValueError,
                         'cannot be read as an image'),
    }


@pytest.mark.parametrize(
    'case', ['text', 'empty_folder', 'zero_frames', 'missing',
             'broken_frame'])
def test_bad_input_names_the_file_and_writes_nothing(assets, case):
    root = assets['root'] / f'bad_{case}'
    root.mkdir()
    path, error, what = _bad_inputs(root)[case]
    video = osp.dirname(path) if case == 'broken_frame' else path
    out_dir = root / 'out'
    out_dir.mkdir()
    with pytest.raises(error) as info:
        _demo().main([
            video, CONFIG, assets['ckpt'], '--out',
            str(out_dir / 'out.mp4'), '--device', 'cpu', '--dump',
            str(out_dir / 'p.pkl'), '--gif', str(out_dir / 'o.gif')
        ])
    message = str(info.value)
    assert path in message and what in message, message
    assert os.listdir(out_dir) == []  # no output, no temporary left over


def test_track_predictions_are_drawn_with_their_ids(assets):
    """A tracker's ``pred_track_instances`` (the VIS / MOT adapters) win
    over ``pred_instances`` and are drawn by mmdet's TrackLocalVisualizer
    (colour and text per track id), after the same score / cap rule. The
    drawing is compared where seaborn (TrackLocalVisualizer's colours) is
    installed; without it the demo's error is checked."""
    from mmdet.visualization import TrackLocalVisualizer
    demo = _demo()
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[1., 1., 9., 9.]]), scores=torch.tensor([.9]),
        labels=torch.tensor([0]))
    sample.pred_track_instances = InstanceData(
        bboxes=torch.tensor([[4., 4., 30., 30.], [30., 8., 60., 40.],
                             [2., 40., 20., 60.]]),
        scores=torch.tensor([.8, .9, .1]),
        labels=torch.tensor([1, 2, 0]),
        instances_id=torch.tensor([7, 3, 5]))
    key, inst = demo.kept_instances(sample, score_thr=0.3, max_dets=5)
    assert key == 'pred_track_instances'
    assert inst.instances_id.tolist() == [3, 7]  # score order, 0.1 dropped
    _, capped = demo.kept_instances(sample, score_thr=0.3, max_dets=1)
    assert capped.instances_id.tolist() == [3]
    frame = assets['png_frames'][0]
    meta = dict(classes=assets['classes'], palette='random')
    drawer = demo.Drawer(Config.fromfile(CONFIG), meta)
    if importlib.util.find_spec('seaborn') is None:
        # TrackLocalVisualizer's colours need seaborn (not a dependency of
        # mmstpn): the demo says so instead of failing inside mmdet
        with pytest.raises(ImportError, match='pip install seaborn'):
            drawer.draw(frame, key, inst, {}, 0.3)
        return
    drawn = drawer.draw(frame, key, inst, {}, 0.3)
    reference = TrackLocalVisualizer(name='test_video_demo_track_ref')
    reference.dataset_meta = meta
    expected_sample = DetDataSample()
    expected_sample.pred_track_instances = sample.pred_track_instances[
        torch.tensor([1, 0])]
    reference.add_datasample('ref', mmcv.bgr2rgb(frame), expected_sample,
                             draw_gt=False, pred_score_thr=0.3)
    np.testing.assert_array_equal(drawn,
                                  mmcv.rgb2bgr(reference.get_image()))
    assert not np.array_equal(drawn, frame)


def test_checkpoint_of_another_model_is_an_error_naming_keys(assets):
    """The single-object tracker's weights on the VID config: an error
    naming the file and the first keys, before any output; a truncated
    checkpoint names the file; --allow-partial-load is the opt-in."""
    root = assets['root'] / 'mismatch'
    root.mkdir()
    sot_cfg = Config.fromfile(osp.join(REPO, 'tests', 'data', 'configs',
                                       'tiny_stpn_sot_got10k.py'))
    tracker = str(root / 'tracker.pth')
    torch.save(dict(state_dict=MODELS.build(sot_cfg.model).state_dict()),
               tracker)
    truncated = str(root / 'truncated.pth')
    with open(assets['ckpt'], 'rb') as f:
        data = f.read()
    with open(truncated, 'wb') as f:
        f.write(data[:len(data) // 2])
    out_dir = root / 'out'
    out_dir.mkdir()
    args = [assets['video'], CONFIG, None, '--out',
            str(out_dir / 'out.mp4'), '--device', 'cpu']
    from mmstpn.utils import CheckpointMismatchError, CheckpointReadError
    with pytest.raises(CheckpointMismatchError) as info:
        _demo().main(args[:2] + [tracker] + args[3:])
    msg = str(info.value)
    assert msg.startswith(f'{tracker}: the checkpoint does not fit')
    assert 'keys missing (in the model, not in the file): ' \
        "['backbone." in msg
    assert 'keys unexpected (in the file, not in the model): ' in msg
    assert '--allow-partial-load' in msg
    with pytest.raises(CheckpointReadError,
                       match=f'{truncated} .*not a readable torch'):
        _demo().main(args[:2] + [truncated] + args[3:])
    assert os.listdir(out_dir) == []
    # the opt-in: a checkpoint without the ROI head's weights runs
    full = torch.load(assets['ckpt'], map_location='cpu')
    partial = str(root / 'no_roi_head.pth')
    torch.save(dict(state_dict={k: v for k, v in full['state_dict'].items()
                                if not k.startswith('roi_head.')},
                    meta=full['meta']), partial)
    with pytest.raises(CheckpointMismatchError, match="'roi_head."):
        _demo().main(args[:2] + [partial] + args[3:])
    summary = _demo().main(args[:2] + [partial] + args[3:] +
                           ['--allow-partial-load'])
    assert summary['num_frames'] == NUM_FRAMES
