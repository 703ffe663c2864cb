from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from mmstpn.structures import BackboneInput, as_clip_batch

from ..layers.candidate_elimination import (num_kept, restore_search,
                                            template_center_index)
from .stpn_base import Embedded
from .stpn_vit import STPNViT


@MODELS.register_module()
class STPNOneStreamViT(STPNViT):
    """Joint template + search ViT of a one-stream (OSTrack-style) tracker,
    with spatio-temporal prompts and optional candidate elimination.

    Template and search crops share the patch embedding, get their own
    position tables (``pos_embed_template``, ``template_size // patch_size``
    squared, for the template; ``pos_embed``, sized by ``img_size``, for the
    search crop) and run as ONE token sequence ``[prompts, template,
    search]`` through global blocks; the prompts are dropped from the output
    (:meth:`forward_joint`). Prompts get no position embedding.

    The support embeddings are the final-norm search tokens of the
    unprompted pass of a support SEARCH crop: with ``support_pass='joint'``
    the joint pass with the item's template (the same template for every
    support of an item; at test the sequence's template), with ``'search'``
    the crop alone. The training / test-time policy logic of
    :class:`STPNBackboneMixin` applies to ``ClipBatch`` es of search crops,
    the template travelling as the support pass's ``context``
    (:meth:`support_context`).

    Candidate elimination (``ce_loc``, joint pass only, training and test):
    at each ``ce_loc`` block, between attention and FFN, every item keeps its
    ``ceil(ratio * current)`` search tokens most attended by the template
    center tokens (mean over heads and center rows); prompts and template
    tokens are never dropped, and the joint pass returns the full (hs, ws)
    search grid with zeros at the dropped positions (after the final norm).
    The unprompted support pass runs without it.

    Args:
        template_size (int): Side of the template crop (e.g. 128); at least
            ``patch_size``.
        ce_loc (Sequence[int]): Blocks after whose attention candidate
            elimination drops search tokens (e.g. ``(3, 6, 9)`` for ViT-B);
            default ``()``: off.
        ce_keep_ratio (float | Sequence[float]): Fraction of the current
            search tokens kept at each ``ce_loc`` block (one value for all,
            or one per location), in (0, 1].
        support_pass (str): The unprompted pass that gives a support search
            crop's embedding: ``'joint'`` (with the template: its search
            tokens carry where the template's target is in that crop) or
            ``'search'`` (the crop alone).
        support_pos_embed (bool): Add the search position table,
            layer-normalised (the scale of the final-norm tokens), to the
            support embeddings, so that a prompt can say where the target is
            in the support crop.
        **kwargs: The arguments of :class:`STPNViT` (any ``patch_size``;
            ``window_block_indices`` must be empty: every block is global).

    Raises:
        ValueError: Bad ``template_size``, ``support_pass``, ``ce_loc``,
            ``ce_keep_ratio`` or windowed blocks, naming the config key.

    See docs/models.md.
    """

    required_patch_size = None

    def __init__(self,
                 template_size: int,
                 ce_loc: Sequence[int] = (),
                 ce_keep_ratio: Union[float, Sequence[float]] = 1.0,
                 support_pass: str = 'joint',
                 support_pos_embed: bool = False,
                 **kwargs) -> None:
        if support_pass not in ('joint', 'search'):
            raise ValueError("model.backbone.support_pass must be 'joint' or "
                             f"'search', got {support_pass!r}")
        patch_size = kwargs.get('patch_size', 16)
        if template_size is None or template_size < patch_size:
            raise ValueError(
                f'model.backbone.template_size must be >= patch_size '
                f'({patch_size}), got {template_size}')
        windows = tuple(kwargs.get('window_block_indices', ()))
        if windows:
            raise ValueError(
                'a tracker backbone attends globally over the joint '
                'template + search sequence; window_block_indices must be '
                f'empty, got {windows}')
        super().__init__(**kwargs)
        self.support_pass = support_pass
        self.support_pos_embed = bool(support_pos_embed)
        self.ce_ratios = self._ce_ratios(ce_loc, ce_keep_ratio,
                                         len(self.blocks))
        self.template_size = template_size
        self.template_grid = template_size // patch_size
        self.pos_embed_template = nn.Parameter(
            torch.zeros(1, self.template_grid**2, self.embed_dims))

    def position_tables(self) -> Tuple[nn.Parameter, ...]:
        """The learnable position tables.

        Returns:
            tuple[nn.Parameter]: The search table, then the template's.
        """
        return (self.pos_embed, self.pos_embed_template)

    @staticmethod
    def _ce_ratios(ce_loc: Sequence[int],
                   ce_keep_ratio: Union[float, Sequence[float]],
                   depth: int) -> dict:
        """``{block index: keep ratio}`` of candidate elimination."""
        loc = tuple(ce_loc)
        if not loc:
            return {}
        if len(set(loc)) != len(loc) or not all(
                isinstance(i, int) and 0 <= i < depth for i in loc):
            raise ValueError(
                'model.backbone.ce_loc must be distinct block indices in '
                f'0..{depth - 1}, got {loc}')
        ratios = (ce_keep_ratio, ) * len(loc) if isinstance(
            ce_keep_ratio, (int, float)) else tuple(ce_keep_ratio)
        if len(ratios) != len(loc) or not all(
                isinstance(r, (int, float)) and 0 < r <= 1 for r in ratios):
            raise ValueError(
                'model.backbone.ce_keep_ratio must be a number in (0, 1] or '
                f'one per ce_loc {loc}, got {ce_keep_ratio!r}')
        return dict(zip(loc, map(float, ratios)))

    # ---------------------------------------------------------------- passes
    def _embed(self, x: Tensor, template: bool = False) -> Embedded:
        """(M, C, H, W) -> patch tokens + the search (default) or template
        position table, and (h, w)."""
        if not template:
            return super()._embed(x)
        tokens, hw = self.patch_embed(x)
        hw = tuple(hw)
        return tokens + self.resize_pos_embed(
            self.pos_embed_template, self.template_grid, hw), hw

    def _run_blocks_ce(self, tokens: Tensor, hw: Tuple[int, int],
                       num_prompts: int,
                       template_hw: Tuple[int, int]) -> Tensor:
        """:meth:`_run_blocks` of a joint ``[prompts, template, search]``
        sequence with candidate elimination of search tokens; returns the
        final-norm ``[template, search]`` tokens with the full search grid
        (zeros at the dropped positions)."""
        lt = template_hw[0] * template_hw[1]
        start = num_prompts + lt  # first search token
        rows = num_prompts + template_center_index(template_hw,
                                                   tokens.device)
        num_search = tokens.shape[1] - start
        # grid position of every search token still in the sequence
        index = torch.arange(num_search, device=tokens.device).expand(
            tokens.shape[0], -1)
        for i, block in enumerate(self.blocks):
            ratio = self.ce_ratios.get(i, 1.)
            keep = num_kept(index.shape[1], ratio)
            if keep >= index.shape[1]:
                tokens = block(tokens, hw, num_prompts)
                continue
            tokens, kept = block.forward_ce(tokens, rows, start, keep)
            index = index.gather(1, kept)
        out = self.norm(tokens[:, num_prompts:])
        return torch.cat(
            [out[:, :lt], restore_search(out[:, lt:], index, num_search)],
            dim=1)

    def support_embeddings(self,
                           frames: Tensor,
                           template: Optional[Tensor] = None) -> Embedded:
        """Unprompted pass of support search crops (no candidate
        elimination).

        Args:
            frames (Tensor): (M, C, H, W) search crops.
            template (Tensor, optional): (M, C, Ht, Wt) templates: the joint
                pass with them; None: the crops alone.

        Returns:
            tuple: Final-norm search tokens (M, h*w, C) (plus the
            layer-normalised search table with ``support_pos_embed``) and
            ``(h, w)``.
        """
        tokens, hw = self._embed(frames)
        if template is None:
            out = self._run_blocks(tokens, hw, 0)
        else:
            t_tokens, _ = self._embed(template, template=True)
            lt = t_tokens.shape[1]
            out = self._run_blocks(
                torch.cat([t_tokens, tokens], dim=1), hw, 0)[:, lt:]
        if self.support_pos_embed:
            # the table at the scale of the final-norm tokens
            pos = self.resize_pos_embed(self.pos_embed, self.pos_grid, hw)
            out = out + F.layer_norm(pos, pos.shape[-1:])
        return out, hw

    def support_context(self, template: Tensor) -> Optional[Tensor]:
        """What the tracker passes as ``context`` of the support pass.

        Args:
            template (Tensor): (N, C, Ht, Wt) template crops.

        Returns:
            Tensor | None: ``template`` with ``support_pass='joint'``, else
            None.
        """
        return template if self.support_pass == 'joint' else None

    def forward_prompted(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        """Not available: a tracker backbone has no single-image pass;
        raises a ValueError pointing to :meth:`forward_tracking`."""
        raise ValueError(
            f'this {type(self).__name__} is a tracker backbone '
            f'(template_size={self.template_size}): it has no detection '
            'pass; call forward_joint / forward_tracking with template and '
            'search crops')

    def forward_joint(self,
                      template: Tensor,
                      search: Tensor,
                      prompts: Optional[Tensor] = None,
                      return_template: bool = False):
        """Joint pass of one-stream tracking.

        Args:
            template (Tensor): (B, C, Ht, Wt) template crops.
            search (Tensor): (B, C, Hs, Ws) search crops.
            prompts (Tensor, optional): (B, P, C) prompts prepended to the
                joint sequence (None or P=0: the plain joint ViT).
            return_template (bool): Also return the template tokens.

        Returns:
            tuple: ``(search tokens (B, Ls, C), (hs, ws))``, or with
            ``return_template`` ``(search tokens, template tokens (B, Lt, C),
            (hs, ws))``; final-norm tokens, prompts dropped.
        """
        for name, x in (('template', template), ('search', search)):
            if not isinstance(x, Tensor) or x.dim() != 4 or \
                    x.shape[1] != self.in_channels:
                shape = tuple(x.shape) if isinstance(x, Tensor) else \
                    type(x).__name__
                raise ValueError(
                    f'forward_joint: {name} must be (B, {self.in_channels}, '
                    f'H, W), got {shape}')
        if template.shape[0] != search.shape[0]:
            raise ValueError(f'forward_joint: {template.shape[0]} templates '
                             f'for {search.shape[0]} search crops')
        t_tokens, t_hw = self._embed(template, template=True)
        s_tokens, hw = self._embed(search)
        tokens = torch.cat([t_tokens, s_tokens], dim=1)
        num_prompts = 0
        if prompts is not None and prompts.shape[1] > 0:
            num_prompts = prompts.shape[1]
            tokens = self.prepend_prompts(prompts, tokens, search)
        if self.ce_ratios:
            out = self._run_blocks_ce(tokens, hw, num_prompts, t_hw)
        else:
            out = self._run_blocks(tokens, hw, num_prompts)
        lt = t_tokens.shape[1]
        if return_template:
            return out[:, lt:], out[:, :lt], hw
        return out[:, lt:], hw

    def forward_tracking(
            self, template: Tensor, search: BackboneInput
    ) -> Tuple[Tensor, Tuple[int, int], Optional[Tensor]]:
        """Prompted joint pass with the prompts the policy gives.

        Args:
            template (Tensor): (N, C, Ht, Wt) template crops.
            search (ClipBatch | Tensor): search crops as key frames with
                their support search crops (``(N, 1+K, C, H, W)``; training:
                prompts from the carried supports; test: the
                ``test_support`` policy) or ``(N, C, H, W)`` search crops
                (each its own support).

        Returns:
            tuple: search tokens (N, Ls, C), their grid (hs, ws) and the
            (N, P, C) prompts (None without prompts).
        """
        still = isinstance(search, Tensor) and search.dim() == 4
        batch = as_clip_batch(search)
        self.check_inputs(batch.frames)
        key = batch.key_frames
        if self.predictor is None:
            tokens, hw = self.forward_joint(template, key)
            return tokens, hw, None
        prompts = self.prompts_for(batch, still,
                                   self.support_context(template))
        tokens, hw = self.forward_joint(template, key, prompts)
        return tokens, hw, prompts
