"""``hqmed predict RUN FILES...``: class and probabilities for DICOM / PNG / JPEG files."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from hqmed.commands._common import add_predictor_arguments, emit_json
from hqmed.data.base import ImageDataset, read_image_file, resize_images
from hqmed.errors import ConfigError, DataError
from hqmed.train.rundir import RunDir

HELP = "predict the class and probabilities of DICOM, PNG or JPEG files with a finished run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="finished run directory")
    parser.add_argument("files", metavar="FILES", nargs="+", help="image files (DICOM, PNG, JPEG)")
    add_predictor_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def load_files(paths: list[str | Path], channels: int = 3, size: tuple[int, int] | None = None):
    """ImageDataset (labels -1) of PNG/JPEG/DICOM files, each resized to ``size`` (H, W) (default:
    the first file's size); its meta ``path`` keeps each file name."""
    if not paths:
        raise ConfigError("FILES: expected at least one image file; got none")
    arrays = []
    for p in paths:
        if not Path(p).is_file():
            raise DataError(f"{Path(p).resolve()}: expected an image file (PNG, JPEG or DICOM); "
                            "got no such file")
        arrays.append(read_image_file(p, channels=channels))
    h, w = size if size is not None else arrays[0].shape[-2:]
    images = np.stack([a if a.shape[-2:] == (h, w) else resize_images(a, (h, w)) for a in arrays])
    ids = [str(p) for p in paths]
    meta = pd.DataFrame({"id": ids, "path": ids, "group": ids, "box": [None] * len(ids)})
    return ImageDataset(images.astype(np.float32), np.full(len(ids), -1, dtype=np.int64),
                        ["?"], meta, name="files")


def run(args: argparse.Namespace) -> int:
    predictor = RunDir(args.run).predictor(fold=args.fold, device=args.device)
    ds = load_files(args.files, channels=predictor.source_channels, size=predictor.input_shape[1:])
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
