"""Plumbing shared by the commands that use a finished run (evaluate, predict, external)."""

from __future__ import annotations

import argparse
import json
import sys

from hqmed.utils.io import atomic_write_json


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
        json.dump(doc, sys.stdout, indent=2)
        print()
        return True
    return False
