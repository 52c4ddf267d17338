"""``hqmed export RUN --format onnx --out model.onnx``: the run's model(s) as one ONNX graph."""

from __future__ import annotations

import argparse

from hqmed.export.onnx import export_onnx
from hqmed.train.rundir import RunDir

HELP = "export a finished run's model (or fold ensemble) to ONNX, quantum block folded to real matmuls"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="finished run directory")
    parser.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    parser.add_argument("--out", required=True, metavar="FILE.onnx",
                        help="graph file; the preprocessing JSON is written beside it (FILE.json)")
    parser.add_argument("--fold", default="ensemble", help="'ensemble' (default) or a fold number")


def run(args: argparse.Namespace) -> int:
    predictor = RunDir(args.run).predictor(fold=args.fold, device="cpu")
    graph, meta = export_onnx(predictor, args.out)
    print(f"{graph}: {predictor.description}, input image (N, {', '.join(map(str, predictor.input_shape))}) "
          f"in [0, 1] -> probabilities (N, {len(predictor.class_names)})")
    print(f"{meta}: preprocessing (read, channels, resize) and class names")
    return 0
