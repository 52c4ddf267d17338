"""Acceptance: ``hqmed cv`` (5 folds) on real PneumoniaMNIST for the LCNet paper's classical/hybrid
pair, then ``hqmed compare`` on the two runs -- through the real CLI entry point.

Tiny on purpose (1 epoch, 150 images per split, default strides so 28 px ends at 1 x 1) so it
fits CI; it checks the plumbing and the statistics against scipy, not model quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hqmed.cli import main

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
NPZ = DATA / "medmnist" / "pneumoniamnist.npz"
CONFIG = REPO / "configs" / "examples" / "pneumonia-cv.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    if not NPZ.is_file():
        pytest.skip(f"real data absent: {NPZ}")
    out = tmp_path_factory.mktemp("e2e")
    runs = {}
    for model in ("lcnet_050_tanh4", "hq_lcnet_050"):
        runs[model] = out / model
        rc = main(["cv", str(CONFIG), "--folds", "5", "--data-root", str(DATA), "--out", str(runs[model]),
                   "--no-progress", "--set", f"model.name={model}", "--set", "epochs=1",
                   "--set", "data.max_samples=150", "--set", "batch_size=32", "--set", "num_threads=1",
                   "--set", "model.kwargs.stride_list=[2,2,2,2,2]"])
        assert rc == 0
    return runs


def test_cv_runs_are_complete(two_runs):
    for run in two_runs.values():
        assert (run / "DONE").is_file()
        m = json.loads((run / "metrics.json").read_text())
        assert m["class_names"] == ["normal", "pneumonia"] and len(m["per_fold"]) == 5
        preds = pd.read_csv(run / "predictions.csv")
        oof = preds[preds.split == "val"]
        assert len(oof) == 300 and oof["index"].is_unique  # train + val (150 each) pooled, each once
        assert len(preds[preds.split == "test"]) == 5 * 150
        assert m["test"]["n"] == 150 and m["input_shape"] == [3, 28, 28]


def test_compare_matches_scipy(two_runs, capsys):
    a, b = two_runs["lcnet_050_tanh4"], two_runs["hq_lcnet_050"]
    out = a.parent / "compare.json"
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--n-boot", "200", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for heading in ("Paired two-tailed t-test", "McNemar", "class-wise bootstrap CIs", "Decision curves"):
        assert heading in text
    doc = json.loads(out.read_text())
    acc = [[f["accuracy"] for f in json.loads((r / "metrics.json").read_text())["per_fold"]] for r in (a, b)]
    diff = np.subtract(acc[1], acc[0])  # B - A, in the CLI, the JSON and the report alike
    assert "every difference is B - A" in text
    assert doc["ttest"]["accuracy"]["mean_diff"] == pytest.approx(diff.mean())
    assert doc["ttest"]["accuracy"]["direction"] == "B - A"
    if np.ptp(diff) > 0:  # the t statistic is undefined when every fold differs by the same amount
        ref = stats.ttest_rel(acc[1], acc[0])
        row = next(line for line in text.splitlines() if line.startswith("accuracy "))
        assert f"{doc['ttest']['accuracy']['t']:.3f}" in row
        assert doc["ttest"]["accuracy"]["t"] == pytest.approx(ref.statistic)
        assert doc["ttest"]["accuracy"]["p"] == pytest.approx(ref.pvalue)
    assert doc["ttest"]["accuracy"]["t_critical"] == pytest.approx(stats.t.ppf(1 - 0.01 / 2, 4))
    splits = {m["split"]: m for m in doc["mcnemar_all"]}
    assert splits["test (fold ensemble)"]["n"] == 150 and splits["out-of-fold (val)"]["n"] == 300
    overall = doc["overall_ci"]["b"]["metrics"]
    assert overall["accuracy"]["wilson"]["low"] < overall["accuracy"]["estimate"]
    assert {"sensitivity", "specificity", "ppv", "npv", "auroc"} <= set(overall)
    assert doc["ci"]["level"] == 0.99 and set(doc["dca"]["compare"]["per_class"]) == {"normal", "pneumonia"}


def test_sigkilled_training_resumes_to_the_uninterrupted_result(tmp_path):
    """A real SIGKILL mid-run (not a simulated exception), then the same command again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    if not NPZ.is_file():
        pytest.skip(f"real data absent: {NPZ}")
    args = ["cv", str(CONFIG), "--folds", "2", "--data-root", str(DATA), "--no-progress",
            "--set", "model.name=lcnet_050_tanh4", "--set", "epochs=3", "--set", "data.max_samples=40",
            "--set", "batch_size=16", "--set", "num_threads=1", "--set", "model.kwargs.stride_list=[2,2,2,2,2]"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "hqmed.cli", *args, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = killed / "fold_0" / "checkpoint" / "last.json"
    deadline = time.monotonic() + 120
    while proc.poll() is None and not last.is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)  # after fold 0's first checkpoint, mid-run
    was_killed = proc.wait() == -signal.SIGKILL
    assert main([*args, "--out", str(killed)]) == 0
    if was_killed:  # (on a very fast machine the run may finish before the kill lands)
        assert len(json.loads((killed / "environment.json").read_text())["resumes"]) == 1
    assert main([*args, "--out", str(tmp_path / "straight")]) == 0
    for name in ("predictions.csv", "metrics.json", "splits.json"):
        assert (killed / name).read_text() == (tmp_path / "straight" / name).read_text(), name
