"""demo/sot_demo.py on a synthetic 8-frame video of a moving square with the
tiny tracker (tests/data/configs/tiny_stpn_sot_got10k.py, random weights
saved as a checkpoint in tmp).

The reference is computed without the demo's code: frames decoded by a
plain ``cv2.VideoCapture`` loop, the model built from the config and the
checkpoint, each frame packed by hand (uint8 ``(1, C, H, W)`` + a
``TrackDataSample`` with ``video_name`` / ``frame_id`` / the given box on
frame 0) and run through ``model.test_step`` in order; the PNG frames the
demo writes are compared pixel for pixel with ``mmcv.imshow_bboxes`` of
the reference boxes."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from tests.test_tools.tool_helpers import REPO

CONFIG = osp.join(REPO, 'tests', 'data', 'configs',
                  'tiny_stpn_sot_got10k.py')
DEMO = osp.join(REPO, 'demo', 'sot_demo.py')
NUM_FRAMES, W, H = 8, 96, 72
BOX = (20, 16, 18, 14)  # x, y, w, h in frame 0


def _demo():
    spec = importlib.util.spec_from_file_location('sot_demo', DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp('sot_demo')
    video = str(root / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (W, H))
    rng = np.random.RandomState(0)
    for t in range(NUM_FRAMES):
        img = np.full((H, W, 3), 40, np.uint8)
        x, y = BOX[0] + 3 * t, BOX[1] + t
        img[y:y + BOX[3], x:x + BOX[2]] = rng.randint(120, 255, (3, ))
        writer.write(img)
    writer.release()
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = str(root / 'tracker.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    return dict(root=root, video=video, ckpt=ckpt)


def _reference(video, ckpt):
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, ckpt, map_location='cpu')
    model.eval()
    cap = cv2.VideoCapture(video)
    frames, boxes = [], []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        t = len(frames)
        meta = dict(video_name='clip.avi', frame_id=t, img_shape=(H, W),
                    ori_shape=(H, W))
        if t == 0:
            meta['bbox'] = [BOX[0], BOX[1], BOX[0] + BOX[2], BOX[1] + BOX[3]]
        track = TrackDataSample()
        track.video_data_samples = [DetDataSample(metainfo=meta)]
        img = torch.from_numpy(frame).permute(2, 0, 1)[None].contiguous()
        with torch.no_grad():
            out = model.test_step(dict(inputs=[img], data_samples=[track]))
        frames.append(frame)
        boxes.append(out[0][0].pred_track_instances.bboxes[0].numpy())
    return frames, boxes


def test_demo_tracks_like_the_model_called_by_hand(assets):
    out = str(assets['root'] / 'frames_out')
    summary = _demo().main([
        assets['video'], CONFIG, assets['ckpt'], '--box',
        ','.join(map(str, BOX)), '--out', out, '--verbose'
    ])
    frames, boxes = _reference(assets['video'], assets['ckpt'])
    assert len(frames) == NUM_FRAMES and summary['num_frames'] == NUM_FRAMES
    with open(out + '_track.json') as f:
        record = json.load(f)
    np.testing.assert_allclose(record['frames'][0]['box'], BOX, atol=1e-4)
    for t, (frame, box) in enumerate(zip(frames, boxes)):
        x1, y1, x2, y2 = box
        np.testing.assert_allclose(record['frames'][t]['box'],
                                   [x1, y1, x2 - x1, y2 - y1], atol=1e-4)
        assert record['frames'][t]['seconds'] > 0
        drawn = mmcv.imread(osp.join(out, f'{t:06d}.png'))
        exp = mmcv.imshow_bboxes(
            frame.copy(), [box[None].astype(np.float32)],
            colors='blue' if t == 0 else 'green', thickness=2, show=False)
        cv2.putText(exp, str(t), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
        np.testing.assert_array_equal(drawn, exp, err_msg=f'frame {t}')
    # the tracker actually moved (not the given box repeated)
    assert not np.allclose(boxes[-1], boxes[0])


def test_demo_errors_leave_no_output(assets):
    demo = _demo()
    out = str(assets['root'] / 'bad.mp4')
    base = [assets['video'], CONFIG, assets['ckpt'], '--out', out]
    for box, match in (('1,2,3', '4 comma-separated'),
                       ('1,2,0,5', 'must be > 0'),
                       (f'{W + 5},3,4,4', 'outside the first frame')):
        with pytest.raises(ValueError, match=match):
            demo.main(base + ['--box', box])
        assert not osp.exists(out)
    det_cfg = osp.join(REPO, 'tests', 'data', 'configs',
                       'tiny_stpn_toy_vid.py')
    with pytest.raises(ValueError, match='not a single-object tracker'):
        demo.main([assets['video'], det_cfg, assets['ckpt'], '--out', out,
                   '--box', '1,2,3,4'])
    assert not osp.exists(out)
    assert not [f for f in os.listdir(assets['root']) if f.startswith('.')]


def test_checkpoint_of_another_model_is_an_error(assets):
    """A VID detector's weights for the tracker: an error naming the file
    and the keys; nothing is written."""
    det_cfg = Config.fromfile(osp.join(REPO, 'tests', 'data', 'configs',
                                       'tiny_stpn_toy_vid.py'))
    det = str(assets['root'] / 'detector.pth')
    torch.save(dict(state_dict=MODELS.build(det_cfg.model).state_dict()),
               det)
    out = str(assets['root'] / 'mismatch.mp4')
    from mmstpn.utils import CheckpointMismatchError
    with pytest.raises(CheckpointMismatchError) as info:
        _demo().main([assets['video'], CONFIG, det, '--out', out,
                      '--box', ','.join(map(str, BOX))])
    msg = str(info.value)
    assert msg.startswith(f'{det}: the checkpoint does not fit')
    assert "keys unexpected (in the file, not in the model): ['" in msg
    assert not osp.exists(out)
