"""Peak memory of the LiteSpineNet paper's full-scale training set, and how fast it streams.

Builds the paper's training set exactly as ``configs/litespinenet.yaml`` asks: VinDr-SpineXR-format
phantoms (default 1,500 radiographs, generated once and cached), ROI crops at 224 px kept in the
on-disk sample store (uint16), the normaliser fitted on the crops, and virtual SMOTE up to 3,400
crops per class (8 classes: 27,200 training samples). Then, in this process:

- the loader alone: ``--steps`` batches of 32 read from the store, synthesised and augmented
  (the paper's augmentation from the config) by ``--workers`` DataLoader workers -> samples/s;
- ``--steps`` training steps of LiteSpineNet (the config's model, Adam 1e-4, batch 32) through
  ``Trainer.train_steps`` -- the same step ``hqmed train`` runs -> seconds per step
  (after ``--warmup`` untimed steps).

It prints the peak resident set size of this process (``resource.getrusage``; its workers are
reported separately) beside the size the old in-memory path needed for the same set (every
sample as float32), and writes JSON. Acceptance: peak RSS <= 3 GiB.

    python benchmarks/memory.py --steps 20            # the acceptance run
    python benchmarks/memory.py --n-images 200 --steps 2 --target 100   # a smoke run

Writes benchmarks/results/memory.json. Timings on a shared machine: see the load averages.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hqmed.data.balancing import SmoteImages, smote_plan
from hqmed.data.base import default_cache_dir
from hqmed.data.phantoms import generate_phantom_dataset
from hqmed.data.vindr import load_vindr
from hqmed.train.config import parse_config, read_yaml
from hqmed.train.loader import Batches, batch_loader
from hqmed.train.prepare import build_augment, build_model, fit_normalizer
from hqmed.train.trainer import Trainer
from hqmed.utils.io import atomic_write_json
from hqmed.utils.runtime import environment_info

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "memory.json"
CONFIG = REPO / "configs" / "litespinenet.yaml"
GIB = 2**30


def peak_rss() -> dict[str, float]:
    """Peak RSS in GiB of this process and of its largest finished child (Linux: ru_maxrss in KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / GIB
    return {"self_gib": round(own, 3), "children_max_gib": round(kids, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed training steps (default 20)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    ap.add_argument("--n-images", type=int, default=1500, help="phantom radiographs (default 1500)")
    ap.add_argument("--target", type=int, default=3400, help="SMOTE target per class (default 3400)")
    ap.add_argument("--image-size", type=int, default=224, help="crop side in px (default 224)")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers (default 2)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--data", type=Path, default=None,
                    help="phantom folder (default: $HQMED_CACHE/benchmarks/vindr-phantoms-<n>)")
    ap.add_argument("--out", type=Path, default=RESULTS, help=f"JSON output (default {RESULTS})")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    phases: dict[str, float] = {}
    rss: dict[str, dict] = {}

    t0 = time.perf_counter()
    root = args.data or default_cache_dir() / "benchmarks" / f"vindr-phantoms-{args.n_images}"
    generate_phantom_dataset(root, n_images=args.n_images, seed=0)
    phases["phantoms_s"] = time.perf_counter() - t0
    rss["after_phantoms"] = peak_rss()

    t0 = time.perf_counter()
    train = load_vindr(root, image_size=args.image_size, channels=3, splits=["train"])["train"]
    phases["store_s"] = time.perf_counter() - t0
    rss["after_store"] = peak_rss()
    store_bytes = sum((s.path / "images.bin").stat().st_size for s in train.images.stores)

    raw = read_yaml(CONFIG, "study config")["base"]
    cfg = parse_config(raw, [f"num_workers={args.workers}"], source=str(CONFIG))
    t0 = time.perf_counter()
    normalizer = fit_normalizer(train.images)
    plan = smote_plan(train.images, train.labels, target_per_class=args.target, seed=0,
                      num_classes=train.num_classes)
    x, y = SmoteImages(train.images, plan), plan.labels
    phases["normalizer_and_smote_s"] = time.perf_counter() - t0
    rss["after_smote"] = peak_rss()
    float32_bytes = int(np.prod(x.shape)) * 4
    print(f"training set: {len(train)} crops -> {len(y)} after SMOTE to {args.target}/class "
          f"({np.bincount(y).tolist()}), {args.image_size} px, store {store_bytes / GIB:.2f} GiB on disk")

    augment = build_augment(cfg.augmentation)
    order = np.random.default_rng(0).permutation(len(y))[: args.steps * cfg.batch_size]
    t0 = time.perf_counter()
    seen = sum(len(yb) for _, yb in batch_loader(Batches(x, y, order, cfg.batch_size, augment=augment),
                                                 args.workers))
    loader_s = time.perf_counter() - t0
    rss["after_loader"] = peak_rss()

    model = build_model(cfg, num_classes=train.num_classes, in_chans=3, seed=0)
    with tempfile.TemporaryDirectory() as unused:  # train_steps writes no checkpoint
        trainer = Trainer(model, cfg, unused, augment=augment, normalize=normalizer, progress=False)
        trainer.train_steps(x, y, args.warmup)
        t0 = time.perf_counter()
        loss, _ = trainer.train_steps(x, y, args.steps)
        step_s = (time.perf_counter() - t0) / args.steps
    rss["after_training"] = peak_rss()

    peak = rss["after_training"]["self_gib"]
    result = {
        "benchmark": "memory", "environment": environment_info(), "args": vars(args) | {
            "data": str(root), "out": str(args.out)},
        "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
        "n_crops": len(train), "n_training_samples": int(len(y)), "class_counts": np.bincount(y).tolist(),
        "sample_shape": list(x.shape[1:]), "store_bytes": store_bytes,
        "old_float32_bytes": float32_bytes, "old_float32_gib": round(float32_bytes / GIB, 2),
        "peak_rss": rss, "peak_rss_gib": peak, "target_gib": 3.0, "meets_target": peak <= 3.0,
        "float32_over_peak": round(float32_bytes / GIB / peak, 1),
        "loader_samples_per_s": round(seen / loader_s, 1), "loader_workers": args.workers,
        "step_s": round(step_s, 3), "steps": args.steps, "batch_size": cfg.batch_size,
        "train_loss": loss, "phases_s": {k: round(v, 1) for k, v in phases.items()},
        "epoch_estimate_s": round(step_s * len(y) / cfg.batch_size, 0),
    }
    print(f"hardware: {result['environment']['cpu']} x{os.cpu_count()}, torch threads "
          f"{torch.get_num_threads()}, load average {load_start[0]:.1f} -> {result['loadavg_end'][0]:.1f} "
          "(shared machine)")
    print(f"{'':34}{'value':>14}")
    print(f"{'peak RSS, this process':34}{peak:>10.2f} GiB   (target <= 3 GiB: "
          f"{'met' if result['meets_target'] else 'NOT met'})")
    print(f"{'peak RSS, largest worker':34}{rss['after_training']['children_max_gib']:>10.2f} GiB")
    print(f"{'old path: float32 in memory':34}{float32_bytes / GIB:>10.2f} GiB   "
          f"({result['float32_over_peak']}x the peak)")
    print(f"{'loader alone':34}{result['loader_samples_per_s']:>10.1f} samples/s ({args.workers} workers)")
    print(f"{'training step (batch 32)':34}{step_s:>10.2f} s      -> one epoch of {len(y)} ~ "
          f"{result['epoch_estimate_s'] / 60:.0f} min")
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
