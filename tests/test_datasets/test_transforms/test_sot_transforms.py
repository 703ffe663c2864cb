"""SOTPairSample and SOTCropRegion."""
import random

import numpy as np
import pytest

import mmstpn  # noqa: F401
from mmdet.registry import TRANSFORMS
from mmstpn.datasets.transforms import SOTCropRegion, SOTPairSample


def _video(num, invisible=(), name='seq'):
    images = []
    for i in range(num):
        x, y = 10 + 2 * i, 20 + i
        images.append(
            dict(
                frame_id=i,
                bbox=[x, y, x + 16, y + 8],
                visible=i not in invisible,
                img_path=f'{name}/{i:08d}.jpg'))
    return dict(
        video_id=7, video_name=name, video_length=num, images=images)


# ----------------------------------------------------------- SOTPairSample
def test_pair_sample_only_visible_within_range():
    invisible = {0, 3, 4, 9, 15}
    video = _video(20, invisible)
    t = TRANSFORMS.build(
        dict(type='SOTPairSample', frame_range=4, num_support=3,
             support_range=5))
    random.seed(0)
    seen_search = set()
    for _ in range(300):
        out = t(dict(video))
        fid = out['frame_id']
        tpl, search, sup = fid[0], fid[1], fid[2:]
        assert out['frame_role'] == ['template', 'search'] + \
            ['support'] * len(sup)
        assert all(f not in invisible for f in fid)
        assert abs(search - tpl) <= 4
        assert search != tpl  # another visible frame always exists here
        assert sup == sorted(sup)
        for s in sup:
            assert search - 5 <= s < search
        # 'recent': the latest visible frames before the search frame
        pool = [p for p in range(search - 1, search - 6, -1)
                if p >= 0 and p not in invisible]
        if len(pool) >= 3:
            assert sup == sorted(pool[:3])
        elif pool:
            assert set(sup) == set(pool) and len(sup) == 3
        else:
            assert sup == []
        assert out['num_support'] == [len(sup)] * len(fid)
        assert out['video_name'] == ['seq'] * len(fid)
        seen_search.add(search)
    assert len(seen_search) > 8  # search frames really are random


def test_pair_sample_edge_cases():
    t = SOTPairSample(frame_range=2, num_support=2)
    # the only visible frame is both template and search, no support
    out = t(dict(_video(5, invisible={0, 1, 3, 4}), key_frame_id=2))
    assert out['frame_id'] == [2, 2]
    assert out['num_support'] == [0, 0]
    # a given template is used
    out = t(dict(_video(5), key_frame_id=4))
    assert out['frame_id'][0] == 4 and out['frame_id'][1] in (2, 3)
    with pytest.raises(ValueError, match="sequence 'seq': template frame 1 "
                       'is not visible'):
        t(dict(_video(5, invisible={1}), key_frame_id=1))
    with pytest.raises(ValueError, match="'seq': no visible frame"):
        t(_video(3, invisible={0, 1, 2}))
    with pytest.raises(ValueError, match='outside its 3 frames'):
        t(dict(_video(3), key_frame_id=3))
    # stride and uniform sampling
    t = SOTPairSample(frame_range=0, filter_template_img=False, num_support=2,
                      support_range=6, stride=2, support_sampling='uniform')
    random.seed(1)
    for _ in range(50):
        out = t(dict(_video(10), key_frame_id=8))
        assert out['frame_id'][:2] == [8, 8]
        assert set(out['frame_id'][2:]) <= {2, 4, 6}
        assert len(set(out['frame_id'][2:])) == 2  # no repeat when enough


def test_pair_sample_fixed_template_frame():
    """template_frame=0: the first frame is the template of every item (as
    at test); a key_frame_id still wins; an invisible or missing template
    frame is an error naming the sequence."""
    t = SOTPairSample(frame_range=[0, 30], num_support=1, template_frame=0)
    random.seed(2)
    searches = set()
    for _ in range(100):
        fid = t(_video(12))['frame_id']
        assert fid[0] == 0 and 1 <= fid[1] <= 11
        searches.add(fid[1])
    assert len(searches) > 5
    assert t(dict(_video(12), key_frame_id=5))['frame_id'][0] == 5
    with pytest.raises(ValueError, match=r"'seq': template frame 0 "
                       r'\(template_frame\) is not visible'):
        t(_video(5, invisible={0}))
    with pytest.raises(ValueError, match="'seq': template_frame 7 is "
                       'outside its 3 frames'):
        SOTPairSample(template_frame=7)(_video(3))
    with pytest.raises(ValueError, match='template_frame'):
        SOTPairSample(template_frame=-1)


@pytest.mark.parametrize('kw', [
    dict(frame_range=[1, 3]),
    dict(num_support=-1),
    dict(support_range=0),
    dict(stride=0),
    dict(support_sampling='nearest'),
])
def test_pair_sample_bad_args(kw):
    with pytest.raises(ValueError):
        SOTPairSample(**kw)


# ----------------------------------------------------------- SOTCropRegion
def _image(h=200, w=240):
    rng = np.random.RandomState(0)
    return rng.randint(0, 255, (h, w, 3)).astype(np.uint8)


def _naive_crop(img, region, fill):
    """Reference: pixel by pixel, outside the image = fill."""
    x1, y1, x2, y2 = region
    out = np.empty((y2 - y1, x2 - x1, img.shape[2]), img.dtype)
    for yy in range(y1, y2):
        for xx in range(x1, x2):
            inside = 0 <= yy < img.shape[0] and 0 <= xx < img.shape[1]
            out[yy - y1, xx - x1] = img[yy, xx] if inside else fill
    return out


def _clip(roles, boxes, img=None):
    img = _image() if img is None else img
    return dict(
        img=[img.copy() for _ in roles],
        bbox=boxes,
        frame_role=list(roles),
        frame_id=list(range(len(roles))),
        video_name=['seq'] * len(roles))


def test_crop_without_resize_matches_naive_crop():
    """A 64 x 64 box with factor 2 gives a 128 px side = the output size,
    so the crop must equal the image slice (padded) exactly."""
    img = _image()
    t = SOTCropRegion(template_factor=2, template_size=128, pad_val=7)
    # box near the top-left corner: the crop hangs outside the image
    box = [10.0, 20.0, 74.0, 84.0]
    out = t(_clip(['template'], [box], img))
    region = out['crop_region'][0]
    assert region == [-22, -12, 106, 116]  # center (42, 52), side 128
    np.testing.assert_array_equal(out['img'][0],
                                  _naive_crop(img, region, 7))
    np.testing.assert_allclose(out['gt_bboxes'][0], [[32, 32, 96, 96]])
    assert out['crop_scale'] == [1.0]
    assert out['img_shape'] == [(128, 128)]
    # 'mean' padding fills with the per-channel image mean
    out = SOTCropRegion()(_clip(['template'], [box], img))
    mean = img.reshape(-1, 3).mean(0)
    assert out['img'][0].shape == (128, 128, 3)
    np.testing.assert_allclose(out['img'][0][0, 0], mean, atol=1.0)


def test_crop_region_entirely_outside_the_image():
    img = _image(50, 50)
    patch = SOTCropRegion(pad_val=3)
    out = patch(_clip(['template'], [[200.0, 200.0, 210.0, 210.0]], img))
    assert (out['img'][0] == 3).all()


def test_crop_scale_and_box_mapping():
    # 30 x 20 box: side = ceil(sqrt(600) * 4) = 98 -> 256
    t = SOTCropRegion(search_jitter=(0, 0))
    box = [100.0, 80.0, 130.0, 100.0]
    out = t(_clip(['template', 'search'], [box, box]))
    side = int(np.ceil(np.sqrt(600) * 4))
    region = out['crop_region'][1]
    assert region[2] - region[0] == side == region[3] - region[1]
    scale = 256 / side
    expected = (np.array(box) - np.array(region[:2] * 2)) * scale
    np.testing.assert_allclose(out['gt_bboxes'][1][0], expected, rtol=1e-6)
    assert out['img'][1].shape == (256, 256, 3)
    assert out['img'][0].shape == (128, 128, 3)


def test_search_jitter_shared_with_supports():
    np.random.seed(3)
    t = SOTCropRegion(search_jitter=(0.3, 2.0), clip_boxes=False)
    # supports: same box size, translated -> same relative crop geometry
    boxes = [[50.0, 60.0, 90.0, 80.0], [60.0, 70.0, 100.0, 90.0],
             [30.0, 40.0, 70.0, 60.0], [44.0, 52.0, 84.0, 72.0]]
    results = []
    for _ in range(5):
        out = t(_clip(['template', 'search', 'support', 'support'], boxes))
        sb = out['gt_bboxes'][1]
        for k in (2, 3):
            np.testing.assert_allclose(out['gt_bboxes'][k], sb, atol=1e-4)
        results.append(sb[0])
        # template: no jitter, centered within half an image pixel
        tb = out['gt_bboxes'][0][0]
        half_px = 0.5 * out['crop_scale'][0]
        np.testing.assert_allclose((tb[:2] + tb[2:]) / 2, 64,
                                   atol=half_px + 1e-4)
    # the jitter really moves the search box between samples
    assert np.ptp(np.stack(results)[:, 0]) > 5
    # 'search': the supports are cropped at the search frame's region
    t = SOTCropRegion(search_jitter=(0.3, 2.0), support_region='search')
    out = t(_clip(['template', 'search', 'support'], boxes[:3]))
    assert out['crop_region'][2] == out['crop_region'][1]
    assert out['crop_region'][0] != out['crop_region'][1]


def test_search_center_previous():
    """'previous': the search crop is centered on the latest earlier
    support's box (frame 9 for search frame 10), the supports get the same
    relative shift around their own boxes; without an earlier support it
    is 'own'."""
    t = SOTCropRegion(search_jitter=(0, 0), search_center='previous',
                      clip_boxes=False)
    boxes = [[50.0, 60.0, 90.0, 80.0], [100.0, 70.0, 140.0, 90.0],
             [60.0, 50.0, 100.0, 70.0], [80.0, 60.0, 120.0, 80.0]]
    clip = _clip(['template', 'search', 'support', 'support'], boxes)
    clip['frame_id'] = [0, 10, 8, 9]

    def center(region):
        return np.array([(region[0] + region[2]) / 2,
                         (region[1] + region[3]) / 2])

    out = t(clip)
    c = {k: np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
         for k, b in zip((0, 10, 8, 9), boxes)}
    regions = out['crop_region']
    np.testing.assert_allclose(center(regions[1]), c[9], atol=0.5)
    shift = c[9] - c[10]
    np.testing.assert_allclose(center(regions[3]), c[9] + shift, atol=0.5)
    np.testing.assert_allclose(center(regions[2]), c[8] + shift, atol=0.5)
    # the search box sits where the motion put it, as in every support
    sb = out['gt_bboxes'][1][0]
    for k in (2, 3):
        np.testing.assert_allclose(out['gt_bboxes'][k][0], sb, atol=0.6)
    np.testing.assert_allclose((sb[:2] + sb[2:]) / 2 - 128,
                               -shift * out['crop_scale'][1], atol=1.0)
    # no earlier support: the search crop is centered on its own box
    clip = _clip(['template', 'search'], boxes[:2])
    own = SOTCropRegion(search_jitter=(0, 0))(dict(clip))
    prev = t(dict(_clip(['template', 'search'], boxes[:2])))
    assert prev['crop_region'] == own['crop_region']
    with pytest.raises(ValueError, match='search_center'):
        SOTCropRegion(search_center='next')


def test_crop_errors():
    t = SOTCropRegion()
    with pytest.raises(ValueError, match="sequence 'seq' frame 1: no "
                       'positive target box'):
        t(_clip(['template', 'search'], [[0, 0, 5, 5], [3, 3, 3, 9]]))
    with pytest.raises(KeyError, match='frame_role'):
        t(dict(img=[_image()], bbox=[[0, 0, 5, 5]]))
    with pytest.raises(ValueError):
        SOTCropRegion(support_region='mixed')
    with pytest.raises(ValueError):
        SOTCropRegion(search_jitter=(0.1, ))
