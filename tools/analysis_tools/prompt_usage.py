"""Does a trained STPN detector use its prompts?

For a config + checkpoint and a few val videos it prints:

1. **prompt spread**: how far the prompts of different videos differ,
   ``||p_a - p_b|| / mean(||p_a||, ||p_b||)`` over all pairs of videos
   (and over pairs whose key frames hold different classes);
2. **feature change under swapped / zero prompts**: per backbone stage,
   ``||f(x, p') - f(x, p)|| / ||f(x, p)||`` when a key frame gets another
   video's prompts (``swap``) or all-zero prompts (``zero``);
3. **linear probe of the support embeddings**: a logistic-regression probe
   on mean-pooled last-stage tokens of the unprompted pass, trained on half
   of the videos and tested on the other half (class of each frame's largest
   ground-truth box; chance = the held-out majority class).

Verdict: prompts are *used* when the swap changes some stage by more than
``--used-change`` (default 1%) AND the prompts of different videos differ by
more than ``--used-spread`` (default 5%); the figures of used and ignored
prompts on the toy sets are in docs/toy_vid.md.

Single-object trackers (``OneStreamTracker``) get their own figures
(:mod:`mmstpn.utils.sot_prompt_usage`): on ``--items`` training items of the
config's training pipeline, with the search corruption forced on
(``deteriorated``) and off (``clean``), how often the score peak lands on the
target with the item's own prompts, another sequence's and zero prompts;
USED when own beats swapped by ``--used-gain`` on the deteriorated items.

Usage::

    python tools/analysis_tools/prompt_usage.py CONFIG CHECKPOINT \\
        [--max-videos 12] [--frames-per-video 4] [--json out.json]
    # a tracker: its training data root, e.g. the toy tracking set
    python tools/analysis_tools/prompt_usage.py TRACKER_CONFIG CHECKPOINT \\
        --items 128 --cfg-options train_dataloader.dataset.data_root=DATA/
"""
import argparse
import itertools
import json
from typing import Dict, List, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmstpn  # noqa: F401  (registers mmstpn and allow-lists checkpoints)
from mmstpn.datasets.transforms import VideoSupportFrameSample
from mmstpn.engine import support_samplers
from mmstpn.models.backbones import stpn_backbones
from mmstpn.models.sot import OneStreamTracker
from mmstpn.structures import get_video_context
from mmstpn.models.mot.frame_view import frame_view
from mmstpn.structures import SupportPolicy, TrackClips
from mmstpn.utils.sot_prompt_usage import sot_prompt_usage


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="a checkpoint, or 'none' for the "
                        "config's initialisation (for smoke tests)")
    parser.add_argument('--max-videos', type=int, default=12)
    parser.add_argument('--frames-per-video', type=int, default=4)
    parser.add_argument('--probe-steps', type=int, default=300)
    parser.add_argument('--used-change', type=float, default=0.01)
    parser.add_argument('--used-spread', type=float, default=0.05)
    parser.add_argument('--items', type=int, default=128,
                        help='trackers: training items per variant')
    parser.add_argument('--seed', type=int, default=0,
                        help='trackers: seed of the training items')
    parser.add_argument('--used-gain', type=float, default=0.05,
                        help='trackers: own - swapped prompts peak-on-target '
                        'gain on deteriorated items that reads as USED')
    parser.add_argument('--json', help='write every figure here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||a - b|| / ||b||``."""
    return ((a - b).norm() / b.norm().clamp_min(1e-12)).item()


def prompt_spread(prompts: Sequence[torch.Tensor],
                  labels: Sequence[int]) -> Dict[str, float]:
    """Mean relative distance of the prompts of every pair of videos, and of
    pairs with different labels (NaN when there is none)."""
    all_d, diff_d = [], []
    for i, j in itertools.combinations(range(len(prompts)), 2):
        scale = (prompts[i].norm() + prompts[j].norm()) / 2
        d = ((prompts[i] - prompts[j]).norm() / scale.clamp_min(1e-12)).item()
        all_d.append(d)
        if labels[i] != labels[j]:
            diff_d.append(d)
    mean = (lambda xs: sum(xs) / len(xs) if xs else float('nan'))
    return dict(all_pairs=mean(all_d), different_class_pairs=mean(diff_d))


def linear_probe(feats: torch.Tensor, labels: torch.Tensor,
                 train: torch.Tensor, steps: int) -> Dict[str, float]:
    """Logistic regression on standardised features; accuracy on the
    held-out rows (``~train``) and the held-out majority-class rate."""
    mean, std = feats[train].mean(0), feats[train].std(0).clamp_min(1e-6)
    x = (feats - mean) / std
    classes = int(labels.max()) + 1
    probe = torch.nn.Linear(x.shape[1], classes)
    opt = torch.optim.Adam(probe.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(probe(x[train]),
                                                 labels[train])
        loss.backward()
        opt.step()
    held = ~train
    with torch.no_grad():
        acc = (probe(x[held]).argmax(1) == labels[held]).float().mean()
    chance = torch.bincount(labels[held], minlength=classes).max() / max(
        int(held.sum()), 1)
    return dict(accuracy=acc.item(), chance=chance.item(),
                train_items=int(train.sum()), test_items=int(held.sum()))


def frame_label(sample) -> int:
    """Class of the frame's largest ground-truth box (-1: none)."""
    gt = sample.gt_instances
    if len(gt) == 0:
        return -1
    boxes = gt.bboxes
    boxes = boxes.tensor if hasattr(boxes, 'tensor') else boxes
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return int(gt.labels[area.argmax()])


def _frames(model, dataset, v: int, picks: Sequence[int]) -> tuple:
    """(frame 0's ClipBatch, [(key frame, data sample) of each pick]) of
    video ``v``: one item per frame ``(v, f)`` for detectors (ClipBatch
    inputs); for trackers (``TrackClips`` inputs, VIS) the whole video as one
    item, read with the trackers' frame view."""
    if not _video_items(dataset):
        first = model.data_preprocessor(
            pseudo_collate([dataset[(v, 0)]]), False)
        frames = []
        for f in picks:
            item = model.data_preprocessor(
                pseudo_collate([dataset[(v, f)]]), False)
            frames.append((item['inputs'].key_frames, item['data_samples'][0]))
        return first['inputs'], frames
    data = model.data_preprocessor(pseudo_collate([dataset[v]]), False)
    if not isinstance(data['inputs'], TrackClips):
        raise ValueError('a test pipeline with VideoSupportFrameSample must '
                         'be preprocessed into TrackClips '
                         '(TrackClipDataPreprocessor)')
    view = frame_view(data['inputs'], 'prompt_usage')
    samples = data['data_samples'][0].video_data_samples
    return view[:, 0], [(view[:, f].key_frames, samples[f]) for f in picks]


def _video_items(dataset) -> bool:
    """Whether test items are whole videos (VideoSupportFrameSample in the
    pipeline: the trackers' video-level test) rather than frames."""
    return any(isinstance(t, VideoSupportFrameSample)
               for t in support_samplers(dataset))


@torch.no_grad()
def collect(model, dataset, max_videos: int, frames_per_video: int) -> dict:
    """Per video: prompts from its frame 0 clip (the model's offline
    policy), a few preprocessed key frames and their labels."""
    backbone = stpn_backbones(model)[0]
    videos = []
    for v in range(min(max_videos, len(dataset))):
        num = dataset.get_len_per_video(v)
        picks = sorted({round(i * (num - 1) / max(frames_per_video - 1, 1))
                        for i in range(frames_per_video)})
        first, frames = _frames(model, dataset, v, picks)
        prompts = backbone.compute_prompts(first)[0]
        videos.append(dict(prompts=prompts,
                           keys=torch.cat([k for k, _ in frames]),
                           labels=[frame_label(s) for _, s in frames]))
    return videos


@torch.no_grad()
def measure(model, videos: List[dict], probe_steps: int) -> dict:
    backbone = stpn_backbones(model)[0]
    n = len(videos)
    if n < 2:
        raise ValueError('prompt_usage needs at least 2 val videos, got '
                         f'{n} (--max-videos / the dataset)')
    video_labels = [max(set(v['labels']), key=v['labels'].count)
                    for v in videos]
    spread = prompt_spread([v['prompts'] for v in videos], video_labels)
    swap: List[List[float]] = []
    zero: List[List[float]] = []
    for i, v in enumerate(videos):
        # another video, of another class where there is one
        others = [j for j in range(n) if video_labels[j] != video_labels[i]]
        j = others[0] if others else (i + 1) % n
        keys = v['keys']
        own = backbone.forward_prompted(keys, v['prompts'].expand(
            len(keys), -1, -1))
        other = backbone.forward_prompted(keys, videos[j]['prompts'].expand(
            len(keys), -1, -1))
        nothing = backbone.forward_prompted(
            keys, torch.zeros_like(v['prompts']).expand(len(keys), -1, -1))
        swap.append([relative(a, b) for a, b in zip(other, own)])
        zero.append([relative(a, b) for a, b in zip(nothing, own)])
    per_stage = (lambda rows: [sum(c) / len(c) for c in zip(*rows)])
    feats, labels, train = [], [], []
    for i, v in enumerate(videos):
        tokens, _ = backbone.support_embeddings(v['keys'])
        for f, label in enumerate(v['labels']):
            if label >= 0:
                feats.append(tokens[f].mean(0))
                labels.append(label)
                train.append(i % 2 == 0)
    probe = dict(accuracy=float('nan'), chance=float('nan'))
    if labels and any(train) and not all(train):
        with torch.enable_grad():
            probe = linear_probe(torch.stack(feats), torch.tensor(labels),
                                 torch.tensor(train), probe_steps)
    return dict(
        videos=n,
        prompt_spread=spread,
        swap_change_per_stage=per_stage(swap),
        zero_change_per_stage=per_stage(zero),
        support_probe=probe)


def verdict(figures: dict, used_change: float, used_spread: float) -> str:
    change = max(figures['swap_change_per_stage'])
    spread = figures['prompt_spread']['all_pairs']
    if change > used_change and spread > used_spread:
        return (f'prompts USED: swapping prompts changes the features by up '
                f'to {100 * change:.2f}%, prompts of different videos differ '
                f'by {100 * spread:.1f}%')
    return (f'prompts IGNORED: swap change {100 * change:.3f}% (threshold '
            f'{100 * used_change:.1f}%), cross-video spread '
            f'{100 * spread:.2f}% (threshold {100 * used_spread:.1f}%). '
            'The detector does not read the support frames; see '
            'docs/toy_vid.md for what to check.')


def build(cfg: Config, checkpoint: str):
    from mmdet.registry import DATASETS
    model = build_model(cfg, checkpoint)
    backbones = stpn_backbones(model)
    if not backbones or backbones[0].predictor is None:
        raise ValueError(f'{cfg.filename}: the model has no STPN backbone '
                         'with prompts (num_prompts > 0)')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    # prompts from each video's frame 0 as the released test computes them
    policy = get_video_context(model).policy
    if policy.mode != 'offline':
        policy = SupportPolicy('offline', policy.num_support)
    for sampler in support_samplers(dataset):
        if sampler.method == 'from_model':
            sampler.set_test_policy(policy)
    return model, dataset


def build_model(cfg: Config, checkpoint: str):
    """The config's model with the checkpoint's weights (``'none'``: its
    initialisation), in eval mode."""
    from mmdet.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    if checkpoint != 'none':
        load_checkpoint(model, checkpoint, map_location='cpu')
    else:
        model.init_weights()
    return model.eval()


def tracker_main(args: argparse.Namespace, cfg: Config, model) -> dict:
    """The single-object tracker's diagnostic
    (:mod:`mmstpn.utils.sot_prompt_usage`)."""
    figures = sot_prompt_usage(model, cfg, num_items=args.items,
                               seed=args.seed, used_gain=args.used_gain)
    for name, fig in figures['variants'].items():
        hits, ious = fig['peak_on_target'], fig['mean_iou']
        print(f'{name} items ({fig["items"]}): score peak on the target '
              + ' / '.join(f'{k} {100 * v:.1f}%' for k, v in hits.items())
              + '; mean IoU '
              + ' / '.join(f'{k} {100 * v:.1f}' for k, v in ious.items())
              + '; score-map change swap '
              f'{100 * fig["score_change"]["swap"]:.2f}% zero '
              f'{100 * fig["score_change"]["zero"]:.2f}%; prompt spread '
              f'{100 * fig["prompt_spread"]:.1f}%')
    print(figures['verdict'])
    return figures


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    probe = build_model(cfg, args.checkpoint)
    if isinstance(probe, OneStreamTracker):
        figures = tracker_main(args, cfg, probe)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(figures, f, indent=2)
        return figures
    model, dataset = build(cfg, args.checkpoint)
    videos = collect(model, dataset, args.max_videos, args.frames_per_video)
    figures = measure(model, videos, args.probe_steps)
    figures['verdict'] = verdict(figures, args.used_change, args.used_spread)
    spread = figures['prompt_spread']
    probe = figures['support_probe']
    print(f'videos: {figures["videos"]}')
    print(f'prompt spread across videos: {100 * spread["all_pairs"]:.2f}% '
          f'(pairs of different classes: '
          f'{100 * spread["different_class_pairs"]:.2f}%)')
    for name in ('swap', 'zero'):
        stages = ' / '.join(f'{100 * c:.3f}%'
                            for c in figures[f'{name}_change_per_stage'])
        print(f'feature change with {name} prompts, per stage: {stages}')
    print(f'linear probe of support embeddings: '
          f'{100 * probe["accuracy"]:.1f}% (chance '
          f'{100 * probe["chance"]:.1f}%)')
    print(figures['verdict'])
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(figures, f, indent=2)
    return figures


if __name__ == '__main__':
    main()
