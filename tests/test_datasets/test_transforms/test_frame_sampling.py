import copy
import random

import pytest
from mmdet.registry import TRANSFORMS

from mmstpn.datasets import SupportFrameSample
from mmstpn.structures import SupportPolicy


def video(n, vid=7):
    return dict(
        video_id=vid,
        video_length=n,
        images=[
            dict(frame_id=10 + i, frame_index=i, img_path=f'{i}.jpg')
            for i in range(n)
        ])


def sample(n, key, **cfg):
    out = SupportFrameSample(**cfg)(dict(video(n), key_frame_id=key))
    return [f - 10 for f in out['frame_id']], out


def test_output_structure():
    random.seed(0)
    infos = dict(video(12), key_frame_id=5)
    infos['images'][3]['only_here'] = 1
    before = copy.deepcopy(infos)
    t = TRANSFORMS.build(
        dict(type='SupportFrameSample', num_ref_imgs=4, frame_range=3))
    out = t(infos)
    assert infos == before  # the input is left untouched
    assert out['frame_id'][0] == 15  # key frame first
    assert len({len(v) for v in out.values()}) == 1  # one entry per frame
    assert out['key_frame_flags'] == [True] + [False] * 4
    assert out['num_support'] == [4] * 5
    assert out['support_mode'] == ['frames'] * 5
    assert out['video_length'] == [12] * 5  # the real video length
    assert out['video_id'] == [7] * 5
    assert 'images' not in out and 'key_frame_id' not in out


@pytest.mark.parametrize('seed', range(10))
def test_bilateral_uniform_released(seed):
    random.seed(seed)
    ids, _ = sample(40, 20, num_ref_imgs=2, frame_range=9)
    key, left, right = ids
    assert key == 20 and 11 <= left < 20 < right <= 29


def test_bilateral_uniform_edges():
    random.seed(1)
    # key at the start: both halves come from the right side
    ids, _ = sample(30, 0, num_ref_imgs=2, frame_range=9)
    assert all(1 <= i <= 9 for i in ids[1:])
    # two frames: repetition of what exists
    ids, _ = sample(2, 1, num_ref_imgs=4, frame_range=9)
    assert ids == [1, 0, 0, 0, 0]
    # one-frame video (ImageNet DET): no support frame
    ids, out = sample(1, 0, num_ref_imgs=2, frame_range=0,
                      filter_key_img=False)
    assert ids == [0] and out['num_support'] == [0]
    # frame_range 0 without the key: nothing to sample, 0 support frames
    ids, _ = sample(5, 2, num_ref_imgs=2, frame_range=0)
    assert ids == [2]
    # frame_range 0 keeping the key: copies of the key frame
    ids, _ = sample(5, 2, num_ref_imgs=2, frame_range=0, filter_key_img=False)
    assert ids == [2, 2, 2]
    with pytest.raises(ValueError, match='even'):
        SupportFrameSample(num_ref_imgs=3)


def test_uniform_window_stride_and_repetition():
    random.seed(0)
    for _ in range(10):
        ids, _ = sample(50, 25, num_ref_imgs=3, frame_range=[-6, 4],
                        stride=2, method='uniform')
        assert ids[0] == 25 and len(ids) == 4
        assert len(set(ids[1:])) == 3  # no repetition when enough frames
        assert all(i in (19, 21, 23, 27, 29) for i in ids[1:])
    ids, _ = sample(3, 1, num_ref_imgs=5, frame_range=9, method='uniform')
    assert sorted(set(ids[1:])) == [0, 2] and len(ids) == 6


def test_adaptive_stride_released():
    n, k = 317, 14
    ids, out = sample(n, 0, num_ref_imgs=k, method='test_with_adaptive_stride')
    assert ids == [0] + [round(i * (n - 1) / (k - 1)) for i in range(k)]
    assert ids[1] == 0 and ids[-1] == n - 1
    assert out['support_mode'] == ['offline'] * (k + 1)
    assert out['num_support'][0] == k
    # every other frame carries none and reuses the video's prompts
    ids, out = sample(n, 5, num_ref_imgs=k, method='test_with_adaptive_stride')
    assert ids == [5] and out['support_mode'] == ['offline']
    assert out['num_support'] == [0]


def test_adaptive_stride_short_videos():
    ids, _ = sample(4, 0, num_ref_imgs=7, method='test_with_adaptive_stride')
    assert ids[1:] == [0, 0, 1, 2, 2, 2, 3]  # repeats in the spread
    ids, out = sample(1, 0, num_ref_imgs=3,
                      method='test_with_adaptive_stride')
    assert ids == [0, 0, 0, 0] and out['num_support'] == [3] * 4
    ids, _ = sample(9, 0, num_ref_imgs=1, method='test_with_adaptive_stride')
    assert ids == [0, 4]


def test_fix_stride():
    ids, out = sample(20, 10, num_ref_imgs=4, stride=2,
                      method='test_with_fix_stride')
    assert ids == [10, 6, 8, 12, 14]
    assert out['support_mode'] == ['frames'] * 5
    ids, _ = sample(20, 1, num_ref_imgs=4, stride=2,
                    method='test_with_fix_stride')
    assert ids == [1, 0, 0, 3, 5]  # clipped to the video
    ids, _ = sample(20, 19, num_ref_imgs=3, stride=3,
                    method='test_with_fix_stride')
    assert ids == [19, 16, 19, 19]
    ids, _ = sample(1, 0, num_ref_imgs=4, method='test_with_fix_stride')
    assert ids == [0]


def test_online():
    ids, out = sample(30, 12, num_ref_imgs=4, stride=3, method='online')
    assert ids == [12]
    assert out['support_mode'] == ['online'] and out['num_support'] == [0]


def test_from_model_follows_the_policy():
    t = SupportFrameSample(method='from_model')
    with pytest.raises(RuntimeError, match='VideoContextHook'):
        t(dict(video(10), key_frame_id=0))
    t.set_test_policy(SupportPolicy('offline', 4))
    out = t(dict(video(10), key_frame_id=0))
    assert out['frame_id'][1:] == [10 + i for i in (0, 3, 6, 9)]
    assert t(dict(video(10), key_frame_id=5))['frame_id'] == [15]
    t.set_test_policy(SupportPolicy('online', 4, 2))
    assert t(dict(video(10), key_frame_id=0))['frame_id'] == [10]
    t.set_test_policy(SupportPolicy('frames', 2, 3))
    assert t(dict(video(10), key_frame_id=5))['frame_id'] == [15, 12, 18]


def test_explicit_test_method_must_agree_with_the_policy():
    fixed = SupportFrameSample(num_ref_imgs=14,
                               method='test_with_adaptive_stride')
    fixed.set_test_policy(SupportPolicy('offline', 14))  # agrees
    with pytest.raises(ValueError, match="method='test_with_adaptive_stride'"
                       ".*model.backbone.test_support=dict.*'online'"):
        fixed.set_test_policy(SupportPolicy('online', 14, 4))
    train = SupportFrameSample(method='bilateral_uniform')
    train.set_test_policy(SupportPolicy('online'))  # training: untouched
    assert train.policy is None


def test_random_key_without_key_frame_id():
    random.seed(3)
    out = SupportFrameSample(method='online')(video(6))
    assert 10 <= out['frame_id'][0] < 16


@pytest.mark.parametrize('cfg', [
    dict(method='nope'),
    dict(num_ref_imgs=-1),
    dict(frame_range=[2, 3]),
    dict(frame_range=[-1, 1, 2]),
    dict(stride=0),
    dict(num_ref_imgs=0, method='online'),
])
def test_invalid_arguments(cfg):
    with pytest.raises(ValueError):
        SupportFrameSample(**cfg)


def test_key_out_of_range():
    with pytest.raises(ValueError, match='video 7: key_frame_id 9'):
        SupportFrameSample()(dict(video(3), key_frame_id=9))
