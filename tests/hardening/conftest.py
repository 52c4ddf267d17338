"""Fixtures for the hardening tests: an isolated environment and one small finished run.

Every input is generated at test time (no binaries are committed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test reads ~/.hqmed: data and cache roots point at temp folders."""
    base = tmp_path_factory.mktemp("hqmed_home")
    monkeypatch.setenv("HQMED_DATA", str(base / "data"))
    monkeypatch.setenv("HQMED_CACHE", str(base / "cache"))
    monkeypatch.delenv("HQMED_MAX_PIXELS", raising=False)


def write_class_folder(root: Path, classes: dict[str, int], size: int = 16, seed: int = 0) -> Path:
    """``root/<class>/<i>.png``: gray PNGs whose brightness depends on the class (learnable)."""
    rng = np.random.default_rng(seed)
    for k, (name, n) in enumerate(classes.items()):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pix = np.clip(rng.normal(60 + 120 * k, 30, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(pix).save(d / f"{i}.png")
    return root


TINY_CONFIG = """\
name: tiny
model: {{name: litespinenet, kwargs: {{head: gap}}}}
data: {{source: folder, params: {{root: {root}, image_size: 16, channels: 1}}}}
epochs: {epochs}
batch_size: 8
num_threads: 1
protocol: {{kind: holdout, val_fraction: 0.3, test_fraction: 0.2}}
"""


def write_config(path: Path, data_root: Path, epochs: int = 1) -> Path:
    path.write_text(TINY_CONFIG.format(root=data_root, epochs=epochs), encoding="utf-8")
    return path


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
