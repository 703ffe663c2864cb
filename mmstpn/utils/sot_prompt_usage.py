"""Does a trained STPN tracker use its prompts?

The tracker counterpart of ``tools/analysis_tools/prompt_usage.py`` (which
reads detectors and MOT / VIS models). On training items of the tracker's own
training pipeline (template, search crop, K support crops) it runs the joint
pass three times per item, with the item's own prompts, with the prompts of
an item of ANOTHER sequence (``swap``) and with all-zero prompts (``zero``),
and compares the score maps and where their peak falls. Items come in two
variants, the same items each time: the search frame as the pipeline's
search corruption leaves it when it fires (``deteriorated``: e.g. the toy
set's grey blur, where only the supports tell which blob is the target) and
without it (``clean``).

The verdict reads the deteriorated items: prompts are *used* when the score
peak lands on the target for at least ``used_gain`` more of them with their
own prompts than with another sequence's (the prompts carry which blob is
the target), *ignored* otherwise. The relative score-map change and the
spread of the prompts across items are reported next to it. See
``docs/sot.md`` for how to read the figures.
"""
import copy
import random
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import Tensor

from mmstpn.structures import as_clip_batch

#: the two item variants
VARIANTS = ('deteriorated', 'clean')


def _is_search_corruption(step: dict) -> bool:
    return step.get('type') == 'RandomApply' and any(
        t.get('type') == 'ClipCorrupt' for t in step.get('transforms', []))


def pipeline_variants(pipeline: Sequence[dict]) -> Dict[str, List[dict]]:
    """The training pipeline with its search corruption always applied
    (``'deteriorated'``; absent when the pipeline has none) and never
    applied (``'clean'``).

    Args:
        pipeline (Sequence[dict]): A tracker's training pipeline; its search
            corruption is a ``RandomApply`` of ``ClipCorrupt`` steps.

    Returns:
        dict: variant name -> pipeline (deep copies).
    """
    steps = [copy.deepcopy(dict(s)) for s in pipeline]
    out = {'clean': [s for s in steps if not _is_search_corruption(s)]}
    if any(_is_search_corruption(s) for s in steps):
        forced = []
        for s in steps:
            forced.extend(s['transforms'] if _is_search_corruption(s) else
                          [s])
        out['deteriorated'] = forced
    return {name: out[name] for name in VARIANTS if name in out}


def collect_items(dataset_cfg: dict, pipeline: List[dict], num_items: int,
                  seed: int = 0) -> list:
    """``num_items`` training items of the dataset with ``pipeline``; the
    same dataset indices and random draws (frames, crops, corruption) for
    the same ``seed``, whatever the pipeline.

    Args:
        dataset_cfg (dict): The training dataset config (``data_root``
            set).
        pipeline (list[dict]): Its pipeline (a :func:`pipeline_variants`
            entry).
        num_items (int): Items to draw (at most the dataset's length).
        seed (int): Seed of the indices and of every item's random draws.

    Returns:
        list[dict]: Packed items (``inputs``, ``data_samples``).

    Raises:
        ValueError: When the dataset holds fewer than 2 sequences.
    """
    from mmdet.registry import DATASETS
    cfg = copy.deepcopy(dict(dataset_cfg))
    cfg['pipeline'] = pipeline
    dataset = DATASETS.build(cfg)
    if len(dataset) < 2:
        raise ValueError(
            f'sot_prompt_usage: the dataset ({cfg.get("data_root")!r}, '
            f'{cfg.get("ann_file")!r}) holds {len(dataset)} sequence(s); '
            'swapping prompts needs at least 2')
    order = np.random.RandomState(seed).permutation(len(dataset))
    indices = [int(order[i % len(order)]) for i in range(num_items)]
    items = []
    for n, index in enumerate(indices):
        state = seed * 100003 + n
        random.seed(state)
        np.random.seed(state % 2**32)
        torch.manual_seed(state)
        items.append(dataset[index])
    return items


def _partners(names: Sequence) -> List[int]:
    """For each item, the next item (cyclically) of another sequence."""
    n = len(names)
    out = []
    for i in range(n):
        j = next((k % n for k in range(i + 1, i + n)
                  if names[k % n] != names[i]), None)
        if j is None:
            raise ValueError('sot_prompt_usage: every item comes from one '
                             f'sequence ({names[i]!r}); nothing to swap')
        out.append(j)
    return out


def _peak_on_target(score: Tensor, gt: Tensor) -> Tensor:
    """(B,) bool: the center of the score map's top cell lies in the
    normalised ``x1, y1, x2, y2`` box."""
    b, _, h, w = score.shape
    idx = score.flatten(1).argmax(dim=1)
    cx = ((idx % w).to(gt.dtype) + 0.5) / w
    cy = ((idx // w).to(gt.dtype) + 0.5) / h
    return (cx >= gt[:, 0]) & (cx <= gt[:, 2]) & (cy >= gt[:, 1]) & \
        (cy <= gt[:, 3])


def _relative(a: Tensor, b: Tensor) -> Tensor:
    """(B,) ``||a_i - b_i|| / ||b_i||``."""
    return (a - b).flatten(1).norm(dim=1) / \
        b.flatten(1).norm(dim=1).clamp_min(1e-12)


@torch.no_grad()
def score_figures(model, items: list, batch_size: int = 16) -> dict:
    """Own / swapped / zero prompts on ``items`` (see the module docstring).

    Args:
        model (OneStreamTracker): The tracker, with prompts, in eval mode.
        items (list[dict]): Packed training items (:func:`collect_items`).
        batch_size (int): Items per forward.

    Returns:
        dict: ``items``; ``peak_on_target`` and ``mean_iou`` per prompt
        kind (``own`` / ``swap`` / ``zero``, fractions / IoU of the decoded
        box with the true one); ``score_change`` (``swap`` / ``zero``: mean
        relative change of the score map); ``prompt_spread`` (mean relative
        distance between the prompts of an item and its partner).
    """
    backbone = model.backbone
    if backbone.predictor is None:
        raise ValueError('sot_prompt_usage: the tracker has no prompts '
                         '(model.backbone.num_prompts=0)')
    templates, searches, gts, names, prompts = [], [], [], [], []
    for start in range(0, len(items), batch_size):
        data = model.data_preprocessor(
            pseudo_collate(items[start:start + batch_size]), True)
        template, search = data['inputs']['template'], data['inputs'][
            'search']
        batch = as_clip_batch(search)
        side = batch.key_frames.shape[-1]
        for i, ds in enumerate(data['data_samples']):
            gts.append(model._search_box(ds, start + i) / side)
            names.append(ds.video_data_samples[0].metainfo.get(
                'video_name', start + i))
        prompts.append(backbone.compute_prompts(
            batch, context=backbone.support_context(template)))
        templates.append(template)
        searches.append(batch.key_frames)
    template, key = torch.cat(templates), torch.cat(searches)
    own = torch.cat(prompts)
    gt = torch.stack(gts).to(key.device)
    partner = torch.as_tensor(_partners(names))
    kinds = {'own': own, 'swap': own[partner], 'zero': torch.zeros_like(own)}
    scores, hits, ious = {}, {}, {}
    for name, p in kinds.items():
        maps, boxes = [], []
        for s in range(0, len(key), batch_size):
            tokens, hw = backbone.forward_joint(
                template[s:s + batch_size], key[s:s + batch_size],
                p[s:s + batch_size])
            score, offset, size = model.head(tokens, hw)
            maps.append(score)
            boxes.append(model.head.decode(score, offset, size)[0])
        scores[name] = torch.cat(maps)
        hits[name] = _peak_on_target(scores[name], gt).float().mean().item()
        ious[name] = bbox_overlaps(torch.cat(boxes), gt.to(boxes[0].dtype),
                                   is_aligned=True).mean().item()
    scale = (own.flatten(1).norm(dim=1) +
             own[partner].flatten(1).norm(dim=1)) / 2
    spread = ((own - own[partner]).flatten(1).norm(dim=1) /
              scale.clamp_min(1e-12)).mean().item()
    return dict(
        items=len(key),
        peak_on_target=hits,
        mean_iou=ious,
        score_change={
            k: _relative(scores[k], scores['own']).mean().item()
            for k in ('swap', 'zero')
        },
        prompt_spread=spread)


def verdict(figures: Dict[str, dict], used_gain: float = 0.05) -> str:
    """USED / IGNORED from the deteriorated items (the clean ones where the
    pipeline has no search corruption).

    Args:
        figures (dict): variant -> :func:`score_figures` output.
        used_gain (float): Minimum own - swap peak-on-target difference.

    Returns:
        str: One line starting with ``prompts USED`` or ``prompts
        IGNORED``.
    """
    name = 'deteriorated' if 'deteriorated' in figures else 'clean'
    hits = figures[name]['peak_on_target']
    gain = hits['own'] - hits['swap']
    what = (f"on {name} items the score peak is on the target for "
            f"{100 * hits['own']:.1f}% with their own prompts, "
            f"{100 * hits['swap']:.1f}% with another sequence's")
    if gain >= used_gain:
        return f'prompts USED: {what} (+{100 * gain:.1f} points)'
    return (f'prompts IGNORED: {what} ({100 * gain:+.1f} points, threshold '
            f'+{100 * used_gain:.1f}); see docs/sot.md for what to check')


def sot_prompt_usage(model,
                     cfg: Config,
                     num_items: int = 128,
                     seed: int = 0,
                     used_gain: float = 0.05,
                     variants: Optional[Sequence[str]] = None) -> dict:
    """The whole diagnostic of a tracker on its config's training data.

    Args:
        model (OneStreamTracker): The tracker (weights loaded); put in eval
            mode here.
        cfg (Config): Its config (``train_dataloader.dataset`` with the
            data root and pipeline).
        num_items (int): Training items per variant.
        seed (int): Seed of the items (the same items in every variant).
        used_gain (float): See :func:`verdict`.
        variants (Sequence[str], optional): Subset of :data:`VARIANTS`.

    Returns:
        dict: ``variants`` (name -> :func:`score_figures`), ``verdict``.
    """
    model.eval()
    dataset_cfg = cfg.train_dataloader.dataset
    pipelines = pipeline_variants(dataset_cfg.pipeline)
    figures = {}
    for name, pipeline in pipelines.items():
        if variants is not None and name not in variants:
            continue
        items = collect_items(dataset_cfg, pipeline, num_items, seed)
        figures[name] = score_figures(model, items)
    if not figures:
        raise ValueError(f'sot_prompt_usage: none of the variants '
                         f'{list(variants or [])} in this pipeline '
                         f'(it has {sorted(pipelines)})')
    return dict(variants=figures, verdict=verdict(figures, used_gain))
