"""DumpDetResults that keeps every frame of a video dataset."""
from mmdet.evaluation import DumpDetResults
from mmdet.registry import METRICS
from mmengine.dist import all_gather_object


@METRICS.register_module()
class DumpVideoDetResults(DumpDetResults):
    """mmdet's ``DumpDetResults`` (``tools/test.py --out``) for video
    datasets.

    The test loop calls ``evaluate(len(dataset))``, and the length of a
    video dataset counts videos, not frames: ``BaseMetric.evaluate`` cuts
    the gathered results at that size, so ``DumpDetResults`` would dump only
    the first ``num_videos`` frames (1 process) or the first ``num_videos``
    of the interleaved ranks' frames (several processes). Video samplers in
    test mode (``TrackImgSampler`` / ``VideoFrameSampler``) give every frame
    to exactly one rank without padding, so here all results of all ranks
    are kept, as :class:`~mmstpn.evaluation.VIDMetric` does. The order is
    each rank's frame order, ranks interleaved (mmengine's
    ``collect_results``): match frames by ``img_id``.
    """

    def evaluate(self, size: int) -> dict:
        """Dump the results of every rank, whatever ``size`` says.

        Args:
            size (int): ``len(dataset)`` (videos); the results are not
                cut at it.

        Returns:
            dict: What ``DumpDetResults`` returns (``{}``).
        """
        total = sum(all_gather_object(len(self.results)))
        return super().evaluate(total)
