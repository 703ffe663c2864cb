from typing import Optional, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn


class BaseDVPPredictor(BaseModule):
    """Base class of dynamic video prompt (DVP) predictors.

    A predictor maps the support embeddings of K support frames to
    ``num_prompts`` prompt tokens of width ``prompt_dims``.

    Initialisation: without ``init_cfg`` every layer of the predictor gets
    PyTorch's default initialisation (``reset_parameters``) in
    ``init_weights``, whatever the backbone's initialisation did before
    (mmdet's from-scratch Swin re-initialises every Linear of the model;
    why this matters: docs/toy_vid.md).

    Args:
        in_channels (int): Width of the support tokens (C_L, the last stage).
        prompt_dims (int): Width of the prompts (d_p, the first stage).
        num_prompts (int): Number of prompts N_P. Defaults to 5.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 prompt_dims: int,
                 num_prompts: int = 5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_prompts < 1:
            raise ValueError(f'num_prompts must be >= 1, got {num_prompts}')
        self.in_channels = in_channels
        self.prompt_dims = prompt_dims
        self.num_prompts = num_prompts

    def init_weights(self) -> None:
        """``init_cfg`` when given, else PyTorch's default for every
        layer (see the class docstring)."""
        super().init_weights()
        if self.init_cfg is None:
            for module in self.modules():
                if module is not self and isinstance(
                        module, (nn.Linear, nn.LayerNorm, nn.Conv1d)):
                    module.reset_parameters()

    def check_inputs(self, support: Tensor, hw_shape: Tuple[int, int],
                     support_mask: Optional[Tensor]) -> None:
        """Check the inputs of :meth:`forward`.

        Args:
            support (Tensor): (N, K, h*w, in_channels) support tokens.
            hw_shape (tuple[int, int]): (h, w) of each frame's grid.
            support_mask (Tensor, optional): Bool (N, K).

        Raises:
            ValueError: Tokens of another shape or width, a token count
                that does not match ``hw_shape``, or a mask of another shape
                or with an item without a real frame.
        """
        if support.dim() != 4 or support.shape[-1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} expects support tokens of shape '
                f'(N, K, L, {self.in_channels}), got {tuple(support.shape)}')
        if support.shape[2] != hw_shape[0] * hw_shape[1]:
            raise ValueError(f'{support.shape[2]} support tokens per frame do '
                             f'not match hw_shape {tuple(hw_shape)}')
        if support_mask is not None and (
                support_mask.shape != support.shape[:2]
                or not bool(support_mask.any(1).all())):
            raise ValueError('support_mask must have shape (N, K) with at '
                             'least one valid frame per item, got '
                             f'{tuple(support_mask.shape)}')

    def forward(self,
                support: Tensor,
                hw_shape: Tuple[int, int],
                support_mask: Optional[Tensor] = None) -> Tensor:
        """Predict prompts.

        Args:
            support (Tensor): Support tokens, shape (N, K, h*w, in_channels).
            hw_shape (tuple[int, int]): (h, w) of each support frame's grid.
            support_mask (Tensor, optional): Bool (N, K), True for real
                support frames (False for batch padding). None: all real.

        Returns:
            Tensor: Prompts of shape (N, num_prompts, prompt_dims).

        Raises:
            ValueError: Inputs of the wrong shape (every predictor runs
                :meth:`check_inputs`).
        """
        raise NotImplementedError
