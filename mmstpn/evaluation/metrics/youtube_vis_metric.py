# Copyright (c) OpenMMLab. All rights reserved.
"""mmdet's YouTube-VIS metric computing its AP under numpy >= 1.24."""
from typing import Dict, List

from mmdet.evaluation.metrics import YouTubeVISMetric
from mmdet.registry import METRICS

from ..functional.ytvis_compat import YTVISevalCompat, with_globals


@METRICS.register_module()
class YouTubeVISMetricNp2(YouTubeVISMetric):
    """``YouTubeVISMetric`` (mmdet 3.3) that evaluates under numpy 2.

    Same arguments, outputs (``youtube_vis/segm_mAP``, ``..._mAP_50``, ...)
    and ``format_only`` zip as mmdet's class; the only difference is that
    the AP is computed with :class:`~mmstpn.evaluation.functional.
    ytvis_compat.YTVISevalCompat` instead of mmdet's ``YTVISeval``, whose
    ``accumulate`` uses the ``np.float`` alias that numpy 1.24 removed.
    ``compute_metrics`` is mmdet's own function, run with the name
    ``YTVISeval`` rebound to that subclass (nothing in mmdet is modified).

    It is registered under a new name on purpose: ``type='YouTubeVISMetric'``
    keeps meaning mmdet's class. Use it for local AP, e.g. on a held-out
    split of YouTube-VIS train (see
    ``tools/dataset_converters/youtubevis2coco.py --holdout-videos``), whose
    val / test annotations are not public. Like mmdet's class it evaluates
    whole videos: use a video-level sampler
    (``DefaultSampler(shuffle=False)``), not ``TrackImgSampler``.
    """

    _compute_metrics = staticmethod(
        with_globals(YouTubeVISMetric.compute_metrics,
                     YTVISeval=YTVISevalCompat))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        """Compute the metrics from processed results (mmdet's code).

        Args:
            results (list): The processed results of each video.

        Returns:
            dict[str, float]: ``segm_mAP``, ``segm_mAP_50``, ... (or the
            ``metric_items``); empty with ``format_only``.
        """
        return self._compute_metrics(self, results)
