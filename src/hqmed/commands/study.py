"""``hqmed study CONFIG``: run a whole study (datasets x models, comparisons, cost, external
validation) and write one self-contained HTML report. Rerunning the same command resumes."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from hqmed.commands._common import add_executor_arguments, add_progress_argument
from hqmed.report import build_report, load_study
from hqmed.report.html import ReportOptions
from hqmed.report.tables import summary_markdown
from hqmed.study.config import load_study_config
from hqmed.study.runner import run_study

HELP = "run a study (models x datasets, comparisons, cost, external) and write an HTML report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default="demo",
                        help="study YAML (e.g. configs/lcnet-sweep.yaml) or the name of a shipped "
                             "study in configs/ (e.g. demo, litespinenet, real/medmnist); "
                             "default: demo, the synthetic-phantom demo")
    parser.add_argument("--data-root", default=None, metavar="DIR",
                        help="folder that relative data roots are resolved against "
                             "(e.g. ../shared/data); default: each source's own default")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: studies/<study name>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a study key, e.g. --set base.epochs=1 (repeatable)")
    parser.add_argument("--report-only", action="store_true",
                        help="only rebuild out/report.html from the finished runs")
    add_executor_arguments(parser)
    add_progress_argument(parser)


def resolve_config(name: str) -> Path:
    """A path as given, else ``configs/<name>.yaml`` in the current folder or in the checkout
    hqmed is installed from (editable installs)."""
    path = Path(name)
    if path.is_file():
        return path
    repo = Path(__file__).resolve().parents[3]
    for root in (Path.cwd(), repo):
        cand = root / "configs" / f"{name.removesuffix('.yaml')}.yaml"
        if cand.is_file():
            return cand
    return path  # load_study_config reports the missing file


def run(args: argparse.Namespace) -> int:
    args.config = str(resolve_config(args.config))
    cfg = load_study_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("studies") / cfg.name
    if args.report_only:  # presentation settings from the config as given now (--set ...)
        path = build_report(out, options=ReportOptions(
            dca_thresholds=tuple(cfg.statistics.net_benefit_thresholds)))
    else:
        command = "hqmed " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None
        t0 = time.perf_counter()
        path = run_study(cfg, out, data_root=args.data_root, command=command,
                         progress=lambda line: print(line, flush=True), source=str(args.config),
                         executor=args.executor, address=args.address, workers=args.workers,
                         train_progress=args.progress)
        print(f"study finished in {time.perf_counter() - t0:.0f} s", flush=True)
    study = load_study(out)
    if study.runs:
        print(summary_markdown(study.runs, study.comparisons), flush=True)
    print(f"report: {path.resolve()}", flush=True)
    return 0
