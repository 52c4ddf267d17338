"""Plumbing shared by the commands that use a finished run (evaluate, predict, external)."""

from __future__ import annotations

import argparse
from typing import Any

from hqmed.errors import ConfigError
from hqmed.utils.io import atomic_write_json, dumps_json, load_yaml


def add_predictor_arguments(parser: argparse.ArgumentParser) -> None:
    """``RUN``-based commands choose the fold model(s) and the device the same way."""
    parser.add_argument("--fold", default="ensemble", help="'ensemble' (default) or a fold number")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when present) or a torch device")


def emit_json(doc: dict, args: argparse.Namespace) -> bool:
    """Write ``doc`` to ``--out`` (atomically) if given; print it if ``--json``.

    Returns True when JSON went to stdout, so the caller skips its human-readable table.
    """
    if getattr(args, "out", None):
        atomic_write_json(args.out, doc)
    if getattr(args, "json", False):
        print(dumps_json(doc, indent=2))
        return True
    return False


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor/--address/--workers``: where the units (one fold each) of a study or CV run."""
    parser.add_argument("--executor", choices=["serial", "ray"], default="serial",
                        help="serial (default): one unit after another in this process; ray: each "
                             "unit a Ray task (pip install 'hqmed[ray]'); same outputs either way")
    parser.add_argument("--address", default=None, metavar="ADDR",
                        help="with --executor ray: join a running cluster ('auto' after "
                             "'ray start --head', or ray://host:port); default: a local Ray that "
                             "starts and stops with the command")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="with --executor ray and no --address: CPUs of the local Ray "
                             "(default: all cores)")


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    """``--progress/--no-progress`` of the commands that train (train, cv, study)."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="training progress: on a terminal a bar per run (epochs, ETA, last "
                             "validation metrics), elsewhere one line per finished epoch "
                             "(default); --no-progress prints neither")


def parse_model_options(items: list[str]) -> dict[str, Any]:
    """``-o KEY=VALUE`` model options (VALUE read as YAML) -> keyword arguments of create_model."""
    opts: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option: expected KEY=VALUE; got {item!r}")
        opts[key.strip()] = load_yaml(value, f"--option {item!r}")  # bounded, one-line errors
    return opts
