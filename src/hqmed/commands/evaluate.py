"""``hqmed evaluate RUN --data ...``: a finished run's best model(s) on another labelled data set.

``--data`` is a data-source kind (``medmnist``, ``cifar10``, ``vindr``, ``phantoms``, ``folder``,
``yolo``; parameters with ``--param key=value``) or simply a folder of class sub-folders. Without
``--data`` the run's own source is used. Images are prepared like the run's training data (same
input size and channels, quanvolution channels when configured) and normalised with each fold's
training statistics; a CV run averages its fold models (``--fold i`` picks one).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hqmed.commands._common import add_predictor_arguments, emit_json
from hqmed.commands.train import TABLE_METRICS, format_value
from hqmed.data.registry import load_source
from hqmed.errors import ConfigError
from hqmed.eval.metrics import classification_metrics
from hqmed.train.config import parse_value
from hqmed.train.prepare import resolve_params
from hqmed.train.rundir import RunDir

HELP = "evaluate a finished run's best model(s) on a labelled data source or folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="finished run directory")
    parser.add_argument("--data", metavar="KIND|FOLDER",
                        help="data-source kind or a folder with one sub-folder per class "
                             "(default: the run's own source)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="parameter of the data source, e.g. --param flag=retinamnist (repeatable)")
    parser.add_argument("--split", help="which split to evaluate (default: test, else all)")
    parser.add_argument("--data-root", metavar="DIR", help="folder that a relative root is resolved against")
    add_predictor_arguments(parser)
    parser.add_argument("--out", metavar="FILE", help="also write the metrics as JSON here")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--param '{item}': expected KEY=VALUE; got no '='")
        key, value = item.split("=", 1)
        params[key.strip()] = parse_value(value)
    return params


def load_eval_data(args: argparse.Namespace, predictor) -> tuple[object, str]:
    """(ImageDataset, description) of the data to evaluate on."""
    cfg = predictor.cfg
    params = parse_params(args.param)
    if args.data is None:
        kind = cfg.data.source
        run_cfg = cfg.model_copy(deep=True)
        if args.data_root:
            run_cfg.data.data_root = str(args.data_root)
        params = {**resolve_params(run_cfg), **params}
    elif Path(args.data).is_dir():
        kind = "folder"
        params = {"root": args.data, "image_size": predictor.input_shape[1], **params}
    else:
        kind = args.data
        if args.data_root:
            root = params.get("root")
            params["root"] = str(Path(args.data_root) / root) if root is not None else str(args.data_root)
    splits = load_source(kind, **params)
    split = args.split or next((s for s in ("test", "all") if s in splits), None)
    if split not in splits:
        raise ConfigError(f"--split: expected one of {sorted(splits)}; got {split!r}")
    ds = splits[split]
    if ds.class_names != predictor.class_names:
        raise ConfigError(f"--data: expected the run's classes {predictor.class_names}; got "
                          f"{ds.class_names} (the model can only be evaluated on the same classes)")
    if (ds.labels < 0).any():
        raise ConfigError(f"--data: expected labelled images; got {int((ds.labels < 0).sum())} "
                          "unlabelled ones (use 'hqmed external' for unlabelled folders)")
    return ds, f"{kind} {split} ({len(ds)} images)"


def run(args: argparse.Namespace) -> int:
    predictor = RunDir(args.run).predictor(fold=args.fold, device=args.device)
    ds, what = load_eval_data(args, predictor)
    prob = predictor.predict_dataset(ds)
    metrics = classification_metrics(ds.labels, prob, class_names=predictor.class_names)
    doc = {"run": str(args.run), "data": what, "model": predictor.description, "metrics": metrics}
    if emit_json(doc, args):
        return 0
    print(f"{args.run} on {what}, {predictor.description}")
    width = max(len(m) for m in TABLE_METRICS)
    for name in TABLE_METRICS:
        print(f"{name.ljust(width)}  {format_value(metrics.get(name))}")
    print("per class (recall = per-class accuracy, precision, F1, AUROC):")
    pc = metrics["per_class"]
    for cls in predictor.class_names:
        print(f"  {cls}: " + ", ".join(f"{m} {format_value(pc[m].get(cls))}" for m in ("recall", "precision", "f1", "auroc")))
    print("confusion matrix (rows = true, columns = predicted):")
    for cls, row in zip(predictor.class_names, metrics["confusion_matrix"]):
        print(f"  {cls}: {row}")
    return 0
