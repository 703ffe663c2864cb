from typing import Optional, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmdet.models.backbones import SwinTransformer
from mmdet.models.backbones.swin import SwinBlock
from mmdet.models.layers import PatchMerging
from mmdet.registry import MODELS
from mmengine.config import ConfigDict
from torch import Tensor

from ..layers import prompted_window_attention
from .stpn_base import STPNBackboneMixin

PROMPT_MERGE_MODES = ('repeat', 'interleave')


@MODELS.register_module()
class STPNSwin(STPNBackboneMixin, SwinTransformer):
    """Swin Transformer with spatio-temporal prompts (STPN, released variant).

    All Swin arguments are mmdet's ``SwinTransformer`` ones and its modules
    are used as they are, so a ``SwinTransformer`` checkpoint loads with no
    missing or unexpected backbone keys (only ``predictor.*`` is new).

    Prompts are inserted after patch embedding (and its norm), appended to
    every attention window (zero relative-position bias and zero shift mask
    for prompt entries), averaged over the windows of their own image after
    attention, carried through patch merging by 4x channel repetition
    through the same norm and reduction, and dropped from every stage output.

    Args:
        predictor (dict, optional): DVP predictor config; ``in_channels``,
            ``prompt_dims`` and ``num_prompts`` are filled in. Defaults to
            ``dict(type='AttentionDVPPredictor')``.
        num_prompts (int): N_P. Defaults to 5. 0 gives the same backbone
            without prompts (mmdet's Swin on the key frame: the baseline).
        support_grad (bool): Back-propagate through the support pass.
            Defaults to False (released: the support branch is detached).
        prompt_merge (str): How a prompt is widened to 4C at patch merging.
            ``'repeat'`` (released default) concatenates 4 copies ``[p, p, p,
            p]``; ``'interleave'`` lays them out as mmdet's unfold-ordered
            merge lays out a 2x2 patch whose four cells all equal ``p``.
        test_support (dict, optional): The test-time support policy,
            ``dict(mode='offline' | 'online' | 'frames', num_support=14,
            stride=1)`` (:class:`~mmstpn.structures.SupportPolicy`).
            Defaults to the released offline policy.
        support_eval (bool): Run the no-grad support pass of training
            without drop-path / dropout. Defaults to False (released).
        support_chunk (int): Test-time support frames per unprompted pass
            (0: all at once). Defaults to 1: an offline video's frame 0
            (K=14 support frames) peaks near one frame's memory; same
            result.
        train_support_chunk (int): The same for the no-grad support pass of
            training. Defaults to 4.
        compile (bool | dict): ``torch.compile`` the prompted and the
            support passes at test time (a dict: ``torch.compile``
            arguments, e.g. ``dict(backend='inductor', mode=None)``).
            Defaults to False (eager).
        **kwargs: ``SwinTransformer`` arguments.

    See docs/models.md.
    """

    def __init__(self,
                 predictor: Optional[dict] = None,
                 num_prompts: int = 5,
                 support_grad: bool = False,
                 prompt_merge: str = 'repeat',
                 test_support: Optional[dict] = None,
                 support_eval: bool = False,
                 support_chunk: int = 1,
                 train_support_chunk: int = 4,
                 compile: Union[bool, dict] = False,
                 in_channels: int = 3,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        # mmdet's Swin reads ``init_cfg.checkpoint`` as an attribute
        init_cfg = ConfigDict(init_cfg) if isinstance(init_cfg, dict) \
            else init_cfg
        super().__init__(in_channels=in_channels, init_cfg=init_cfg, **kwargs)
        if prompt_merge not in PROMPT_MERGE_MODES:
            raise ValueError(f'prompt_merge must be one of '
                             f'{PROMPT_MERGE_MODES}, got {prompt_merge!r}')
        self.in_channels = in_channels
        self.prompt_merge = prompt_merge
        self.init_stpn(predictor, self.num_features[-1], self.num_features[0],
                       num_prompts, support_grad, test_support,
                       support_chunk=support_chunk,
                       support_eval=support_eval,
                       train_support_chunk=train_support_chunk,
                       compile=compile)

    def init_weights(self) -> None:
        """Swin weights as mmdet does, and the predictor's own
        initialisation. From scratch mmdet re-initialises every Linear, so
        the predictor is initialised after it; with a ``Pretrained``
        ``init_cfg`` it is initialised first, so that a checkpoint holding
        ``backbone.predictor.*`` (a full STPN checkpoint) keeps its
        predictor."""
        pretrained = self.init_cfg is not None and \
            self.init_cfg.get('type') == 'Pretrained'
        if self.predictor is not None and pretrained:
            self.predictor.init_weights()
        super().init_weights()
        if self.predictor is not None and not pretrained:
            self.predictor.init_weights()

    # ---------------------------------------------------------------- passes
    def support_embeddings(self,
                           frames: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """The stock, unprompted Swin pass of support frames.

        Args:
            frames (Tensor): (M, C, H, W) frames.

        Returns:
            tuple: Last-stage tokens (M, h*w, C_L) (after its norm when it
            has one) and ``(h, w)``.
        """
        x, hw = self._embed(frames)
        last = len(self.stages) - 1
        for stage in self.stages:
            x, hw, out, out_hw = stage(x, hw)
        if last in self.out_indices:
            out = getattr(self, f'norm{last}')(out)
        return out, out_hw

    def forward_prompted(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        """Prompted pass; without prompts it is exactly mmdet's Swin.

        Args:
            x (Tensor): (N, C, H, W) key frames.
            prompts (Tensor): (N, P, d) prompts (P may be 0).

        Returns:
            tuple[Tensor]: One (N, C_i, H_i, W_i) map per ``out_indices``.
        """
        if prompts.shape[1] == 0 and prompts.shape[0] == x.shape[0]:
            return tuple(SwinTransformer.forward(self, x))
        return self.forward_tokens(x, prompts)

    def forward_tokens(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        """The prompted pass for any number of prompts (also 0).

        Args:
            x (Tensor): (N, C, H, W) key frames.
            prompts (Tensor): (N, P, d) prompts.

        Returns:
            tuple[Tensor]: One map per ``out_indices``, prompts dropped.
        """
        tokens, hw = self._embed(x)
        num_prompts = prompts.shape[1]
        tokens = self.prepend_prompts(prompts, tokens, x)
        outs = []
        for i, stage in enumerate(self.stages):
            for block in stage.blocks:
                tokens = self._block(block, tokens, hw, num_prompts)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(tokens[:, num_prompts:])
                outs.append(
                    out.view(-1, *hw, self.num_features[i]).permute(
                        0, 3, 1, 2).contiguous())
            if stage.downsample:
                tokens, hw = self._merge(stage.downsample, tokens, hw,
                                         num_prompts)
        return tuple(outs)

    # ---------------------------------------------------------------- pieces
    def _embed(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        x, hw = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        return self.drop_after_pos(x), hw

    def _merge(self, merge: PatchMerging, tokens: Tensor, hw: Tuple[int, int],
               num_prompts: int) -> Tuple[Tensor, Tuple[int, int]]:
        prompts, patches = tokens[:, :num_prompts], tokens[:, num_prompts:]
        patches, hw = merge(patches, hw)
        if self.prompt_merge == 'repeat':
            prompts = prompts.repeat(1, 1, 4)
        else:
            prompts = prompts.repeat_interleave(4, dim=-1)
        if merge.norm is not None:
            prompts = merge.norm(prompts)
        prompts = merge.reduction(prompts)
        return torch.cat([prompts, patches], dim=1), hw

    def _block(self, block: SwinBlock, tokens: Tensor, hw: Tuple[int, int],
               num_prompts: int) -> Tensor:

        def inner(x: Tensor) -> Tensor:
            attn = self._attention(block, block.norm1(x), hw, num_prompts)
            x = x + block.attn.drop(attn)
            return block.ffn(block.norm2(x), identity=x)

        if block.with_cp and tokens.requires_grad:
            return cp.checkpoint(inner, tokens, use_reentrant=False)
        return inner(tokens)

    def _attention(self, block: SwinBlock, x: Tensor, hw: Tuple[int, int],
                   num_prompts: int) -> Tensor:
        """Shifted-window attention of patches and prompts (before the
        block's residual), with mmdet's WindowMSA weights."""
        shift_msa = block.attn
        msa = shift_msa.w_msa
        lw = msa.window_size[0] * msa.window_size[1]
        rel_bias = msa.relative_position_bias_table[
            msa.relative_position_index.view(-1)].view(lw, lw, -1).permute(
                2, 0, 1)
        return prompted_window_attention(
            x,
            hw,
            num_prompts,
            shift_msa.window_size,
            msa.qkv,
            msa.proj,
            msa.num_heads,
            msa.scale,
            shift=shift_msa.shift_size,
            rel_bias=rel_bias,
            attn_drop=msa.attn_drop.p if self.training else 0.,
            proj_drop=msa.proj_drop)
