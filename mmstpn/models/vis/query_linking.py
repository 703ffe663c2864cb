"""MinVIS's linking of instance queries across frames: Hungarian matching
on query-embedding cosine similarity, and the per-video state it keeps."""
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from mmstpn.structures import ClipMeta


def match_queries(previous: Tensor, current: Tensor) -> Tensor:
    """The permutation of ``current`` queries that aligns them with
    ``previous`` ones.

    Args:
        previous (Tensor): ``(Q, C)`` query embeddings of the previous frame,
            in track order.
        current (Tensor): ``(Q, C)`` query embeddings of this frame.

    Returns:
        Tensor: ``perm`` (Q,) long, such that ``current[perm[j]]`` is the
        query assigned to track ``j``: the one-to-one assignment of least
        total cost ``1 - cos(previous[j], current[perm[j]])``
        (``scipy.optimize.linear_sum_assignment``).
    """
    if previous.shape != current.shape or previous.dim() != 2:
        raise ValueError('query embeddings of the previous and the current '
                         f'frame must both be (Q, C), got '
                         f'{tuple(previous.shape)} and {tuple(current.shape)}')
    sim = F.normalize(previous.float(), dim=1) @ \
        F.normalize(current.float(), dim=1).t()
    tracks, queries = linear_sum_assignment((1 - sim).cpu().numpy())
    perm = torch.empty(len(tracks), dtype=torch.long)
    perm[torch.as_tensor(tracks)] = torch.as_tensor(queries)
    return perm.to(current.device)


@dataclass
class QueryTrackState:
    """What MinVIS keeps for ONE video at test time (a slot of the model's
    :class:`~mmstpn.structures.VideoContext`, so the context's reset rule
    applies: a video's frame 0 starts it afresh).

    Track ``j`` is query ``j`` of the video's first frame; each later frame's
    queries are permuted onto the tracks by :func:`match_queries` against
    the previous frame's (already permuted) embeddings.

    Args:
        embeds (Tensor, optional): ``(Q, C)`` the last frame's query
            embeddings in track order.
        logits_sum (Tensor, optional): ``(Q, num_classes + 1)`` the sum of
            the tracks' class logits over the frames seen.
        num_frames (int): Frames seen.
        last_frame (int): The last frame's id (-1: none yet).
    """

    embeds: Optional[Tensor] = None
    logits_sum: Optional[Tensor] = None
    num_frames: int = 0
    last_frame: int = -1

    def link(self, meta: ClipMeta, embeds: Tensor, logits: Tensor) -> Tensor:
        """Link one frame's queries to the tracks and add its logits.

        Args:
            meta (ClipMeta): The frame (for the order check and messages).
            embeds (Tensor): ``(Q, C)`` its query embeddings.
            logits (Tensor): ``(Q, num_classes + 1)`` its class logits.

        Returns:
            Tensor: The permutation (see :func:`match_queries`; identity at
            the video's first frame).

        Raises:
            ValueError: The frame is not after the last one seen (a video's
                frames must reach one process in order).
        """
        if meta.frame_id <= self.last_frame:
            raise ValueError(
                f'video {meta.video_key!r}: frame {meta.frame_id} arrived '
                f'after frame {self.last_frame}; MinVIS links each frame to '
                'the previous one, so a video\'s frames must reach one '
                'process in order')
        if self.embeds is None:
            perm = torch.arange(embeds.shape[0], device=embeds.device)
            self.logits_sum = logits.detach().float().clone()
        else:
            perm = match_queries(self.embeds, embeds)
            self.logits_sum = self.logits_sum + logits[perm].detach().float()
        self.embeds = embeds[perm].detach()
        self.num_frames += 1
        self.last_frame = meta.frame_id
        return perm

    @property
    def mean_logits(self) -> Tensor:
        """``(Q, num_classes + 1)`` the tracks' class logits averaged over
        the frames seen."""
        if self.logits_sum is None:
            raise ValueError('no frame has been linked yet')
        return self.logits_sum / self.num_frames
