"""Session fixtures shared by several test areas."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from runtime_deps import hide

if os.environ.get("HQMED_RUNTIME_DEPS_ONLY"):  # the suite as if only `pip install hqmed` had run
    hide()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """tiny_run(model_name) -> a finished 2-fold CV run directory (1 epoch on 96 synthetic phantom
    radiographs' ROI crops at 32 px), trained once per session and model. The phantom folder's
    whole radiographs (DICOM) are at ``<run>/../data/test_images``."""
    # imported here, after hide(): the hidden packages must not be imported before it runs
    from tiny_phantoms import tiny_experiment

    from hqmed.train.config import parse_config
    from hqmed.train.runner import run_experiment

    base = tmp_path_factory.mktemp("tiny-runs")
    runs: dict[str, Path] = {}

    def _get(model: str) -> Path:
        if model not in runs:
            cfg = {"name": f"tiny-{model}", **tiny_experiment(model, str(base / "data"), num_threads=1)}
            runs[model] = run_experiment(parse_config(cfg), base / model)
        return runs[model]

    return _get
