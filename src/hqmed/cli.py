"""The ``hqmed`` command line.

Each subcommand lives in its own module ``hqmed.commands.<name>`` exposing ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``.

Errors: a user's mistake (:class:`~hqmed.errors.HqmedError`, or an OSError on a path they gave:
missing file, no permission, disk full) is one line, ``hqmed: error: ...`` (``--debug`` shows the
traceback). Anything else is a bug in hqmed: the traceback is printed with a request to report it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from types import ModuleType

from hqmed import __version__
from hqmed.commands import (
    compare,
    cost,
    cv,
    diagnose,
    evaluate,
    explain,
    export,
    external,
    models,
    phantoms,
    predict,
    serve,
    study,
    train,
)
from hqmed.errors import HqmedError

# name -> module; order is the order shown by ``hqmed --help``.
COMMANDS: dict[str, ModuleType] = {
    "train": train,
    "cv": cv,
    "evaluate": evaluate,
    "compare": compare,
    "predict": predict,
    "external": external,
    "explain": explain,
    "export": export,
    "serve": serve,
    "cost": cost,
    "study": study,
    "diagnose": diagnose,
    "phantoms": phantoms,
    "models": models,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hqmed",
        description="Classical and hybrid quantum-classical image classifiers for medical imaging.",
    )
    parser.add_argument("--version", action="version", version=f"hqmed {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in COMMANDS.items():
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
    debug = getattr(args, "debug", False)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("hqmed: interrupted (completed work is checkpointed; rerun to resume)", file=sys.stderr)
        return 130
    except (HqmedError, OSError) as exc:  # the user's input or paths: one line
        if debug:
            raise
        print(f"hqmed: error: {_one_line(exc)}", file=sys.stderr)
        print("hqmed: (rerun with --debug for the full traceback)", file=sys.stderr)
        return 1
    except Exception:  # a bug in hqmed: never dressed up as a user error
        traceback.print_exc()
        print(f"hqmed: internal error: this is a bug in hqmed {__version__}, not in your input. "
              "Please report it on the hqmed issue tracker with the traceback above and the "
              "command you ran.", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, HqmedError):
        return f"{type(exc).__name__}: {exc}"
    # OSError: "what happened: which path" (strerror and filename when the OS gave them)
    what = exc.strerror or str(exc)
    where = f": {exc.filename}" if exc.filename is not None else ""
    return f"{type(exc).__name__}: {what}{where}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
