"""No hidden global state: importing hqmed.study / drawing the report leaves matplotlib's backend and
settings alone, and writing the report never reads or changes the process umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from hqmed.report.html import build_report

SRC = Path(__file__).resolve().parents[2] / "src"

PROBE = r"""
import matplotlib
matplotlib.use("svg")
matplotlib.rcParams["font.size"] = 13.0
import hqmed.study  # the study imports the report and its plots
from hqmed.report import plots
png = plots.roc_curves({"m": ([0.0, 0.5, 1.0], [0.0, 0.8, 1.0], 0.9)}, "t")
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
print(matplotlib.get_backend(), matplotlib.rcParams["font.size"], matplotlib.rcParams["axes.grid"])
"""


def test_importing_the_study_keeps_matplotlib_backend_and_settings():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(SRC)}, check=True)
    assert out.stdout.split() == ["svg", "13.0", "False"]


def test_report_never_toggles_the_umask_and_is_world_readable(fake_study, tmp_path, monkeypatch):
    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real(mask))
    mask = 0o022
    before = real(mask)  # set a known umask for the process (restored below)
    try:
        path = build_report(fake_study, tmp_path / "report.html")
    finally:
        real(before)
    assert calls == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
