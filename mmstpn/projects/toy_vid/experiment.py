"""The main job: STPN vs the same backbone without prompts on the embedded
deteriorated-video set.

Generates the CocoVID toy set (once), trains the single-frame baseline and
STPN with the same backbone, data, schedule and seed, evaluates both with
``VIDMetric`` (AP50 overall, on deteriorated frames, on clean frames,
fast/medium/slow) and,
for STPN, both the offline (released) and the online (causal) test modes,
then prints a table, saves ``results.json`` and a bar plot.

``--toy-layout multi`` uses the harder toy set (2-3 objects of different
classes plus never-labelled distractors per video; see
:mod:`mmstpn.projects.toy_vid.generator`). ``tools/misc/toy_vid_seeds.py``
runs this job over several seeds and layouts and tabulates the results.

Example::

    python tools/misc/toy_vid_experiment.py --out-dir outputs/toy_vid
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Dict, List, Tuple

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmstpn  # noqa: F401
from mmstpn.projects import configs_root
from mmstpn.projects.run_record import (load_average, pop_run_environment,
                                        worker_environment)
from mmstpn.projects.toy_vid.generator import (LAYOUTS,
                                               generate_deteriorated_vid)

REPO = configs_root()
CONFIGS = {
    'baseline':
    'configs/stpn/faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py',
    'stpn':
    'configs/stpn/stpn_faster-rcnn_swin-toy-p4-w4_fpn_1xb4-1500i_toy-vid.py',
}
COLUMNS = [('all', 'bbox_mAP_50'),
           ('deteriorated', 'bbox_mAP_50_deteriorated'),
           ('clean', 'bbox_mAP_50_clean'),
           ('fast', 'bbox_mAP_50_fast'), ('medium', 'bbox_mAP_50_medium'),
           ('slow', 'bbox_mAP_50_slow')]


PROGRESS_KEYS = ('Iter(train)', 'VIDMetric: bbox', '] training ', 'warm start',
                 'Error',
                 'Traceback')
#: entries of the results that are not a model's metrics
NOT_MODELS = ('timings', 'environment')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', default='outputs/toy_vid')
    parser.add_argument('--data-dir', default='data/toy_vid')
    parser.add_argument('--num-train-videos', type=int, default=480,
                        help='train videos of the generated toy set (many '
                        'short videos: with few, a detector memorises each '
                        "video's background instead of learning textures)")
    parser.add_argument('--num-val-videos', type=int, default=48)
    parser.add_argument('--pretrain-iters', type=int, default=700,
                        help='iterations of the shared single-frame warm '
                        'start (0: both models start from scratch)')
    parser.add_argument('--cls-pretrain-iters', type=int, default=400,
                        help='iterations of the object-level class warm '
                        'start of the backbone (before --pretrain-iters; 0: '
                        'none)')
    parser.add_argument('--pretrain-backbone-lr-mult', type=float,
                        default=0.1,
                        help='learning-rate multiplier of the backbone in '
                        'the detector warm start (1: as the heads); 0.1 '
                        'keeps the class of the object-level warm start in '
                        "the last stage, which STPN's support embeddings "
                        'are (docs/toy_vid.md)')
    parser.add_argument('--iters', type=int, default=800,
                        help='training iterations of each model after the '
                        'warm start')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-seed', type=int, default=None,
                        help='seed of the generated toy set (default: '
                        '--seed); a --data-dir holding a set of another '
                        'seed or layout is regenerated')
    parser.add_argument('--toy-layout', default='single', choices=LAYOUTS,
                        help="layout of the generated toy set: 'single' "
                        "(1-2 objects of one class per video) or 'multi' "
                        '(2-3 objects of different classes plus 0-2 '
                        'never-labelled distractors)')
    parser.add_argument('--online-k', type=int, default=4,
                        help='K of the extra online (causal) STPN test')
    parser.add_argument('--online-stride', type=int, default=1)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override settings of both configs (and of the warm start), '
        'as in tools/train.py')
    parser.add_argument(
        '--stpn-cfg-options', nargs='+', action=DictAction, default={},
        help='override settings of the STPN config only (after '
        '--cfg-options), e.g. model.type=PromptSupervisedFasterRCNN for '
        'the auxiliary prompt loss (the default is the paper objective)')
    # internal: one model per process (see run())
    parser.add_argument('--worker', choices=sorted(CONFIGS) + ['pretrain'],
                        help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def data_seed(args: argparse.Namespace) -> int:
    """Seed of the toy set: ``--data-seed``, default ``--seed``."""
    return args.seed if args.data_seed is None else args.data_seed


def data_mismatch(args: argparse.Namespace) -> str:
    """Why ``args.data_dir`` does not hold the requested toy set (numbers
    of videos, seed and layout, read from the jsons and their ``info``; a
    json without ``info.layout`` is a 'single' set); '' when it does."""
    want = dict(train=args.num_train_videos, val=args.num_val_videos)
    for split, num in want.items():
        path = osp.join(args.data_dir, f'{split}.json')
        if not osp.exists(path):
            return f'no {path}'
        with open(path) as f:
            data = json.load(f)
        info = data.get('info', {})
        found = dict(
            videos=len(data['videos']),
            seed=info.get('seed'),
            layout=info.get('layout', 'single'))
        wanted = dict(videos=num, seed=data_seed(args),
                      layout=args.toy_layout)
        for key, value in wanted.items():
            if found[key] != value:
                return f'{path} has {key} {found[key]!r}, not {value!r}'
    return ''


def ensure_data(args: argparse.Namespace) -> bool:
    """Generate the toy set unless ``args.data_dir`` already holds one with
    the requested numbers of videos, seed and layout; True when it was
    (re)generated."""
    reason = data_mismatch(args)
    if not reason:
        print(f'[main job] using the toy set in {args.data_dir}', flush=True)
        return False
    print(f'[main job] generating the {args.toy_layout!r} toy set (seed '
          f'{data_seed(args)}) in {args.data_dir} ({args.num_train_videos} '
          f'train / {args.num_val_videos} val videos): {reason}', flush=True)
    generate_deteriorated_vid(
        args.data_dir,
        num_train_videos=args.num_train_videos,
        num_val_videos=args.num_val_videos,
        seed=data_seed(args),
        layout=args.toy_layout)
    return True


def load_cfg(name: str, args: argparse.Namespace, iters: int,
             work_name: str, load_from: str = None) -> Config:
    """The config of ``name`` trained for ``iters`` iterations in
    ``out_dir/work_name``, optionally starting from ``load_from``."""
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[name]))
    data_root = osp.abspath(args.data_dir) + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = data_root + 'val.json'
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.default_hooks.checkpoint.interval = iters
    # linear warm-up (100 iterations, fewer in very short smoke runs), then
    # cosine to the end
    warmup = min(cfg.param_scheduler[0].end, iters // 2)
    cfg.param_scheduler[0].end = warmup
    cfg.param_scheduler[-1].begin = warmup
    cfg.param_scheduler[-1].end = iters
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = osp.join(args.out_dir, work_name)
    cfg.load_from = load_from
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if name == 'stpn' and args.stpn_cfg_options:
        cfg.merge_from_dict(args.stpn_cfg_options)
    return cfg


def online_variant(cfg: Config, k: int, stride: int) -> Config:
    """The same trained STPN tested causally (past frames only)."""
    cfg = cfg.copy()
    cfg.model.backbone.test_support = dict(
        mode='online', num_support=k, stride=stride)
    cfg.work_dir = cfg.work_dir + '_online'
    return cfg


def strip_prefix(metrics: Dict[str, float]) -> Dict[str, float]:
    return {k.split('/', 1)[-1]: v for k, v in metrics.items()}


def pretrain_path(args: argparse.Namespace) -> str:
    return osp.join(args.out_dir, 'pretrain',
                    f'iter_{args.pretrain_iters}.pth')


def _object_crops(data_dir: str, size: int) -> tuple:
    """``size`` x ``size`` crops centered on every object of the clean train
    frames (edge-padded at the borders), normalised as the detector's data
    preprocessor does, and their class indices."""
    import mmcv
    import numpy as np
    import torch
    with open(osp.join(data_dir, 'train.json')) as f:
        data = json.load(f)
    images = {i['id']: i for i in data['images']}
    mean = torch.tensor([123.675, 116.28, 103.53])[:, None, None]
    std = torch.tensor([58.395, 57.12, 57.375])[:, None, None]
    crops, labels, loaded = [], [], {}
    for ann in data['annotations']:
        info = images[ann['image_id']]
        if info.get('deteriorated'):
            continue
        if info['id'] not in loaded:
            img = mmcv.imread(osp.join(data_dir, 'frames', info['file_name']))
            loaded = {info['id']: np.pad(img[..., ::-1], (
                (size, size), (size, size), (0, 0)), mode='edge')}
        img = loaded[info['id']]
        x, y, w, h = ann['bbox']
        cx, cy = int(x + w / 2) + size, int(y + h / 2) + size
        half = size // 2
        crop = img[cy - half:cy + half, cx - half:cx + half]
        crops.append(
            (torch.from_numpy(crop.copy()).permute(2, 0, 1).float() - mean) /
            std)
        labels.append(ann['category_id'] - 1)
    return torch.stack(crops), torch.tensor(labels)


def class_pretrain(args: argparse.Namespace, out_path: str) -> None:
    """Object-level class warm start of the backbone, the toy counterpart of
    the ImageNet/COCO-pretrained backbone the released recipe starts from:
    classify crops around the objects of clean train frames from the mean
    of the last stage's tokens (what the support embeddings are), AdamW
    4e-4, batch 32, random horizontal flips. Saves ``backbone.*`` weights.

    It gives the last stage, which the support embeddings are read from,
    the class information the prompts pass on (docs/toy_vid.md)."""
    import torch
    import torch.nn.functional as F
    from mmdet.registry import MODELS
    cfg = load_cfg('baseline', args, 1, 'cls_pretrain')
    torch.manual_seed(args.seed)
    backbone = MODELS.build(cfg.model.backbone)
    backbone.init_weights()
    head = torch.nn.Linear(backbone.num_features[-1], len(cfg.classes))
    crops, targets = _object_crops(args.data_dir, 48)
    print(f'[pretrain] class warm start on {len(crops)} object crops',
          flush=True)
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=4e-4, weight_decay=0.05)
    gen = torch.Generator().manual_seed(args.seed)
    backbone.train()
    for it in range(args.cls_pretrain_iters):
        idx = torch.randint(len(crops), (32, ), generator=gen)
        x = crops[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        tokens, _ = backbone.support_embeddings(x)
        logits = head(tokens.mean(1))
        loss = F.cross_entropy(logits, targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 100 == 0 or it == args.cls_pretrain_iters - 1:
            acc = (logits.argmax(1) == targets[idx]).float().mean().item()
            print(f'[pretrain] class warm start iter {it}: loss '
                  f'{loss.item():.3f}, batch accuracy {acc:.2f}', flush=True)
    os.makedirs(osp.dirname(out_path), exist_ok=True)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                               backbone.state_dict().items()}}, out_path)


def scale_backbone_lr(cfg: Config, mult: float,
                      prefix: str = 'backbone') -> None:
    """Multiply the learning rate of every parameter under ``prefix``
    (``custom_keys`` of the optimizer wrapper; the longest matching key wins
    in mmengine, so the Swin position-bias tables, which have their own key,
    get the multiplier too)."""
    keys = cfg.optim_wrapper.paramwise_cfg.setdefault('custom_keys', {})
    keys[prefix] = dict(keys.get(prefix, {}), lr_mult=mult)
    table = 'relative_position_bias_table'
    if table in keys:
        keys[table] = dict(keys[table], lr_mult=mult)


def without_key_corruption(pipeline: list) -> list:
    """The training pipeline without its key-frame corruption step (the
    ``RandomApply`` of ``ClipCorrupt`` of the toy dataset base)."""
    def is_corruption(step) -> bool:
        return step.get('type') == 'RandomApply' and any(
            t.get('type') == 'ClipCorrupt' for t in step['transforms'])

    return [step for step in pipeline if not is_corruption(step)]


def pretrain(args: argparse.Namespace) -> None:
    """Shared warm start: the single-frame detector trained on the train
    frames as they are, without the fine-tunes' key-frame corruption (both
    models then start from the same weights, as the released recipe starts
    both from one COCO-trained detector that never saw it), its backbone at
    ``--pretrain-backbone-lr-mult`` times the learning rate."""
    recipe = pretrain_recipe(args)
    if reuse_warm_start(pretrain_path(args), recipe):
        return
    cls_ckpt = None
    if args.cls_pretrain_iters:
        cls_ckpt = osp.join(args.out_dir, 'cls_pretrain', 'backbone.pth')
        class_pretrain(args, cls_ckpt)
    cfg = load_cfg('baseline', args, args.pretrain_iters, 'pretrain',
                   cls_ckpt)
    dataset = cfg.train_dataloader.dataset
    dataset.pipeline = without_key_corruption(dataset.pipeline)
    scale_backbone_lr(cfg, args.pretrain_backbone_lr_mult)
    print(f'[pretrain] single-frame warm start, {args.pretrain_iters} '
          'iterations, backbone lr x'
          f'{args.pretrain_backbone_lr_mult:g}', flush=True)
    Runner.from_cfg(cfg).train()
    save_recipe(pretrain_path(args), recipe)


def reuse_warm_start(ckpt: str, recipe: dict) -> bool:
    """True when ``ckpt`` exists and was trained with ``recipe`` (the
    ``recipe.json`` next to it); a checkpoint of another or an unrecorded
    recipe is deleted (said so) and False returned."""
    if not osp.exists(ckpt):
        return False
    path = osp.join(osp.dirname(ckpt), 'recipe.json')
    saved = None
    if osp.exists(path):
        with open(path) as f:
            saved = json.load(f)
    if saved == recipe:
        print(f'[pretrain] using {ckpt}', flush=True)
        return True
    print(f'[pretrain] {ckpt} was trained with '
          f'{saved or "an unrecorded recipe"}, not {recipe}: training it '
          'again', flush=True)
    os.remove(ckpt)
    return False


def save_recipe(ckpt: str, recipe: dict) -> None:
    """Write ``recipe`` next to the warm-start checkpoint ``ckpt``."""
    with open(osp.join(osp.dirname(ckpt), 'recipe.json'), 'w') as f:
        json.dump(recipe, f)


def pretrain_recipe(args: argparse.Namespace) -> dict:
    """What the shared warm start depends on besides the config files (a
    saved warm start is reused only when its recipe.json matches)."""
    return dict(
        pretrain_iters=args.pretrain_iters,
        cls_pretrain_iters=args.cls_pretrain_iters,
        backbone_lr_mult=args.pretrain_backbone_lr_mult,
        seed=args.seed,
        data_seed=data_seed(args),
        layout=args.toy_layout)


def run_worker(name: str, args: argparse.Namespace) -> Dict[str, dict]:
    """Train and test one model in this process; return its metrics."""
    if name == 'pretrain':
        pretrain(args)
        return {}
    cfg = load_cfg(name, args, args.iters, name,
                   pretrain_path(args) if args.pretrain_iters else None)
    print(f'[{name}] training {CONFIGS[name]} ({cfg.train_cfg.max_iters} '
          'iterations)', flush=True)
    results, timings = {}, {}
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    timings['train_s'] = time.time() - start
    start = time.time()
    results[name] = strip_prefix(runner.test())
    timings['test_s'] = time.time() - start
    if name == 'stpn':
        online = online_variant(cfg, args.online_k, args.online_stride)
        online.load_from = osp.join(cfg.work_dir,
                                    f'iter_{cfg.train_cfg.max_iters}.pth')
        key = f'stpn_online_k{args.online_k}_s{args.online_stride}'
        results[key] = strip_prefix(Runner.from_cfg(online).test())
    results[f'{name}_timings'] = timings
    return results


def _stream(name: str, proc: subprocess.Popen, log_path: str) -> None:
    """Copy a worker's output to its log; show progress lines."""
    with open(log_path, 'w') as log:
        for line in proc.stdout:
            log.write(line)
            if any(k in line for k in PROGRESS_KEYS):
                text = line.rstrip()
                if len(text) > 160:
                    text = text[:157] + '...'
                print(f'[{name}] {text}', flush=True)


def run(args: argparse.Namespace) -> Dict[str, dict]:
    """Train + test the baseline and STPN, one single-threaded process each,
    both at once (docs/toy_vid.md)."""
    if ensure_data(args) and osp.exists(pretrain_path(args)):
        print('[main job] new toy set: the old warm start is not reused',
              flush=True)
        os.remove(pretrain_path(args))
    if args.pretrain_iters:
        _spawn_and_collect(args, ('pretrain', ))
    return _spawn_and_collect(args, ('baseline', 'stpn'))


def _spawn_and_collect(args: argparse.Namespace,
                       names: Tuple[str, ...],
                       script: str = None) -> Dict[str, dict]:
    """Run ``script --worker NAME`` (default: this file) for each of
    ``names`` at once, single-threaded; collect their json results."""
    procs, threads = {}, []
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    for name in names:
        out = osp.join(args.out_dir, f'{name}.json')
        cmd = [
            sys.executable, script or osp.abspath(__file__), '--worker', name,
            '--worker-out', out, '--out-dir', args.out_dir, '--data-dir',
            args.data_dir, '--seed', str(args.seed), '--online-k',
            str(args.online_k), '--online-stride', str(args.online_stride),
            '--iters', str(args.iters), '--pretrain-iters',
            str(args.pretrain_iters), '--cls-pretrain-iters',
            str(args.cls_pretrain_iters), '--pretrain-backbone-lr-mult',
            str(args.pretrain_backbone_lr_mult), '--num-train-videos',
            str(args.num_train_videos), '--num-val-videos',
            str(args.num_val_videos)
        ]
        if args.data_seed is not None:
            cmd += ['--data-seed', str(args.data_seed)]
        cmd += ['--toy-layout', args.toy_layout]
        for flag, opts in (('--cfg-options', args.cfg_options),
                           ('--stpn-cfg-options', args.stpn_cfg_options)):
            if opts:
                cmd += [flag] + [f'{k}={v}' for k, v in opts.items()]
        procs[name] = (subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env, cwd=REPO), out)
        log = osp.join(args.out_dir, f'{name}.log')
        thread = threading.Thread(
            target=_stream, args=(name, procs[name][0], log), daemon=True)
        thread.start()
        threads.append(thread)
    results: Dict[str, dict] = {}
    for name, (proc, out) in procs.items():
        if proc.wait() != 0:
            raise RuntimeError(f'the {name} run failed (exit '
                               f'{proc.returncode}); see '
                               f'{args.out_dir}/{name}.log')
        with open(out) as f:
            results.update(json.load(f))
    for thread in threads:
        thread.join()
    results['timings'] = {
        f'{name}_{k}': v
        for name in procs
        for k, v in results.pop(f'{name}_timings', {}).items()
    }
    return results


def table(results: Dict[str, Dict[str, float]]) -> List[str]:
    rows = [k for k in results if k not in NOT_MODELS]
    width = max(len(r) for r in rows) + 8
    head = f'{"AP50 (%)":<{width}}' + ''.join(f'{c:>14}' for c, _ in COLUMNS)
    lines = [head, '-' * len(head)]
    for row in rows:
        lines.append(f'{row:<{width}}' + ''.join(
            f'{100 * results[row].get(key, float("nan")):>14.1f}'
            for _, key in COLUMNS))
    base = results['baseline']
    for row in rows[1:]:
        lines.append(f'{row + " - base":<{width}}' + ''.join(
            f'{100 * (results[row][key] - base[key]):>+14.1f}'
            for _, key in COLUMNS))
    return lines


def plot(results: Dict[str, Dict[str, float]], path: str,
         title: str = 'Toy deteriorated-video set: STPN vs no prompts'
         ) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [k for k in results if k not in NOT_MODELS]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        ax.bar([j + i * width for j in range(len(COLUMNS))],
               [100 * results[row][key] for _, key in COLUMNS],
               width, label=row)
    ax.set_xticks([j + width * (len(rows) - 1) / 2
                   for j in range(len(COLUMNS))])
    ax.set_xticklabels([c for c, _ in COLUMNS])
    ax.set_ylabel('AP50 (%)')
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    args = parse_args(argv)
    load = load_average()
    if args.worker:
        results = run_worker(args.worker, args)
        results.update(worker_environment(args.worker, load))
        with open(args.worker_out, 'w') as f:
            json.dump(results, f)
        return
    os.makedirs(args.out_dir, exist_ok=True)
    start = time.time()
    results = run(args)
    environment = pop_run_environment(results, load)
    results['timings']['total_s'] = time.time() - start
    lines = table(results)
    print('\n'.join(['', *lines, '']))
    stpn_type = load_cfg('stpn', args, 1, 'stpn').model.type
    if stpn_type != 'FasterRCNN':
        print(f'note: STPN was trained as {stpn_type} (an auxiliary loss on '
              'the prompts, a training aid that is not part of STPN; test '
              'time is FasterRCNN). The default is the paper objective '
              '(FasterRCNN, see README).')
    else:
        print('note: STPN was trained with the detection loss only (the '
              "paper's objective); both models' training clips get "
              'key-frame corruption (configs/_base_/datasets/toy-vid.py, '
              'train_key_corruption; see docs/toy_vid.md).')
    print('timings (s): ' + ', '.join(
        f'{k}={v:.0f}' for k, v in results['timings'].items()))
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(results, environment=environment), f, indent=2)
    plot(results, osp.join(args.out_dir, 'ap50.png'))
    print(f'[main job] wrote {args.out_dir}/results.json and ap50.png')


if __name__ == '__main__':
    main()
