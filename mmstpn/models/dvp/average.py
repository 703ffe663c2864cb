from typing import Optional, Tuple

import torch.nn as nn
from mmdet.registry import MODELS
from torch import Tensor

from .base import BaseDVPPredictor


@MODELS.register_module()
class AverageDVPPredictor(BaseDVPPredictor):
    """Average DVP predictor (the released alternative).

    In every support frame the ``num_prompts`` tokens with the largest L1 norm
    are taken in descending order of norm; the r-th ranked tokens of all
    (real) frames are averaged, and a Linear maps ``in_channels ->
    prompt_dims``. Parameter counts: docs/models.md.

    Args:
        in_channels (int): Width of the support tokens.
        prompt_dims (int): Width of the prompts.
        num_prompts (int): Number of prompts. Defaults to 5.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 prompt_dims: int,
                 num_prompts: int = 5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, prompt_dims, num_prompts, init_cfg)
        self.proj = nn.Linear(in_channels, prompt_dims)

    def forward(self,
                support: Tensor,
                hw_shape: Tuple[int, int],
                support_mask: Optional[Tensor] = None) -> Tensor:
        """Predict prompts; arguments and result as
        :meth:`BaseDVPPredictor.forward`.

        Raises:
            ValueError: Fewer tokens per frame than ``num_prompts``, or
                inputs of the wrong shape.
        """
        self.check_inputs(support, hw_shape, support_mask)
        length = support.shape[2]
        if length < self.num_prompts:
            raise ValueError(f'{length} support tokens per frame are fewer '
                             f'than num_prompts={self.num_prompts}')
        norms = support.abs().sum(-1)  # (N, K, L)
        index = norms.topk(self.num_prompts, dim=2, sorted=True).indices
        top = support.gather(
            2, index[..., None].expand(-1, -1, -1, support.shape[-1]))
        if support_mask is None:
            pooled = top.mean(1)
        else:
            weight = support_mask.to(top.dtype)[:, :, None, None]
            pooled = (top * weight).sum(1) / weight.sum(1)
        return self.proj(pooled)
