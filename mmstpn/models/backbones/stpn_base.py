"""What every STPN backbone shares: input handling and its composed parts."""
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import is_model_wrapper
from torch import Tensor, nn

from mmstpn.structures import (BackboneInput, ClipBatch, SupportPolicy,
                               VideoContext, as_clip_batch)
from ..dvp.prompt_generator import Embedded, PromptGenerator
from ..utils import CompiledMethods, compile_options

__all__ = ['STPNBackboneMixin', 'Embedded', 'stpn_backbones']


class STPNBackboneMixin:
    """The part of STPNSwin / STPNViT that is not their architecture.

    A backbone composes a :class:`~mmstpn.structures.VideoContext` (the
    test-time policy declared by its ``test_support`` key, and the
    per-video state) and a :class:`~mmstpn.models.dvp.PromptGenerator`
    (support pass + DVP predictor + policy-aware caching; None without
    prompts). The subclass provides its architecture:
    :meth:`support_embeddings` (unprompted pass -> last-stage tokens) and
    :meth:`forward_prompted` (prompted pass of key frames), and calls
    :meth:`init_stpn` in its ``__init__``. See docs/design/video_context.md.

    Input of :meth:`forward`:

    - a :class:`~mmstpn.structures.ClipBatch`: frames ``(N, 1+K, C, H, W)``
      with one ``ClipMeta`` per item; training: prompts from the carried
      support frames; test: as the video context's policy says.
    - a plain ``(N, C, H, W)`` tensor: still images, each its own support.
    - a plain ``(N, 1+K, C, H, W)`` tensor: all K frames real, no identity
      (at test only under ``mode='frames'``).
    """

    in_channels: int

    def init_stpn(self,
                  predictor: Optional[dict],
                  support_channels: int,
                  prompt_dims: int,
                  num_prompts: int,
                  support_grad: bool,
                  test_support: Union[None, dict, SupportPolicy] = None,
                  support_chunk: int = 1,
                  support_eval: bool = False,
                  train_support_chunk: int = 4,
                  compile: Union[bool, dict, None] = False) -> None:
        """Build the video context, the prompt generator and the compile
        options.

        ``num_prompts=0`` gives the same backbone without prompts: no
        generator, support frames in the input are ignored.

        Args:
            predictor, support_channels, prompt_dims, num_prompts,
            support_grad, test_support, support_chunk, support_eval,
            train_support_chunk, compile: See the backbones' docstrings
                (e.g. :class:`~mmstpn.models.STPNSwin`).

        Raises:
            ValueError: ``num_prompts < 0``, or an invalid policy /
                compile option.
        """
        if num_prompts < 0:
            raise ValueError(f'num_prompts must be >= 0, got {num_prompts}')
        self.num_prompts = num_prompts
        self.prompt_dims = prompt_dims
        self.video_context = VideoContext(test_support)
        self.set_compile(compile)
        self.prompt_generator = None if num_prompts == 0 else PromptGenerator(
            predictor,
            support_channels,
            prompt_dims,
            num_prompts,
            self.video_context,
            support_grad=support_grad,
            support_chunk=support_chunk,
            train_support_chunk=train_support_chunk,
            support_eval=support_eval)

    def train(self, mode: bool = True):
        """Switch mode; entering training empties the video context (a
        submodule).

        Args:
            mode (bool): Training mode.

        Returns:
            nn.Module: ``self``, also where the architecture's own ``train``
            returns None (mmdet's Swin).
        """
        super().train(mode)
        return self

    # ------------------------------------------------------------ parts
    @property
    def predictor(self):
        """The DVP predictor (None without prompts)."""
        gen = self.prompt_generator
        return None if gen is None else gen.predictor

    @property
    def test_support(self) -> SupportPolicy:
        """The model's test-time policy (its video context's). Assigning
        switches it for every consumer of the context."""
        return self.video_context.policy

    @test_support.setter
    def test_support(self, policy: Union[dict, SupportPolicy]) -> None:
        self.video_context.set_policy(policy)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Also load checkpoints that keep the predictor at
        ``backbone.predictor.*``: those keys are mapped to
        ``backbone.prompt_generator.predictor.*``."""
        old = prefix + 'predictor.'
        new = prefix + 'prompt_generator.predictor.'
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[new + key[len(old):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------ compile
    def set_compile(self, compile: Union[bool, dict, None]) -> None:
        """``torch.compile`` :meth:`forward_prompted` and
        :meth:`support_embeddings` at test time; training and the code
        around the two passes stay eager.

        Args:
            compile (bool | dict | None): See
                :func:`~mmstpn.models.utils.compile_options`.
        """
        self._compiled = CompiledMethods(compile_options(compile))

    @property
    def compile_options(self) -> Optional[dict]:
        """The ``torch.compile`` arguments (None: eager)."""
        return self._compiled.options

    def hot_pass(self, name: str) -> Callable:
        """A pass of this backbone, compiled when asked for.

        Args:
            name (str): The method, e.g. ``'forward_prompted'``.

        Returns:
            Callable: ``self.<name>``, compiled in eval mode when
            :meth:`set_compile` asked for it.
        """
        return self._compiled.get(self, name)

    def unprompted_pass(self) -> Callable[..., Embedded]:
        """The unprompted pass the prompt generator runs.

        Returns:
            Callable: :meth:`support_embeddings` (compiled when asked for).
        """
        return self.hot_pass('support_embeddings')

    # ------------------------------------------------------------ subclass
    def support_embeddings(self, frames: Tensor) -> Embedded:
        """Unprompted pass of support frames (provided by the subclass).

        Args:
            frames (Tensor): (M, C, H, W) frames.

        Returns:
            tuple: ``(M, h*w, C_L)`` last-stage tokens and ``(h, w)``.
        """
        raise NotImplementedError

    def forward_prompted(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        """Prompted pass of key frames (provided by the subclass).

        Args:
            x (Tensor): (N, C, H, W) key frames.
            prompts (Tensor): (N, P, d) prompts (P may be 0).

        Returns:
            tuple[Tensor]: The backbone's output maps.
        """
        raise NotImplementedError

    # ------------------------------------------------------------ public
    def check_inputs(self, x: Tensor) -> None:
        """Check the input frames.

        Args:
            x (Tensor): (N, 1+K, C, H, W) clips or (N, C, H, W) images.

        Raises:
            ValueError: Not a tensor, another rank, or channels other than
                ``in_channels``.
        """
        if not isinstance(x, Tensor):
            raise ValueError(f'{type(self).__name__} expects a Tensor, got '
                             f'{type(x).__name__}')
        if x.dim() not in (4, 5):
            raise ValueError(
                f'{type(self).__name__} expects (N, 1+K, C, H, W) clips or '
                f'(N, C, H, W) images, got a {x.dim()}-D tensor of shape '
                f'{tuple(x.shape)}')
        channels = x.shape[-3]
        if channels != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} was built with in_channels='
                f'{self.in_channels} but the input has {channels} channels '
                f'(shape {tuple(x.shape)})')

    @staticmethod
    def prepend_prompts(prompts: Tensor, tokens: Tensor, x: Tensor) -> Tensor:
        """Prompts prepended to the tokens of the key frames.

        Args:
            prompts (Tensor): (N, P, C) prompts (cast to the tokens' dtype).
            tokens (Tensor): (N, L, C) embedded key frames.
            x (Tensor): The key frames, named in the error.

        Returns:
            Tensor: (N, P + L, C) ``[prompts, tokens]``.

        Raises:
            ValueError: Prompts whose batch size or width do not fit.
        """
        if prompts.dim() != 3 or prompts.shape[0] != tokens.shape[0] or \
                prompts.shape[-1] != tokens.shape[-1]:
            raise ValueError(
                f'prompts of shape {tuple(prompts.shape)} do not fit key '
                f'frames of shape {tuple(x.shape)} (expected '
                f'({tokens.shape[0]}, P, {tokens.shape[-1]}))')
        if prompts.dtype != tokens.dtype:
            prompts = prompts.to(tokens.dtype)
        return torch.cat([prompts, tokens], dim=1)

    def compute_prompts(self,
                        clips: BackboneInput,
                        num_support: Optional[Sequence[int]] = None,
                        context: Optional[Tensor] = None) -> Tensor:
        """Prompts from the support frames each item carries, no cache.

        Args:
            clips (ClipBatch | Tensor): The items; see
                :meth:`~mmstpn.models.dvp.PromptGenerator.compute`.
            num_support (Sequence[int], optional): Real support frames per
                item.
            context (Tensor, optional): Per-item extra input of the support
                pass.

        Returns:
            Tensor: (N, P, d) prompts.
        """
        return self.prompt_generator.compute(self, clips, num_support,
                                             context)

    def prompts_for(self,
                    batch: ClipBatch,
                    still: bool = False,
                    context: Optional[Tensor] = None) -> Tensor:
        """Each item's prompts as the video context's policy says.

        Args:
            batch (ClipBatch): The items.
            still (bool): Plain still images (each its own support).
            context (Tensor, optional): Per-item extra input of the support
                pass.

        Returns:
            Tensor: (N, P, d) prompts (see
            :meth:`~mmstpn.models.dvp.PromptGenerator.forward`).

        Raises:
            ValueError: A cached mode without video identity, or a frame
                the policy cannot serve.
        """
        return self.prompt_generator(self, batch, still, context)

    def forward(self, x: BackboneInput) -> Tuple[Tensor]:
        """Prompted features of the key frames.

        Args:
            x (ClipBatch | Tensor): See the class docstring.

        Returns:
            tuple[Tensor]: The backbone's output maps of the key frames.
        """
        return self.forward_with_prompts(x)[0]

    def forward_with_prompts(
            self, x: BackboneInput) -> Tuple[Tuple[Tensor], Optional[Tensor]]:
        """Features and the prompts that made them.

        Args:
            x (ClipBatch | Tensor): See the class docstring.

        Returns:
            tuple: The output maps of the key frames and the (N, P, d)
            prompts (None without prompts).
        """
        still = isinstance(x, Tensor) and x.dim() == 4
        batch = as_clip_batch(x)
        self.check_inputs(batch.frames)
        key = batch.key_frames
        prompted = self.hot_pass('forward_prompted')
        if self.prompt_generator is None:  # a single-frame backbone
            return prompted(
                key, key.new_zeros(key.shape[0], 0, self.prompt_dims)), None
        prompts = self.prompts_for(batch, still)
        return prompted(key, prompts), prompts


def stpn_backbones(model: nn.Module) -> List[STPNBackboneMixin]:
    """Every STPN backbone inside a model.

    Args:
        model (nn.Module): The model (wrappers such as DDP are unwrapped).

    Returns:
        list[STPNBackboneMixin]: In module order.
    """
    if is_model_wrapper(model):
        model = model.module
    return [m for m in model.modules() if isinstance(m, STPNBackboneMixin)]
