"""configs/litespinenet.yaml, unchanged but cut down from the command line (1 epoch, 32-px crops,
SMOTE to 24 per class, a small phantom VinDr folder), runs through the same code path as the
full-scale protocol: sample store -> virtual SMOTE -> streaming loader -> holdout + 3-fold CV of
both models, statistics, cost and the report; the external folder is absent and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hqmed.cli import main
from hqmed.data.phantoms import generate_phantom_dataset

REPO = Path(__file__).resolve().parents[2]
CUT_DOWN = ["base.epochs=1", "base.data.params.image_size=32", "base.balancing.target_per_class=24",
            "base.num_workers=2", "statistics.n_boot=20", "cost.timing=false",
            "search.grid={optim.lr: [1.0e-4]}"]  # the paper's grid cut to one point (2 trainings)


@pytest.mark.slow
def test_paper_config_cut_down_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("HQMED_CACHE", str(tmp_path / "cache"))
    generate_phantom_dataset(tmp_path / "data" / "vindr-spinexr", n_images=160, seed=1,
                             difficulty=0.3, image_size=(128, 96))
    args = ["study", str(REPO / "configs" / "litespinenet.yaml"), "--data-root", str(tmp_path / "data"),
            "--out", str(tmp_path / "out")]
    for item in CUT_DOWN:
        args += ["--set", item]
    assert main(args) == 0
    meta = json.loads((tmp_path / "out" / "study.json").read_text())
    assert len(meta["runs"]) == 4 and len(meta["comparisons"]) == 2
    # the crops came from the sample store; SMOTE raised every class to at least 24
    assert list((tmp_path / "cache" / "vindr").glob("train-*/store.json"))
    for run in (tmp_path / "out" / "runs").glob("*/*"):
        m = json.loads((run / "metrics.json").read_text())
        assert m["input_shape"] == [3, 32, 32]
        assert all(f["n_train_balanced"] >= 8 * 24 > f["n_train"] for f in m["folds"])
        assert len(pd.read_csv(run / "predictions.csv")) > 0
