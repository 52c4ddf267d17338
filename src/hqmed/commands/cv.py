"""``hqmed cv CONFIG --folds K``: stratified K-fold cross-validation with out-of-fold predictions."""

from __future__ import annotations

import argparse

from hqmed.commands._common import add_executor_arguments
from hqmed.commands.train import add_run_arguments, run_protocol

HELP = "stratified K-fold cross-validation with out-of-fold predictions (mean ± std over folds)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--folds", type=int, metavar="K",
                        help="number of folds (default: protocol.folds of the config, else 5)")
    add_executor_arguments(parser)


def run(args: argparse.Namespace) -> int:
    forced = ["protocol.kind=cv"]
    if args.folds is not None:
        forced.append(f"protocol.folds={args.folds}")
    return run_protocol(args, forced=forced)
