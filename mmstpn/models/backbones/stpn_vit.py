from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import FFN, build_dropout
from mmdet.models.layers import PatchEmbed
from mmdet.registry import MODELS
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor

from mmstpn.structures import BackboneInput, as_clip_batch

from ..layers import prompted_window_attention
from ..layers.candidate_elimination import (centre_attention_scores,
                                            keep_top_search, num_kept,
                                            restore_search,
                                            template_centre_index)
from .stpn_base import Embedded, STPNBackboneMixin


class PromptedViTBlock(BaseModule):
    """Pre-norm ViT block on ``[prompts, patches]`` token sequences.

    Global blocks attend over all tokens (prompts are ordinary tokens);
    windowed blocks (``window_size > 0``) use the per-window prompt rule of
    :func:`~mmstpn.models.layers.prompted_window_attention`.

    Args:
        embed_dims (int): Token width.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden ratio.
        window_size (int): 0 for global attention, else the window side.
        qkv_bias (bool): Bias in the qkv Linear.
        drop_path_rate (float): Stochastic depth of this block.
        norm_cfg (dict): Norm config.
        with_cp (bool): Gradient checkpointing.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 window_size: int = 0,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 with_cp: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.drop_path = build_dropout(
            dict(type='DropPath', drop_prob=drop_path_rate))
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=int(embed_dims * mlp_ratio),
            num_fcs=2,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
            act_cfg=dict(type='GELU'),
            add_identity=True)

    def forward(self, x: Tensor, hw: Tuple[int, int],
                num_prompts: int) -> Tensor:
        """(B, P+h*w, C) -> (B, P+h*w, C)."""

        def inner(x: Tensor) -> Tensor:
            x = x + self.drop_path(self._attention(self.norm1(x), hw,
                                                   num_prompts))
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)

    def forward_ce(self, x: Tensor, centre_rows: Tensor, search_start: int,
                   keep: int) -> Tuple[Tensor, Tensor]:
        """Global block with candidate elimination between attention and
        FFN (OSTrack's place): the search tokens (from ``search_start``)
        are ranked by the attention of the template ``centre_rows`` and
        only ``keep`` per item go on.

        Returns:
            tuple: (B, search_start + keep, C) tokens and the (B, keep)
            indices of the kept search tokens among the input ones.
        """

        def inner(x: Tensor) -> Tuple[Tensor, Tensor]:
            q, k, v = self._qkv(self.norm1(x))
            out = F.scaled_dot_product_attention(q, k, v)
            x = x + self.drop_path(
                self.proj(out.transpose(1, 2).flatten(2)))
            scores = centre_attention_scores(q, k, centre_rows, search_start)
            x, index = keep_top_search(x, scores, search_start, keep)
            return self.ffn(self.norm2(x), identity=x), index

        if self.window_size > 0:
            raise ValueError('candidate elimination needs a global block')
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)

    def _qkv(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """(B, N, C) -> q, k, v, each (B, heads, N, C // heads)."""
        b, n, c = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).view(b, n, 3, heads, c // heads).permute(
            2, 0, 3, 1, 4)
        return qkv.unbind(0)

    def _attention(self, x: Tensor, hw: Tuple[int, int],
                   num_prompts: int) -> Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        if self.window_size <= 0:
            out = F.scaled_dot_product_attention(*self._qkv(x))
            return self.proj(out.transpose(1, 2).reshape(b, n, c))
        return prompted_window_attention(x, hw, num_prompts,
                                         self.window_size, self.qkv,
                                         self.proj, heads, (c // heads)**-0.5)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@MODELS.register_module()
class STPNViT(STPNBackboneMixin, BaseModule):
    """Plain ViT with spatio-temporal prompts and a simple feature pyramid.

    Patch embedding + learnable absolute position embedding (resized
    bicubically to the input grid) + transformer blocks (global, or windowed
    for the indices in ``window_block_indices`` with the per-window prompt
    rule), a final norm, and a ViTDet-style simple pyramid from the stride-16
    map: strides (4, 8, 16, 32) with widths ``embed_dims // 4, // 2, 1, 1``
    (``out_channels``), ready for mmdet's FPN.

    Prompts are prepended after the position embedding and get NO position
    embedding (mmstpn's choice: they stand for frames, not places). Support
    embeddings are the final-norm patch tokens of the unprompted pass.

    Args:
        img_size (int): Pre-training size that sizes the position table.
        patch_size (int): Patch side (stride of the token grid). Default 16.
        in_channels (int): Input channels.
        embed_dims (int): Token width (ViT-S 384, ViT-B 768).
        depth (int): Number of blocks.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN ratio.
        window_size (int): Window side of windowed blocks.
        window_block_indices (Sequence[int]): Blocks that use windows.
        drop_path_rate (float): Stochastic depth (linearly increasing).
        out_indices (Sequence[int]): Pyramid levels to return (0..3).
        predictor (dict, optional): DVP predictor config.
        num_prompts (int): N_P; 0 gives the same ViT without prompts.
        support_grad (bool): Back-propagate through the support pass.
        test_support (dict, optional): The test-time support policy
            (:class:`~mmstpn.structures.SupportPolicy`); default offline.
        support_eval (bool): No drop-path in the training support pass.
        support_chunk (int): Test-time support frames per unprompted pass
            (0: all at once); default 1 (see STPNSwin).
        train_support_chunk (int): The same in training; default 4.
        compile (bool | dict): ``torch.compile`` the hot passes at test
            time (see ``STPNBackboneMixin.set_compile``); default False.
        with_cp (bool): Gradient checkpointing of the blocks.
        init_cfg (dict, optional): Initialisation config.
        template_size (int, optional): Side of the template crop of a
            one-stream tracker (e.g. 128). None (default): not a tracker
            backbone. Set: the backbone gets a second position table
            ``pos_embed_template`` (``template_size // 16`` squared) for the
            template, ``pos_embed`` (sized by ``img_size``, e.g. 256) is the
            search table, every block must be global (no
            ``window_block_indices``) and the detection pyramid is not built
            (see :meth:`forward_joint`).
        ce_loc (Sequence[int]): Tracker only: the blocks after whose
            attention OSTrack-style candidate elimination drops search
            tokens (e.g. ``(3, 6, 9)`` for ViT-B); default ``()``: off.
        ce_keep_ratio (float | Sequence[float]): Fraction of the current
            search tokens kept at each ``ce_loc`` block (one value for all,
            or one per location), in (0, 1]; default 1.0 (keep all).
        support_pass (str): Tracker only: the unprompted pass that gives a
            support search crop's embedding. ``'joint'`` (default): the
            tracker's own pass, template + support crop (its search tokens:
            they carry where the template's target is in that crop);
            ``'search'``: the support crop alone (``Ls`` instead of
            ``Lt + Ls`` tokens, no template).
        support_pos_embed (bool): Tracker only: add the search position
            table, layer-normalised (the scale of the final-norm tokens), to
            the support embeddings (what the DVP predictor reads), so that
            a prompt can say WHERE the target is in the support crop.
            Default False.

    Tracker use (``template_size`` set): template and search crops share the
    patch embedding, get their own position tables and run as ONE token
    sequence ``[prompts, template, search]`` through the global blocks;
    the prompts are dropped from the output. The support embeddings of a
    tracker are the final-norm search tokens of the unprompted pass of a
    support SEARCH crop: with ``support_pass='joint'`` the joint pass with
    the item's template (the same template for every support of an item;
    at test the sequence's template, so the online cache stays valid), with
    ``'search'`` the crop alone. The generic training / online-cache logic
    of the mixin applies unchanged to ``ClipBatch`` es of search crops, the
    template travelling as the support pass's ``context``.

    Candidate elimination (``ce_loc``, joint pass only, training and test):
    at each ``ce_loc`` block, between attention and FFN, every item keeps
    its ``ceil(ratio * current)`` search tokens most attended by the
    template centre tokens (mean over heads and centre rows); prompts and
    template tokens are never dropped, and the joint pass returns the full
    (hs, ws) search map with zeros at the dropped positions (after the
    final norm). The support pass (search crops alone) has no template and
    runs without CE.
    """

    def __init__(self,
                 img_size: int = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 mlp_ratio: float = 4.,
                 window_size: int = 14,
                 window_block_indices: Sequence[int] = (),
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 predictor: Optional[dict] = None,
                 num_prompts: int = 5,
                 support_grad: bool = False,
                 test_support: Optional[dict] = None,
                 support_eval: bool = False,
                 with_cp: bool = False,
                 support_chunk: int = 1,
                 train_support_chunk: int = 4,
                 compile: Union[bool, dict] = False,
                 init_cfg: Optional[dict] = None,
                 template_size: Optional[int] = None,
                 ce_loc: Sequence[int] = (),
                 ce_keep_ratio: Union[float, Sequence[float]] = 1.0,
                 support_pass: str = 'joint',
                 support_pos_embed: bool = False) -> None:
        super().__init__(init_cfg=init_cfg)
        if support_pass not in ('joint', 'search'):
            raise ValueError("model.backbone.support_pass must be 'joint' or "
                             f"'search', got {support_pass!r}")
        self.support_pass = support_pass
        self.support_pos_embed = bool(support_pos_embed)
        stpn_options = dict(
            support_eval=support_eval,
            support_chunk=support_chunk,
            train_support_chunk=train_support_chunk,
            compile=compile)
        if template_size is not None:
            if template_size < patch_size:
                raise ValueError(
                    f'template_size must be >= patch_size ({patch_size}), '
                    f'got {template_size}')
            if tuple(window_block_indices):
                raise ValueError(
                    'a tracker backbone (template_size set) attends '
                    'globally over the joint template + search sequence; '
                    'window_block_indices must be empty, got '
                    f'{tuple(window_block_indices)}')
        if patch_size != 16 and template_size is None:
            # (a tracker backbone has no pyramid: any patch size)
            raise ValueError('STPNViT builds its pyramid from a stride-16 '
                             f'grid; patch_size must be 16, got {patch_size}')
        if embed_dims % 4:
            raise ValueError(f'embed_dims must be divisible by 4, got '
                             f'{embed_dims}')
        bad = [i for i in out_indices if i not in range(4)]
        if bad:
            raise ValueError(f'out_indices must be within 0..3, got {bad}')
        self.in_channels = in_channels
        self.embed_dims = embed_dims
        self.out_indices = tuple(out_indices)
        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=embed_dims,
            kernel_size=patch_size,
            stride=patch_size)
        self.pos_grid = img_size // patch_size
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.pos_grid * self.pos_grid, embed_dims))
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = ModuleList([
            PromptedViTBlock(
                embed_dims,
                num_heads,
                mlp_ratio,
                window_size if i in window_block_indices else 0,
                drop_path_rate=rates[i],
                with_cp=with_cp) for i in range(depth)
        ])
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.ce_ratios = self._ce_ratios(ce_loc, ce_keep_ratio, depth,
                                         template_size)
        d = embed_dims
        self.template_size = template_size
        self.pyramid = None
        self.out_channels = (d // 4, d // 2, d, d)
        if template_size is not None:
            self.template_grid = template_size // patch_size
            self.pos_embed_template = nn.Parameter(
                torch.zeros(1, self.template_grid**2, embed_dims))
            self.out_channels = (d, )
            self.init_stpn(predictor, embed_dims, embed_dims, num_prompts,
                           support_grad, test_support,
                           **stpn_options)
            return
        self.pyramid = ModuleList([
            nn.Sequential(
                nn.ConvTranspose2d(d, d // 2, 2, 2), LayerNorm2d(d // 2),
                nn.GELU(), nn.ConvTranspose2d(d // 2, d // 4, 2, 2)),
            nn.ConvTranspose2d(d, d // 2, 2, 2),
            nn.Identity(),
            nn.MaxPool2d(2, 2),
        ])
        self.init_stpn(predictor, embed_dims, embed_dims, num_prompts,
                       support_grad, test_support,
                       **stpn_options)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            trunc_normal_(self.pos_embed, std=.02)
            if self.template_size is not None:
                trunc_normal_(self.pos_embed_template, std=.02)
            for m in self.blocks.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=.02)
                    nn.init.zeros_(m.bias)

    @staticmethod
    def _ce_ratios(ce_loc: Sequence[int],
                   ce_keep_ratio: Union[float, Sequence[float]], depth: int,
                   template_size: Optional[int]) -> dict:
        """``{block index: keep ratio}`` of candidate elimination."""
        loc = tuple(ce_loc)
        if not loc:
            return {}
        if template_size is None:
            raise ValueError(
                'model.backbone.ce_loc: candidate elimination needs a '
                'tracker backbone (template_size set); got ce_loc='
                f'{loc} on a detection STPNViT')
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
    def _embed(self, x: Tensor,
               template: bool = False) -> Tuple[Tensor, Tuple[int, int]]:
        """Patch tokens + the search (default) or template table."""
        tokens, hw = self.patch_embed(x)
        return tokens + self._pos_table(tuple(hw), template), tuple(hw)

    def _pos_table(self, hw: Tuple[int, int],
                   template: bool = False) -> Tensor:
        """(1, h*w, C) search (default) or template position table, resized
        bicubically to the grid ``hw``."""
        pos, grid = self.pos_embed, self.pos_grid
        if template:
            pos, grid = self.pos_embed_template, self.template_grid
        if tuple(hw) != (grid, grid):
            pos = pos.reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
            pos = F.interpolate(
                pos, size=hw, mode='bicubic', align_corners=False)
            pos = pos.flatten(2).transpose(1, 2)
        return pos

    def _run_blocks(self, tokens: Tensor, hw: Tuple[int, int],
                    num_prompts: int) -> Tensor:
        for block in self.blocks:
            tokens = block(tokens, hw, num_prompts)
        return self.norm(tokens[:, num_prompts:])

    def _run_blocks_ce(self, tokens: Tensor, hw: Tuple[int, int],
                       num_prompts: int,
                       template_hw: Tuple[int, int]) -> Tensor:
        """:meth:`_run_blocks` of a joint ``[prompts, template, search]``
        sequence with candidate elimination of search tokens; returns the
        final-norm ``[template, search]`` tokens with the full search grid
        (zeros at the dropped positions)."""
        lt = template_hw[0] * template_hw[1]
        start = num_prompts + lt  # first search token
        rows = num_prompts + template_centre_index(template_hw,
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
        """Unprompted pass of (M, C, H, W) frames -> final-norm patch tokens
        (M, h*w, C) and (h, w); with ``template`` (M, C, Ht, Wt) (a tracker
        with ``support_pass='joint'``) the joint pass with it, returning the
        search tokens."""
        tokens, hw = self._embed(frames)
        if template is None:
            out = self._run_blocks(tokens, hw, 0)
        else:
            t_tokens, _ = self._embed(template, template=True)
            lt = t_tokens.shape[1]
            out = self._run_blocks(
                torch.cat([t_tokens, tokens], dim=1), hw, 0)[:, lt:]
        if self.support_pos_embed and self.template_size is not None:
            # the table at the scale of the final-norm tokens
            pos = self._pos_table(hw)
            out = out + F.layer_norm(pos, pos.shape[-1:])
        return out, hw

    def support_context(self, template: Tensor) -> Optional[Tensor]:
        """What a tracker passes as ``context`` of the support pass: the
        template with ``support_pass='joint'``, else None."""
        return template if self.support_pass == 'joint' else None

    def forward_prompted(self, x: Tensor, prompts: Tensor) -> Tuple[Tensor]:
        if self.pyramid is None:
            raise ValueError(
                'this STPNViT is a tracker backbone (template_size='
                f'{self.template_size}): it has no detection pyramid; call '
                'forward_joint / forward_tracking with template and search '
                'crops')
        tokens, hw = self._embed(x)
        num_prompts = prompts.shape[1]
        tokens = self.prepend_prompts(prompts, tokens, x)
        patches = self._run_blocks(tokens, hw, num_prompts)
        fmap = patches.transpose(1, 2).reshape(-1, self.embed_dims, *hw)
        # contiguous: mmcv's RoIAlign reads channels-last maps wrongly
        return tuple(
            self.pyramid[i](fmap).contiguous() for i in self.out_indices)

    # ------------------------------------------------------------ tracking
    def _check_tracker(self) -> None:
        if self.template_size is None:
            raise ValueError(
                'forward_joint needs a tracker backbone: build STPNViT with '
                'template_size (e.g. 128)')

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
        self._check_tracker()
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
                ``test_support`` policy, ``'online'`` caches the unprompted
                pass of every S-th search crop per sequence) or ``(N, C, H,
                W)`` search crops (each its own support).

        Returns:
            tuple: search tokens (N, Ls, C), their grid (hs, ws) and the
            (N, P, C) prompts (None without prompts).
        """
        self._check_tracker()
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
