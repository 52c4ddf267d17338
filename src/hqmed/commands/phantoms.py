"""``hqmed phantoms OUT``: write a synthetic VinDr-SpineXR-format spine dataset."""

from __future__ import annotations

import argparse
import time

from hqmed.data.phantoms import generate_phantom_dataset, phantom_summary

HELP = "write SYNTHETIC lateral spine phantoms in the VinDr-SpineXR layout (DICOM + CSV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="output folder (created)")
    parser.add_argument("--n-images", type=int, default=400, help="number of images (default 400)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--difficulty", type=float, default=0.5,
                        help="0 = gross signatures, 1 = subtle and noisy (default 0.5)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), default=(512, 384),
                        help="image height and width in pixels (default 512 384)")
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="fraction of studies in test_images (default 0.2)")
    parser.add_argument("--max-findings", type=int, default=1,
                        help="findings per abnormal image, 1..N (default 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing dataset with different settings")


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    root = generate_phantom_dataset(
        args.out, n_images=args.n_images, seed=args.seed, difficulty=args.difficulty,
        image_size=tuple(args.image_size), test_fraction=args.test_fraction,
        max_findings=args.max_findings, overwrite=args.overwrite,
    )
    summary = phantom_summary(root)
    print(f"SYNTHETIC phantom dataset at {root} ({time.perf_counter() - t0:.1f} s)")
    for split, counts in summary.items():
        total = sum(counts.values())
        print(f"  {split}: {total} annotation rows")
        for name, n in counts.items():
            print(f"    {name:<22} {n}")
    return 0
