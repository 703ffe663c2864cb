"""Toy VIS experiment: STPN MaskTrack R-CNN vs the same model without
prompts on the deteriorated toy VIS set.

Generates the set (:mod:`mmstpn.projects.toy_vis.generator`, once per
seed and size), then:
1. the toy VID job's object-crop class warm start of the backbone
   (:func:`mmstpn.projects.toy_vid.experiment.class_pretrain`, same
   backbone);
2. a shared warm start: the baseline MaskTrack R-CNN (``num_prompts=0``)
   trained ``--pretrain-iters`` iterations;
3. baseline and STPN fine-tuned ``--iters`` iterations each from it (same
   data, schedule, seed; the configs' backbone learning rate 0.1x), one
   single-threaded process each, in parallel;
4. YouTube-VIS video AP (``YouTubeVISMetricNp2``) and per-frame mask AP
   (all frames / deteriorated frames, pycocotools) on the val set, for the
   baseline and for STPN offline (K=14 over the video) and online (K past
   frames); a table and ``results.json`` (with
   :func:`mmstpn.utils.run_environment`: where it ran).

``--seed`` sets the generated set, the initialisation and the data order;
``tools/misc/toy_vis_seeds.py`` runs this job over several seeds.

``--model`` picks the model pair (STPN and its no-prompt baseline):
``masktrack`` (STPN MaskTrack R-CNN, the default), ``m2f``
(``STPNMask2FormerVideo``) or ``minvis`` (``MinVIS``); the warm start,
data, iterations and seed are the same recipe for each. Video AP and frame
mask AP are also given per number of objects in the video (1 / 2+).

Example::

    python tools/misc/toy_vis_experiment.py --out-dir outputs/toy_vis
    python tools/misc/toy_vis_experiment.py --model minvis
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_util
import torch
from mmdet.registry import METRICS
from mmengine.config import Config, DictAction
from mmengine.evaluator import BaseMetric
from mmengine.runner import Runner
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import mmstpn  # noqa: F401
from mmstpn.evaluation.metrics import YouTubeVISMetricNp2
from mmstpn.projects import configs_root
from mmstpn.projects.run_record import (load_average, pop_run_environment,
                                        worker_environment)
from mmstpn.projects.seeds import SeedsTable
from mmstpn.projects.toy_vid import experiment as toy_vid_experiment
from mmstpn.projects.toy_vis import generator as toy_vis_generator

REPO = configs_root()
#: how a worker process runs this module (``-m``: the package imports as
#: in the main process, from the folder ``configs_root`` names)
WORKER = (sys.executable, '-m', 'mmstpn.projects.toy_vis.experiment')

CONFIGS = {
    'baseline': 'configs/masktrack_rcnn/'
    'masktrack-rcnn_swin-toy-p4-w4_fpn_1xb2-1000i_toy-vis.py',
    'stpn': 'configs/masktrack_rcnn/'
    'stpn-masktrack-rcnn_swin-toy-p4-w4_fpn_1xb2-1000i_toy-vis.py',
}
# ---- model pairs of --model: configs, and where the backbone sits in the
# model (for the class warm start's keys, its learning rate and the test
# policy)
MODEL_PAIRS = {
    'masktrack': dict(configs=CONFIGS, backbone='detector.backbone'),
    'm2f': dict(
        configs={
            'baseline': 'configs/mask2former_vis/'
            'mask2former_swin-toy-p4-w4_1xb2-1000i_toy-vis.py',
            'stpn': 'configs/mask2former_vis/'
            'stpn-mask2former_swin-toy-p4-w4_1xb2-1000i_toy-vis.py',
        },
        backbone='backbone'),
    'minvis': dict(
        configs={
            'baseline': 'configs/minvis/'
            'minvis_swin-toy-p4-w4_1xb2-1000i_toy-vis.py',
            'stpn': 'configs/minvis/'
            'stpn-minvis_swin-toy-p4-w4_1xb2-1000i_toy-vis.py',
        },
        backbone='detector.backbone'),
}


def model_pair(args) -> dict:
    """The ``MODEL_PAIRS`` entry of ``--model``."""
    return MODEL_PAIRS[getattr(args, 'model', 'masktrack')]


def objects_per_video(ann_file: str) -> Dict[int, int]:
    """``{video_id: number of object tracks}`` of a CocoVID json."""
    with open(ann_file) as f:
        data = json.load(f)
    tracks: Dict[int, set] = {v['id']: set() for v in data['videos']}
    for ann in data['annotations']:
        tracks[ann['video_id']].add(ann['instance_id'])
    return {v: len(t) for v, t in tracks.items()}


def object_group(num: int) -> str:
    """'1obj' or '2+obj'."""
    return '1obj' if num <= 1 else '2+obj'


@METRICS.register_module(force=True)
class ToyVideoAPByObjects(YouTubeVISMetricNp2):
    """``YouTubeVISMetricNp2`` plus the same video AP over the videos with
    one object (``segm_mAP_1obj``, ...) and with two or more
    (``segm_mAP_2+obj``, ...), counted in ``ann_file``."""

    def __init__(self, ann_file: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_objects = objects_per_video(ann_file)

    def compute_metrics(self, results: List) -> Dict[str, float]:
        out = dict(super().compute_metrics(results))
        groups: Dict[str, list] = {}
        for preds, gts in results:
            video = (preds or gts)[0]['video_id'] if (preds or gts) else None
            if video is not None:
                groups.setdefault(object_group(self.num_objects[video]),
                                  []).append((preds, gts))
        for name, subset in sorted(groups.items()):
            for key, value in super().compute_metrics(subset).items():
                out[f'{key}_{name}'] = value
        return out
# ---- end of the model pairs


PROGRESS_KEYS = ('Iter(train)', 'youtube_vis', 'frame mask AP', '] training',
                 'warm start', 'Error', 'Traceback')


@METRICS.register_module(force=True)
class ToyFrameMaskAP(BaseMetric):
    """Per-frame mask AP of a VIS model's track predictions (pycocotools
    segm, AP@[.5:.95] and AP50) over all frames and over the frames flagged
    ``deteriorated`` in ``ann_file``. Each frame is one COCO image; the
    ground truth is the frame's instances (RLE masks)."""

    default_prefix = 'frame'

    def __init__(self, ann_file: str, **kwargs) -> None:
        super().__init__(**kwargs)
        with open(ann_file) as f:
            data = json.load(f)
        self.deteriorated = {
            img['id'] for img in data['images'] if img.get('deteriorated')
        }
        # per number of objects in the frame's video (--model block)
        objects = objects_per_video(ann_file)
        self.group = {img['id']: object_group(objects[img['video_id']])
                      for img in data['images']}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        # one result per video (a list of its frames): mmengine keeps the
        # first len(dataset) results, and a test item is a whole video
        for track in data_samples:
            video: List[dict] = []
            self.results.append(video)
            for frame in track['video_data_samples']:
                pred = frame.pred_track_instances
                masks = pred.masks.cpu().numpy().astype(np.uint8)
                rles = [
                    mask_util.encode(np.asfortranarray(m)) for m in masks
                ]
                gts = [
                    dict(mask=inst['mask'], label=inst['bbox_label'])
                    for inst in frame.instances
                    if not inst.get('ignore_flag', 0)
                ]
                video.append(
                    dict(img_id=frame.img_id, hw=tuple(frame.ori_shape),
                         rles=rles, scores=pred.scores.cpu().numpy(),
                         labels=pred.labels.cpu().numpy(), gts=gts))

    def _ap(self, frames: List[dict]) -> Tuple[float, float]:
        num_classes = len(self.dataset_meta['classes'])
        images, anns, dets = [], [], []
        for f in frames:
            h, w = f['hw']
            images.append(dict(id=f['img_id'], height=h, width=w))
            for g in f['gts']:
                rle = g['mask']
                if isinstance(rle['counts'], list):
                    rle = mask_util.frPyObjects(rle, h, w)
                anns.append(dict(
                    id=len(anns) + 1, image_id=f['img_id'],
                    category_id=int(g['label']) + 1, segmentation=rle,
                    area=float(mask_util.area(rle)), iscrowd=0,
                    bbox=list(mask_util.toBbox(rle))))
            for rle, s, c in zip(f['rles'], f['scores'], f['labels']):
                dets.append(dict(image_id=f['img_id'],
                                 category_id=int(c) + 1, segmentation=rle,
                                 score=float(s)))
        gt = COCO()
        gt.dataset = dict(images=images, annotations=anns, categories=[
            dict(id=i + 1, name=str(i)) for i in range(num_classes)])
        gt.createIndex()
        if not dets:
            return 0.0, 0.0
        ev = COCOeval(gt, gt.loadRes(dets), 'segm')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        return float(ev.stats[0]), float(ev.stats[1])

    def compute_metrics(self, results: List[List[dict]]) -> Dict[str, float]:
        results = [frame for video in results for frame in video]
        out = {}
        subsets = dict(all=results, deteriorated=[
            r for r in results if r['img_id'] in self.deteriorated])
        # clean frames and per number of objects (--model block)
        subsets['clean'] = [r for r in results
                            if r['img_id'] not in self.deteriorated]
        for name in ('all', 'deteriorated', 'clean'):
            for group in ('1obj', '2+obj'):
                subsets[f'{name}_{group}'] = [
                    r for r in subsets[name]
                    if self.group.get(r['img_id']) == group]
        for name, frames in subsets.items():
            if not frames and name != 'all':  # no such frame: no figure
                continue
            ap, ap50 = self._ap(frames)
            out[f'mask_AP_{name}'], out[f'mask_AP50_{name}'] = ap, ap50
        print('frame mask AP: ' + ', '.join(
            f'{k} {v:.3f}' for k, v in out.items()), flush=True)
        return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', choices=sorted(MODEL_PAIRS),
                        default='masktrack',
                        help='the model pair (STPN and its no-prompt '
                        'baseline)')
    parser.add_argument('--out-dir',
                        help='default: outputs/toy_vis (masktrack), '
                        'outputs/toy_vis_<model> (the others)')
    parser.add_argument('--data-dir', default='data/toy_vis')
    parser.add_argument('--num-train-videos', type=int, default=240)
    parser.add_argument('--num-val-videos', type=int, default=24)
    parser.add_argument('--frames-per-video', type=int, default=16)
    parser.add_argument('--img-size', type=int, default=128)
    parser.add_argument('--cls-pretrain-iters', type=int, default=400)
    parser.add_argument('--pretrain-iters', type=int, default=500)
    parser.add_argument('--pretrain-backbone-lr-mult', type=float,
                        default=0.1,
                        help='learning-rate multiplier of the backbone in '
                        'the shared warm start (as the toy VID job; 1: as '
                        'the heads)')
    parser.add_argument('--iters', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--online-k', type=int, default=4)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={},
                        help='override settings of both models (and of the '
                        'warm start)')
    parser.add_argument(
        '--stpn-cfg-options', nargs='+', action=DictAction, default={},
        help='override settings of the STPN model only, e.g. its objective: '
        'model.type=PromptSupervisedMinVIS model.prompt_loss_weight=20')
    parser.add_argument('--worker', choices=sorted(CONFIGS) + ['pretrain'],
                        help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.out_dir is None:
        args.out_dir = 'outputs/toy_vis' + (
            '' if args.model == 'masktrack' else f'_{args.model}')
    return args


#: the file of a generated set that records its arguments
DATA_INFO = 'toy_vis_info.json'


def data_recipe(args) -> dict:
    """The arguments the toy set of ``args`` is generated with."""
    return dict(num_train_videos=args.num_train_videos,
                num_val_videos=args.num_val_videos,
                frames_per_video=args.frames_per_video,
                img_size=args.img_size, seed=args.seed)


def ensure_data(args) -> bool:
    """Generate the toy set unless ``args.data_dir`` holds one made with
    the same arguments and seed (its ``toy_vis_info.json``); True when it
    was (re)generated."""
    info = osp.join(args.data_dir, DATA_INFO)
    want = data_recipe(args)
    found = None
    if osp.exists(info):
        with open(info) as f:
            found = json.load(f)
        if found == want:
            print(f'[toy vis] using the toy set in {args.data_dir}',
                  flush=True)
            return False
    print(f'[toy vis] generating the toy set in {args.data_dir} '
          f'({want}; found {found or "no " + DATA_INFO})', flush=True)
    toy_vis_generator.generate_toy_vis(
        args.data_dir, args.num_train_videos, args.num_val_videos,
        args.frames_per_video, (args.img_size, args.img_size), args.seed)
    with open(info, 'w') as f:
        json.dump(want, f)
    return True


def load_cfg(name: str, args, iters: int, work: str, load_from=None):
    cfg = Config.fromfile(osp.join(REPO, model_pair(args)['configs'][name]))
    root = osp.abspath(args.data_dir) + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    video_ap = dict(cfg.test_evaluator, type='ToyVideoAPByObjects',
                    ann_file=root + 'val.json')
    metrics = [video_ap, dict(type='ToyFrameMaskAP',
                              ann_file=root + 'val.json')]
    cfg.val_evaluator = cfg.test_evaluator = metrics
    # no validation during training: the test below evaluates once
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    cfg.train_cfg.val_begin = iters + 1
    cfg.default_hooks.checkpoint.interval = iters
    warmup = min(cfg.param_scheduler[0].end, iters // 2)
    cfg.param_scheduler[0].end = warmup
    cfg.param_scheduler[-1].begin = warmup
    cfg.param_scheduler[-1].end = iters
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = osp.join(args.out_dir, work)
    cfg.load_from = load_from
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if name == 'stpn' and args.stpn_cfg_options:
        cfg.merge_from_dict(args.stpn_cfg_options)
    return cfg


def pretrain_path(args) -> str:
    return osp.join(args.out_dir, 'pretrain',
                    f'iter_{args.pretrain_iters}.pth')


def pretrain(args) -> None:
    """Class warm start of the backbone, then the shared warm start."""
    vid = toy_vid_experiment
    recipe = dict(
        pretrain_iters=args.pretrain_iters,
        cls_pretrain_iters=args.cls_pretrain_iters,
        backbone_lr_mult=args.pretrain_backbone_lr_mult, seed=args.seed)
    if vid.reuse_warm_start(pretrain_path(args), recipe):
        return
    cls_ckpt = None
    if args.cls_pretrain_iters:
        raw = osp.join(args.out_dir, 'cls_pretrain', 'backbone.pth')
        vid.class_pretrain(args, raw)  # same backbone, same crop rule
        state = torch.load(raw, map_location='cpu')['state_dict']
        cls_ckpt = osp.join(args.out_dir, 'cls_pretrain', 'detector.pth')
        prefix = model_pair(args)['backbone'][:-len('backbone')]
        torch.save({'state_dict': {f'{prefix}{k}': v
                                   for k, v in state.items()}}, cls_ckpt)
    cfg = load_cfg('baseline', args, args.pretrain_iters, 'pretrain',
                   cls_ckpt)
    # as the toy VID job: the warm start sees the clips as they are
    dataset = cfg.train_dataloader.dataset
    dataset.pipeline = vid.without_key_corruption(dataset.pipeline)
    vid.scale_backbone_lr(cfg, args.pretrain_backbone_lr_mult,
                          model_pair(args)['backbone'])
    print(f'[pretrain] shared warm start, {args.pretrain_iters} iterations, '
          f'backbone lr x{args.pretrain_backbone_lr_mult:g}', flush=True)
    Runner.from_cfg(cfg).train()
    vid.save_recipe(pretrain_path(args), recipe)


def strip(metrics: Dict[str, float]) -> Dict[str, float]:
    return {k.split('/')[-1]: float(v) for k, v in metrics.items()}


def run_worker(name: str, args) -> Dict[str, dict]:
    if name == 'pretrain':
        pretrain(args)
        return {}
    cfg = load_cfg(name, args, args.iters, name,
                   pretrain_path(args) if args.pretrain_iters else None)
    print(f'[{name}] training {model_pair(args)["configs"][name]} '
          f'({args.iters} iterations)',
          flush=True)
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    timings = dict(train_s=time.time() - start)
    start = time.time()
    results = {name: strip(runner.test())}
    timings['test_s'] = time.time() - start
    if name == 'stpn':
        online = load_cfg(name, args, args.iters, 'stpn_online',
                          osp.join(cfg.work_dir, f'iter_{args.iters}.pth'))
        online.merge_from_dict({
            f'model.{model_pair(args)["backbone"]}.test_support': dict(
                mode='online', num_support=args.online_k, stride=1)})
        results[f'stpn_online_k{args.online_k}'] = strip(
            Runner.from_cfg(online).test())
    results[f'{name}_timings'] = timings
    return results


def _stream(name: str, proc, log_path: str) -> None:
    with open(log_path, 'w') as log:
        for line in proc.stdout:
            log.write(line)
            if any(k in line for k in PROGRESS_KEYS):
                print(f'[{name}] {line.rstrip()[:160]}', flush=True)


def spawn(args, names) -> Dict[str, dict]:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    procs, threads = {}, []
    for name in names:
        out = osp.join(args.out_dir, f'{name}.json')
        cmd = [*WORKER, '--worker', name, '--worker-out', out]
        for key in ('model', 'out_dir', 'data_dir', 'num_train_videos',
                    'num_val_videos', 'frames_per_video', 'img_size',
                    'cls_pretrain_iters', 'pretrain_iters',
                    'pretrain_backbone_lr_mult', 'iters', 'seed',
                    'online_k'):
            cmd += ['--' + key.replace('_', '-'), str(getattr(args, key))]
        for flag, options in (('--cfg-options', args.cfg_options),
                              ('--stpn-cfg-options', args.stpn_cfg_options)):
            if options:
                cmd += [flag] + [f'{k}={v}' for k, v in options.items()]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=REPO)
        procs[name] = (proc, out)
        thread = threading.Thread(target=_stream, daemon=True, args=(
            name, proc, osp.join(args.out_dir, f'{name}.log')))
        thread.start()
        threads.append(thread)
    results: Dict[str, dict] = {}
    for name, (proc, out) in procs.items():
        if proc.wait() != 0:
            raise RuntimeError(f'the {name} run failed; see '
                               f'{args.out_dir}/{name}.log')
        with open(out) as f:
            results.update(json.load(f))
    for thread in threads:
        thread.join()
    return results


COLUMNS = (('video AP', 'youtube_vis/segm_mAP'),
           ('video AP50', 'youtube_vis/segm_mAP_50'),
           ('video AP, 1 obj', 'youtube_vis/segm_mAP_1obj'),
           ('video AP, 2+ obj', 'youtube_vis/segm_mAP_2+obj'),
           ('frame mask AP', 'mask_AP_all'),
           ('frame mask AP, deteriorated', 'mask_AP_deteriorated'),
           ('frame mask AP, clean', 'mask_AP_clean'),
           ('frame mask AP50, deteriorated', 'mask_AP50_deteriorated'),
           ('frame mask AP, deteriorated, 1 obj',
            'mask_AP_deteriorated_1obj'),
           ('frame mask AP, deteriorated, 2+ obj',
            'mask_AP_deteriorated_2+obj'))


#: what ``tools/misc/toy_vis_seeds.py`` tabulates: video AP and frame mask
#: AP on all / deteriorated / clean frames, baseline and STPN (offline)
SEEDS_TABLE = SeedsTable(
    models=(('baseline', 'baseline'), ('stpn', 'STPN')),
    columns=(('video', 'video AP', ('segm_mAP', )),
             ('all', 'frame mask AP', ('mask_AP_all', )),
             ('deteriorated', 'frame mask AP det.',
              ('mask_AP_deteriorated', )),
             ('clean', 'frame mask AP clean', ('mask_AP_clean', ))))


def _get(metrics: Dict[str, float], key: str) -> float:
    short = key.split('/')[-1]
    return 100 * metrics.get(short, metrics.get(key, float('nan')))


def table(results: Dict[str, dict]) -> List[str]:
    rows = [r for r in results if not r.endswith('timings')
            and isinstance(results[r], dict)
            and r not in ('timings', 'args', 'environment')]
    lines = ['| model | ' + ' | '.join(c for c, _ in COLUMNS) + ' |',
             '|---' * (len(COLUMNS) + 1) + '|']
    for r in rows:
        lines.append(f'| {r} | ' + ' | '.join(
            f'{_get(results[r], k):.1f}' for _, k in COLUMNS) + ' |')
    for r in rows:
        if r == 'baseline':
            continue
        lines.append(f'| {r} - baseline | ' + ' | '.join(
            f'{_get(results[r], k) - _get(results["baseline"], k):+.1f}'
            for _, k in COLUMNS) + ' |')
    return lines


def main(argv=None) -> None:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    load = load_average()
    if args.worker:
        results = run_worker(args.worker, args)
        results.update(worker_environment(args.worker, load))
        with open(args.worker_out, 'w') as f:
            json.dump(results, f)
        return
    start = time.time()
    if ensure_data(args) and osp.exists(pretrain_path(args)):
        print('[toy vis] new toy set: the old warm start is not reused',
              flush=True)
        os.remove(pretrain_path(args))
    if args.pretrain_iters:
        spawn(args, ('pretrain', ))
    results = spawn(args, ('baseline', 'stpn'))
    environment = pop_run_environment(results, load)
    results['wall_s'] = time.time() - start
    results['args'] = {k: v for k, v in vars(args).items()
                       if k not in ('worker', 'worker_out')}
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(results, environment=environment), f, indent=1)
    print('\n'.join(table(results)))
    print(f'[toy vis] done in {results["wall_s"] / 60:.1f} min', flush=True)


if __name__ == '__main__':
    main()
