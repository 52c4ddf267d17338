"""The ``hqmed`` command line.

Each subcommand lives in its own module ``hqmed.commands.<name>`` exposing ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Errors reach the user as one line
(``hqmed: error: ...``) unless ``--debug`` is given, in which case the traceback is shown.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hqmed import __version__

# name -> module; order is the order shown by ``hqmed --help``.
COMMANDS: dict[str, str] = {
    "train": "hqmed.commands.train",
    "cv": "hqmed.commands.cv",
    "evaluate": "hqmed.commands.evaluate",
    "compare": "hqmed.commands.compare",
    "predict": "hqmed.commands.predict",
    "external": "hqmed.commands.external",
    "explain": "hqmed.commands.explain",
    "export": "hqmed.commands.export",
    "serve": "hqmed.commands.serve",
    "cost": "hqmed.commands.cost",
    "study": "hqmed.commands.study",
    "phantoms": "hqmed.commands.phantoms",
    "models": "hqmed.commands.models",
}


def _available_commands() -> dict[str, object]:
    mods = {}
    for name, modname in COMMANDS.items():
        try:
            mods[name] = importlib.import_module(modname)
        except ModuleNotFoundError as exc:  # a command not written yet must not break the others
            if exc.name != modname:
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hqmed",
        description="Classical and hybrid quantum-classical image classifiers for medical imaging.",
    )
    parser.add_argument("--version", action="version", version=f"hqmed {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _available_commands().items():
        # argparse %-formats help strings; a literal "%" in a command's HELP must not crash --help.
        text = mod.HELP.replace("%", "%%")
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show full tracebacks on errors")
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("hqmed: interrupted (completed work is checkpointed; rerun to resume)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI boundary turns every error into one line
        if getattr(args, "debug", False):
            raise
        print(f"hqmed: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hqmed: (rerun with --debug for the full traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
