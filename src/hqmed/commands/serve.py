"""``hqmed serve RUN``: the prediction web page and JSON API for a finished run (extra ``serve``)."""

from __future__ import annotations

import argparse

from hqmed.errors import ConfigError

HELP = "serve a finished run: upload page with probabilities and Grad-CAM, and a JSON API (localhost)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="finished run directory")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--fold", default="ensemble", help="'ensemble' (default) or a fold number")
    parser.add_argument("--method", default="gradcam", choices=["gradcam", "gradcam++", "saliency"],
                        help="heat map shown on the page")
    parser.add_argument("--max-upload-mb", type=float, default=32.0, help="largest upload accepted (MB)")


def run(args: argparse.Namespace) -> int:
    try:  # lazy: optional extra hqmed[serve] (fastapi, uvicorn); the other commands work without it
        import uvicorn

        from hqmed.serve.app import create_app
    except ImportError as exc:
        if exc.name not in ("fastapi", "starlette", "uvicorn", "multipart", "python_multipart"):
            raise
        raise ConfigError(f"hqmed serve: expected the 'serve' extra (pip install 'hqmed[serve]'); "
                          f"got {exc}") from exc
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port: expected 1-65535; got {args.port}")
    if not args.max_upload_mb > 0:
        raise ConfigError(f"--max-upload-mb: expected a positive size; got {args.max_upload_mb}")
    app = create_app(args.run, fold=args.fold, method=args.method,
                     max_upload_bytes=int(args.max_upload_mb * 2**20))
    print(f"hqmed serve: {args.run} at http://{args.host}:{args.port}/ "
          "(research tool, not a medical device; Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
