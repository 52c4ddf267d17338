"""What only dev or an optional extra installs, and a finder that hides it (runtime-deps-only runs).

``HQMED_RUNTIME_DEPS_ONLY=1 python -m pytest`` runs the suite as if only ``pip install hqmed`` had
run (tests/conftest.py calls :func:`hide`): oracle tests then skip with a reason.
"""

from __future__ import annotations

import sys

# Top-level import names of the packages that pyproject.toml lists only under dev or an extra.
NOT_RUNTIME = frozenset({
    "pennylane", "pennylane_lightning", "dcurves", "statsmodels", "ruff", "httpx", "captum",
    "playwright", "onnx", "onnxruntime", "fastapi", "uvicorn", "starlette", "multipart",
    "python_multipart", "tensorboard", "pylibjpeg", "libjpeg", "openjpeg", "gdcm", "ray",
})


def hide(names=NOT_RUNTIME) -> None:
    """Make every package in ``names`` look not installed: ``import`` raises ModuleNotFoundError and
    ``importlib.util.find_spec`` returns None (what a library probing for it sees)."""
    for name in names:
        sys.modules[name] = None  # type: ignore[assignment]
