"""``hqmed train CONFIG``: one model, holdout protocol (train/val/test), into a run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hqmed.commands._common import add_progress_argument
from hqmed.train.config import load_config
from hqmed.train.executor import Job, run_jobs, unit_config
from hqmed.train.rundir import RunDir
from hqmed.train.runner import run_experiment, run_summary_lines
from hqmed.utils.io import dumps_json

HELP = "train a model with the holdout protocol (train/val/test) into a resumable run directory"

# Metrics shown in the summary tables (names as in hqmed.eval.metrics.classification_metrics).
TABLE_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted",
                 "auroc_macro", "auroc_micro")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``hqmed train`` and ``hqmed cv``."""
    parser.add_argument("config", help="experiment YAML file (schema: docs/training.md)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key with a YAML value, e.g. --set optim.lr=1e-4 "
                             "--set model.kwargs.quantum_block=closed_form (repeatable)")
    parser.add_argument("--out", metavar="DIR",
                        help="run directory (default: runs/<config name>/<model name>-<protocol>)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="continue an interrupted run in --out (default); --no-resume deletes "
                             "that run's files and starts again. A finished run is never repeated.")
    parser.add_argument("--data-root", metavar="DIR",
                        help="folder that relative data.params.root paths are resolved against")
    add_progress_argument(parser)
    parser.add_argument("--json", action="store_true", help="print metrics.json instead of a table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def format_value(v) -> str:
    """A metric value with 4 decimals, '-' when missing or NaN."""
    return "-" if v is None or (isinstance(v, float) and v != v) else f"{v:.4f}"


def format_metrics(metrics: dict, title: str = "") -> str:
    """A plain-text table: metric | folds mean ± std | OoF/validation | test."""
    summary = metrics.get("summary") or {}
    oof, test = metrics.get("oof") or {}, metrics.get("test") or {}
    n_folds = len(metrics.get("per_fold") or [])
    head = ["metric", f"mean ± std ({n_folds} fold{'s' if n_folds != 1 else ''})",
            "OoF" if n_folds > 1 else "val", "test"]
    rows = []
    for name in TABLE_METRICS:
        s = summary.get(name) or {}
        ms = format_value(s.get("mean")) + (f" ± {format_value(s.get('std'))}" if n_folds > 1 else "")
        rows.append([name, ms, format_value(oof.get(name)), format_value(test.get(name)) if test else "-"])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(4)]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    if metrics.get("test_method"):
        lines.append(f"test: {metrics['test_method']}")
    return "\n".join(lines + run_summary_lines(metrics))


def run_protocol(args: argparse.Namespace, forced: list[str]) -> int:
    """Load the config (+ --set, then ``forced``), run it, print the summary."""
    cfg = load_config(args.config, [*args.overrides, *forced])
    if args.data_root:
        cfg.data.data_root = str(args.data_root)
    out = Path(args.out) if args.out else Path("runs") / cfg.name / f"{cfg.model.name}-{cfg.protocol.kind}"
    executor = getattr(args, "executor", None)  # hqmed cv only
    if executor is None:
        run_dir = run_experiment(cfg, out, resume=args.resume, progress=args.progress)
    elif executor == "serial" and args.address is None and args.workers is None:
        run_dir = run_experiment(unit_config(cfg), out, resume=args.resume, progress=args.progress)
    else:
        run_jobs([Job(cfg.name, cfg, out)], executor, address=args.address, workers=args.workers,
                 resume=args.resume, progress=lambda line: print(line, file=sys.stderr, flush=True))
        run_dir = out
    metrics = RunDir(run_dir).metrics()
    if args.json:
        print(dumps_json(metrics, indent=2))
    else:
        print(format_metrics(metrics, title=f"{cfg.name}: {cfg.model.name} ({cfg.protocol.kind})"))
    print(f"run directory: {run_dir}", file=sys.stderr if args.json else sys.stdout)
    return 0


def run(args: argparse.Namespace) -> int:
    return run_protocol(args, forced=["protocol.kind=holdout"])
