"""Session fixtures shared by several test areas."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from runtime_deps import hide

if os.environ.get("HQMED_RUNTIME_DEPS_ONLY"):  # the suite as if only `pip install hqmed` had run
    hide()


def _tiny_config(model: str, root: Path) -> dict:
    kwargs = {"stride_list": [1, 1, 2, 2, 2]} if "lcnet" in model else {}
    return {
        "name": f"tiny-{model}",
        "model": {"name": model, "kwargs": kwargs},
        "data": {"source": "phantoms",
                 "params": {"root": str(root), "n_images": 96, "seed": 0, "difficulty": 0.2,
                            "image_size": 32, "radiograph_size": [128, 96]}},
        "augmentation": {"enabled": False},
        "batch_size": 16, "epochs": 1, "seed": 1, "num_threads": 1,
        "protocol": {"kind": "cv", "folds": 2, "group_aware": False},
    }


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """tiny_run(model_name) -> a finished 2-fold CV run directory (1 epoch on 96 synthetic phantom
    radiographs' ROI crops at 32 px), trained once per session and model. The phantom folder's
    whole radiographs (DICOM) are at ``<run>/../data/test_images``."""
    from hqmed.train.config import parse_config
    from hqmed.train.runner import run_experiment

    base = tmp_path_factory.mktemp("tiny-runs")
    runs: dict[str, Path] = {}

    def _get(model: str) -> Path:
        if model not in runs:
            runs[model] = run_experiment(parse_config(_tiny_config(model, base / "data")), base / model)
        return runs[model]

    return _get
