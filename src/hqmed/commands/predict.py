"""``hqmed predict RUN FILES...``: class and probabilities for DICOM / PNG / JPEG files."""

from __future__ import annotations

import argparse

from hqmed.commands._common import add_predictor_arguments, emit_json
from hqmed.data.folders import load_image_files
from hqmed.train.rundir import RunDir

HELP = "predict the class and probabilities of DICOM, PNG or JPEG files with a finished run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="finished run directory")
    parser.add_argument("files", metavar="FILES", nargs="+", help="image files (DICOM, PNG, JPEG)")
    add_predictor_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    predictor = RunDir(args.run).predictor(fold=args.fold, device=args.device)
    ds = load_image_files(args.files, channels=predictor.source_channels, size=predictor.input_shape[1:])
    prob = predictor.predict_dataset(ds)
    names = predictor.class_names
    rows = [{"file": str(f), "class": names[int(p.argmax())], "confidence": float(p.max()),
             "probabilities": {n: float(v) for n, v in zip(names, p)}} for f, p in zip(args.files, prob)]
    if emit_json({"run": str(args.run), "model": predictor.description, "predictions": rows}, args):
        return 0
    head = ["file", "class", "confidence", *[f"p({n})" for n in names]]
    table = [[r["file"], r["class"], f"{r['confidence']:.4f}", *[f"{v:.4f}" for v in r["probabilities"].values()]]
             for r in rows]
    widths = [max(len(x[i]) for x in [head, *table]) for i in range(len(head))]
    for line in [head, *table]:
        print("  ".join(x.ljust(wd) for x, wd in zip(line, widths)))
    return 0
