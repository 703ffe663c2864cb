"""Support frames of every frame of a test item that holds its video."""
from typing import Dict, List

from mmdet.registry import TRANSFORMS

from .frame_sampling import SupportFrameSample


@TRANSFORMS.register_module()
class VideoSupportFrameSample(SupportFrameSample):
    """Give every frame of a test item its support frames, chosen among the
    frames the item already holds.

    mmdet's video datasets in test mode hand the pipeline a dict of lists: the
    whole video (video-level sampling, ``DefaultSampler``: mmdet's
    YouTube-VIS test) or one frame (``TrackImgSampler``: mmdet's MOT test).
    Every frame is a key frame (no reference frame at test). For a whole
    video, frame ``t`` gets ``sample_support(N, t)`` (the rules of
    :class:`SupportFrameSample`; with ``method='from_model'`` those of
    ``model.backbone.test_support``, handed over by ``VideoContextHook``):
    offline, frame 0 gets K frames spread over the video and the others none;
    online, none; 'frames', K neighbours each. Nothing is loaded twice: the
    output ``support_inds[t]`` indexes the loaded frames, for
    ``PackTrackClipInputs``. A one-frame item of a longer video works in
    online mode only (the other modes need frames it does not hold).

    Output (one entry per frame): ``support_inds``, ``num_support``,
    ``support_mode``.

    Args:
        method (str): Defaults to 'from_model'.
        **kwargs: See :class:`SupportFrameSample`.
    """

    def __init__(self, method: str = 'from_model', **kwargs) -> None:
        super().__init__(method=method, **kwargs)

    def transform(self, results: dict) -> Dict[str, List]:
        """Add the per-frame support indices.

        Args:
            results (dict): A test item of mmdet's ``BaseVideoDataset``.

        Returns:
            dict: ``results`` with ``support_inds``, ``num_support`` and
            ``support_mode`` (one entry per frame).
        """
        num = len(results['img_id'])
        video = results.get('video_id', [None])[0]
        total = results.get('ori_video_length', [num])[0]
        frame_ids = list(results.get('frame_id') or range(num))
        method, _, _ = self._effective()
        if num == total:
            sampled = [self.sample_support(total, t) for t in range(num)]
        elif method == 'online':
            sampled = [([], 'online')] * num
        else:
            raise ValueError(
                f'video {video!r} frame {frame_ids[0]}: support method '
                f'{method!r} needs frames of the whole video, but this test '
                f'item holds {num} of its {total} frames (frame-level '
                'sampling, e.g. TrackImgSampler). Use video-level sampling '
                "(sampler=dict(type='DefaultSampler', shuffle=False)) or "
                "model.backbone.test_support.mode='online'")
        out = dict(results)
        out['support_inds'] = [list(s) for s, _ in sampled]
        out['num_support'] = [len(s) for s, _ in sampled]
        out['support_mode'] = [m for _, m in sampled]
        return out
