"""Every hqmed module imports with only the runtime dependencies, whichever module comes first.

A fresh interpreter hides the dev-only and optional packages (PennyLane, the test oracles, the
serve/export/dicom extras) as ``None`` in ``sys.modules``, then imports each hqmed module on its
own: all ``hqmed*`` entries are dropped from ``sys.modules`` before each import, so an import
cycle that only bites when a particular module is imported first is found too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from runtime_deps import NOT_RUNTIME

SRC = Path(__file__).resolve().parents[1] / "src"

# Modules that are an optional extra themselves (the extra named), so they need it to import.
EXTRA_MODULES = {"hqmed.serve.app": "serve"}

SCRIPT = r"""
import importlib, json, pkgutil, sys

EXTRA = json.loads(sys.argv[2])
for hidden in json.loads(sys.argv[1]):  # import fails, find_spec says "not installed"
    sys.modules[hidden] = None
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
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(sorted(NOT_RUNTIME | {"pytest"})), json.dumps(EXTRA_MODULES)],
                         capture_output=True, text=True, env=env, timeout=600, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}
    assert result["imported"] > 60  # every subpackage was walked


def test_the_blocker_really_blocks():
    """Hiding works as the check above assumes: PennyLane's import fails with the install hint."""
    probe = (r"import sys" "\n"
             r"sys.modules['pennylane'] = None" "\n"
             r"import hqmed.quantum.pennylane_bridge as b" "\n"
             r"try:" "\n"
             r"    b.import_pennylane()" "\n"
             r"except ImportError as e:" "\n"
             r"    print('blocked:', e)" "\n")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         timeout=300, check=True)
    assert "blocked:" in out.stdout and "hqmed[pennylane]" in out.stdout


def test_the_cli_does_not_import_optional_extras():
    """The lazy imports' point: building the whole CLI imports none of the optional extras, even
    where they are installed (PennyLane alone takes seconds; serve, ray and tensorboard load only
    for the command or option that needs them), nor a test-only package."""
    probe = (r"import json, sys" "\n"
             r"import hqmed.cli" "\n"
             r"hqmed.cli.build_parser()" "\n"
             r"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in json.loads(sys.argv[1]))))")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    # pydicom itself loads the dicom extra's decoder plugins when they are installed
    extras = sorted(NOT_RUNTIME - {"pylibjpeg", "libjpeg", "openjpeg", "gdcm"})
    out = subprocess.run([sys.executable, "-c", probe, json.dumps(extras)], capture_output=True,
                         text=True, env=env, timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
