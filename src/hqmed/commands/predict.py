"""``hqmed predict RUN FILES...``: class and probabilities for DICOM / PNG / JPEG files."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "predict the class and probabilities of DICOM, PNG or JPEG files with a finished run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="finished run directory")
    parser.add_argument("files", metavar="FILES", nargs="+", help="image files (DICOM, PNG, JPEG)")
    parser.add_argument("--fold", default="ensemble", help="'ensemble' (default) or a fold number")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when present) or a torch device")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from hqmed.train.inference import RunPredictor, load_files

    predictor = RunPredictor(args.run, fold=args.fold, device=args.device)
    c, h, w = predictor.input_shape
    base_c = c - 4 if predictor.cfg.data.quanvolution.enabled else c
    ds = load_files(args.files, channels=3 if base_c == 3 else 1, size=(h, w))
    prob = predictor.predict_dataset(ds)
    names = predictor.class_names
    rows = [{"file": str(f), "class": names[int(p.argmax())], "confidence": float(p.max()),
             "probabilities": {n: float(v) for n, v in zip(names, p)}} for f, p in zip(args.files, prob)]
    if args.json:
        json.dump({"run": str(args.run), "model": predictor.description, "predictions": rows},
                  sys.stdout, indent=2)
        print()
        return 0
    head = ["file", "class", "confidence", *[f"p({n})" for n in names]]
    table = [[r["file"], r["class"], f"{r['confidence']:.4f}", *[f"{v:.4f}" for v in r["probabilities"].values()]]
             for r in rows]
    widths = [max(len(x[i]) for x in [head, *table]) for i in range(len(head))]
    for line in [head, *table]:
        print("  ".join(x.ljust(wd) for x, wd in zip(line, widths)))
    return 0
