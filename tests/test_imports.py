"""Every hqmed module imports with only the runtime dependencies, whichever module comes first.

A fresh interpreter blocks the dev-only and optional packages (PennyLane, the test oracles, the
serve/export/dicom extras) with a ``sys.meta_path`` finder, then imports each hqmed module on its
own: all ``hqmed*`` entries are dropped from ``sys.modules`` before each import, so an import
cycle that only bites when a particular module is imported first is found too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Top-level names of packages that only dev or an optional extra installs (pyproject.toml).
NOT_RUNTIME = [
    "pennylane", "pennylane_lightning", "dcurves", "statsmodels", "pytest", "ruff", "httpx",
    "captum", "playwright", "onnx", "onnxruntime", "fastapi", "uvicorn", "starlette", "multipart",
    "python_multipart", "tensorboard", "pylibjpeg", "libjpeg", "openjpeg", "gdcm", "ray",
]
# Modules that are an optional extra themselves (the extra named), so they need it to import.
EXTRA_MODULES = {"hqmed.serve.app": "serve"}

SCRIPT = r"""
import importlib, importlib.abc, json, pkgutil, sys

BLOCKED = set(json.loads(sys.argv[1]))
EXTRA = json.loads(sys.argv[2])

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: not a runtime dependency)",
                                      name=name)
        return None

sys.meta_path.insert(0, Blocker())
import hqmed
names = sorted(m.name for m in pkgutil.walk_packages(hqmed.__path__, "hqmed."))
failed = {}
for name in names:
    if name in EXTRA:
        continue
    for key in [k for k in sys.modules if k == "hqmed" or k.startswith("hqmed.")]:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"imported": len(names) - len(EXTRA), "failed": failed}))
"""


def test_every_module_imports_with_runtime_dependencies_only():
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(NOT_RUNTIME), json.dumps(EXTRA_MODULES)],
                         capture_output=True, text=True, env=env, timeout=600, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}
    assert result["imported"] > 60  # every subpackage was walked


def test_the_blocker_really_blocks():
    """The check above can fail: a module that imports PennyLane at top level is reported."""
    probe = (r"import importlib.abc, sys" "\n"
             r"class B(importlib.abc.MetaPathFinder):" "\n"
             r"    def find_spec(self, name, path=None, target=None):" "\n"
             r"        if name.split('.')[0] == 'pennylane': raise ModuleNotFoundError(name, name=name)" "\n"
             r"sys.meta_path.insert(0, B())" "\n"
             r"import hqmed.quantum.pennylane_bridge as b" "\n"
             r"try:" "\n"
             r"    b.import_pennylane()" "\n"
             r"except ImportError as e:" "\n"
             r"    print('blocked:', e)" "\n")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         timeout=300, check=True)
    assert "blocked:" in out.stdout and "hqmed[pennylane]" in out.stdout
