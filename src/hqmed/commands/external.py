"""``hqmed external RUN FOLDER``: external validation on unlabelled images (the paper's Table 7).

Every image under FOLDER (PNG, JPEG, DICOM, recursively as ``hqmed.data`` folder loading does) is
classified; the summary gives, per predicted class, the count and the mean and standard deviation
of the confidence (the winning probability).
"""

from __future__ import annotations

import argparse

from hqmed.commands._common import add_predictor_arguments, emit_json
from hqmed.data.registry import load_source
from hqmed.eval.external import external_summary, format_external_table
from hqmed.train.rundir import RunDir

HELP = "external validation on an unlabelled image folder: per predicted class count and confidence"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="finished run directory")
    parser.add_argument("folder", metavar="FOLDER", help="folder of unlabelled images")
    add_predictor_arguments(parser)
    parser.add_argument("--on-error", choices=["raise", "skip"], default="raise",
                        help="unreadable files: stop (default) or skip and report them")
    parser.add_argument("--out", metavar="FILE", help="also write the summary and per-file predictions as JSON")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    predictor = RunDir(args.run).predictor(fold=args.fold, device=args.device)
    ds = load_source("folder", root=args.folder, labelled=False, image_size=predictor.input_shape[1],
                     channels=predictor.source_channels, on_error=args.on_error)["all"]
    prob = predictor.predict_dataset(ds)
    summary = external_summary(prob, predictor.class_names)
    doc = {"run": str(args.run), "folder": str(args.folder), "model": predictor.description,
           "summary": summary,
           "predictions": [{"file": str(f), "class": predictor.class_names[int(p.argmax())],
                            "confidence": float(p.max())} for f, p in zip(ds.meta["id"], prob)]}
    if emit_json(doc, args):
        return 0
    print(f"{args.folder}: {summary['n']} images, {predictor.description}")
    print(format_external_table(summary))
    return 0
