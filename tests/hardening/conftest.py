"""Fixtures for the hardening tests: an isolated environment and one small finished run.

Every input is generated at test time (no binaries are committed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hardening_testutils import write_class_folder, write_config


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test reads ~/.hqmed: data and cache roots point at temp folders."""
    base = tmp_path_factory.mktemp("hqmed_home")
    monkeypatch.setenv("HQMED_DATA", str(base / "data"))
    monkeypatch.setenv("HQMED_CACHE", str(base / "cache"))
    monkeypatch.delenv("HQMED_MAX_PIXELS", raising=False)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A finished holdout run of LiteSpineNet on 20 tiny PNGs (read-only: copy before damaging)."""
    from hqmed.train.config import load_config
    from hqmed.train.runner import run_experiment

    base = tmp_path_factory.mktemp("finished")
    data = write_class_folder(base / "data", {"a": 10, "b": 10})
    cfg = load_config(write_config(base / "cfg.yaml", data))
    return run_experiment(cfg, base / "run", progress=False)


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))
