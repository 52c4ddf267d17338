"""``hqmed explain RUN FILES... --out DIR``: where the model looks, per image (overlay, map, JSON)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from hqmed.commands._common import add_predictor_arguments
from hqmed.data.folders import load_image_files
from hqmed.explain import RunExplainer, default_layer, overlay_png, resolve_target
from hqmed.train.rundir import RunDir
from hqmed.utils.io import atomic_write_bytes, atomic_write_json

HELP = "Grad-CAM / Grad-CAM++ / saliency maps of a finished run on DICOM, PNG or JPEG files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="finished run directory")
    parser.add_argument("files", metavar="FILES", nargs="+", help="image files (DICOM, PNG, JPEG)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for <name>.png (overlay), <name>.npy (map), <name>.json")
    parser.add_argument("--target", default=None,
                        help="class name or index to explain (default: the predicted class)")
    parser.add_argument("--method", default="gradcam", choices=["gradcam", "gradcam++", "saliency"])
    parser.add_argument("--layer", default=None,
                        help="module name for the CAM (default: the last conv stage, backbone.<last>)")
    add_predictor_arguments(parser)


def _unique_stems(files: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for f in files:
        stem = Path(f).stem
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def run(args: argparse.Namespace) -> int:
    predictor = RunDir(args.run).predictor(fold=args.fold, device=args.device)
    names = predictor.class_names
    target = resolve_target(args.target, names)
    explainer = RunExplainer(predictor)
    layer = None if args.method == "saliency" else (args.layer or default_layer(explainer.members[0].model))
    ds = load_image_files(args.files, channels=predictor.source_channels, size=predictor.input_shape[1:])
    images = predictor.prepare(ds).images
    maps, probs, targets = explainer.explain(images, target, args.method, layer)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for f, stem, image, heat, p, t in zip(args.files, _unique_stems(args.files), images, maps, probs, targets):
        atomic_write_bytes(out / f"{stem}.png", overlay_png(image[:predictor.source_channels], heat))
        buf = io.BytesIO()
        np.save(buf, heat)
        atomic_write_bytes(out / f"{stem}.npy", buf.getvalue())
        atomic_write_json(out / f"{stem}.json", {
            "file": str(f), "class": names[int(p.argmax())], "confidence": float(p.max()),
            "probabilities": {n: float(v) for n, v in zip(names, p)},
            "target": names[int(t)], "method": args.method, "layer": layer,
            "model": predictor.description, "run": str(args.run),
            "overlay": f"{stem}.png", "heatmap": f"{stem}.npy"})
        print(f"{f}: {names[int(p.argmax())]} ({float(p.max()):.3f}); {args.method} of "
              f"'{names[int(t)]}' -> {out / stem}.png")
    return 0
