"""Runner: run-directory contract, protocols, out-of-fold predictions, resume, config checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score
from train_testutils import make_source

from hqmed.errors import ConfigError
from hqmed.train.config import parse_config
from hqmed.train.rundir import RunDir, split_scores
from hqmed.train.runner import run_experiment

pytestmark = pytest.mark.usefixtures("tiny_model")


def _cfg(*overrides, kind="cv"):
    raw = {"name": "t", "model": {"name": "tiny"}, "data": {"source": "memory"}, "epochs": 2,
           "batch_size": 8, "seed": 3, "optim": {"lr": 0.05}, "protocol": {"kind": kind, "folds": 3}}
    return parse_config(raw, list(overrides))


def _read(run):
    return {name: (run / name).read_text() for name in ("predictions.csv", "metrics.json", "history.csv",
                                                         "splits.json")}


def _no_seconds(history_csv: str) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(history_csv)).drop(columns="seconds")


def test_cv_run_directory_contract(tmp_path):
    src = make_source()
    run = run_experiment(_cfg(), tmp_path / "run", datasets=src)
    names = {p.name for p in run.iterdir()}
    assert names == {"config.yaml", "environment.json", "splits.json", "history.csv", "fold_0", "fold_1",
                     "fold_2", "predictions.csv", "metrics.json", "DONE"}
    for i in range(3):
        ck = {p.name for p in (run / f"fold_{i}" / "checkpoint").iterdir()}
        assert {"last.safetensors", "last.json", "best.safetensors"} <= ck
    env = json.loads((run / "environment.json").read_text())
    assert "git_commit" in env and env["packages"]["torch"]

    splits = json.loads((run / "splits.json").read_text())
    assert splits["protocol"] == "cv" and len(splits["folds"]) == 3
    pool = set(range(48 + 12))  # train + val are pooled for CV; test (60..74) is held out
    vals = [set(f["val"]) for f in splits["folds"]]
    assert set().union(*vals) == pool and sum(map(len, vals)) == len(pool)
    for f in splits["folds"]:
        assert not set(f["train"]) & set(f["val"]) and set(f["train"]) | set(f["val"]) == pool
    assert splits["test"] == list(range(60, 75))
    assert splits["sources"]["test"] == {"split": "test", "n": 15, "kept": None, "start": 60, "stop": 75}

    preds = RunDir(run).predictions()
    assert list(preds.columns) == ["index", "fold", "split", "y_true", "prob_0", "prob_1", "prob_2"]
    oof = preds[preds.split == "val"]
    assert sorted(oof["index"]) == sorted(pool)
    y_all = np.concatenate([src[s].labels for s in ("train", "val", "test")])
    np.testing.assert_array_equal(oof["y_true"], y_all[oof["index"]])
    assert len(preds[preds.split == "test"]) == 3 * 15
    np.testing.assert_allclose(preds.filter(like="prob_").sum(1), 1.0, atol=1e-6)

    m = json.loads((run / "metrics.json").read_text())
    assert m["class_names"] == ["a", "b", "c"]
    probs = oof.filter(like="prob_").to_numpy()
    assert m["oof"]["accuracy"] == pytest.approx(accuracy_score(oof.y_true, probs.argmax(1)))
    fold_acc = [accuracy_score(g.y_true, g.filter(like="prob_").to_numpy().argmax(1))
                for _, g in oof.groupby("fold")]
    assert m["summary"]["accuracy"]["mean"] == pytest.approx(np.mean(fold_acc))
    assert m["summary"]["accuracy"]["std"] == pytest.approx(np.std(fold_acc, ddof=1))
    idx, y, p = split_scores(preds, "test")
    assert list(idx) == list(range(60, 75))
    assert m["test"]["auroc_macro"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr"))
    assert len(m["per_fold_test"]) == 3 and m["test_method"].startswith("ensemble")
    hist = pd.read_csv(run / "history.csv")
    assert list(hist.columns) == ["fold", "epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                                  "val_auc", "lr", "seconds"]
    assert len(hist) == 3 * 2


def test_holdout_official_and_fraction_splits(tmp_path):
    run = run_experiment(_cfg(kind="holdout"), tmp_path / "off", datasets=make_source())
    s = json.loads((run / "splits.json").read_text())
    assert s["folds"][0]["train"] == list(range(48)) and s["folds"][0]["val"] == list(range(48, 60))
    assert s["test"] == list(range(60, 75))
    m = json.loads((run / "metrics.json").read_text())
    assert m["test_method"] == "single model" and m["test"]["n"] == 15

    cfg = _cfg("protocol.val_fraction=0.2", "protocol.test_fraction=0.2", kind="holdout")
    run = run_experiment(cfg, tmp_path / "frac", datasets=make_source(only_all=True))
    s = json.loads((run / "splits.json").read_text())
    tr, va, te = s["folds"][0]["train"], s["folds"][0]["val"], s["test"]
    assert (len(tr), len(va), len(te)) == (45, 15, 15)
    assert sorted(tr + va + te) == list(range(75))


def test_group_aware_cv_keeps_patients_together(tmp_path):
    src = make_source(groups=True)
    run = run_experiment(_cfg("epochs=1"), tmp_path / "g", datasets=src)
    s = json.loads((run / "splits.json").read_text())
    groups = np.concatenate([src[k].meta["group"].to_numpy() for k in ("train", "val", "test")])
    for f in s["folds"]:
        assert not set(groups[f["train"]]) & set(groups[f["val"]])


def test_max_samples_subsamples_each_split(tmp_path):
    run = run_experiment(_cfg("data.max_samples=30", "epochs=1"), tmp_path / "m", datasets=make_source())
    s = json.loads((run / "splits.json").read_text())
    assert s["sources"]["train"]["n"] == 30 and len(s["sources"]["train"]["kept"]) == 30
    assert s["sources"]["val"]["kept"] is None  # 12 <= 30: kept whole


class Killed(RuntimeError):
    pass


@pytest.mark.slow
def test_killed_cv_run_resumes_to_identical_results(tmp_path):
    cfg = _cfg("epochs=2")
    full = _read(run_experiment(cfg, tmp_path / "full", datasets=make_source()))

    def kill(row):
        if row["fold"] == 1 and row["epoch"] == 1:
            raise Killed

    with pytest.raises(Killed):
        run_experiment(cfg, tmp_path / "cut", datasets=make_source(), callbacks=[kill])
    cut = tmp_path / "cut"
    assert (cut / "fold_0" / "DONE").is_file() and not (cut / "fold_1" / "DONE").exists()
    assert not (cut / "DONE").exists()
    seen = []
    run_experiment(cfg, cut, datasets=make_source(), callbacks=[seen.append])
    # fold 0 was not retrained, fold 1 continued at epoch 2, fold 2 ran fully
    assert [(r["fold"], r["epoch"]) for r in seen] == [(1, 2), (2, 1), (2, 2)]
    again = _read(cut)
    assert again["predictions.csv"] == full["predictions.csv"]
    assert again["metrics.json"] == full["metrics.json"]
    assert again["splits.json"] == full["splits.json"]
    pd.testing.assert_frame_equal(_no_seconds(again["history.csv"]), _no_seconds(full["history.csv"]))
    env = json.loads((cut / "environment.json").read_text())
    assert len(env["resumes"]) == 1
    # a finished run is not repeated
    seen.clear()
    run_experiment(cfg, cut, datasets=make_source(), callbacks=[seen.append])
    assert seen == []


def test_resume_refuses_a_changed_config_and_no_resume_restarts(tmp_path):
    def kill(row):
        raise Killed

    with pytest.raises(Killed):
        run_experiment(_cfg(), tmp_path / "r", datasets=make_source(), callbacks=[kill])
    with pytest.raises(ConfigError, match=r"optim\.lr \(run: 0\.05, now: 0\.01\)"):
        run_experiment(_cfg("optim.lr=0.01"), tmp_path / "r", datasets=make_source())
    run_experiment(_cfg("optim.lr=0.01", "epochs=1"), tmp_path / "r", resume=False, datasets=make_source())
    assert "lr: 0.01" in (tmp_path / "r" / "config.yaml").read_text()
    # a non-run folder is never wiped
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="without config.yaml"):
        run_experiment(_cfg(), tmp_path / "other", resume=False, datasets=make_source())
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"


def test_smote_and_normaliser_use_the_training_portion_only(tmp_path):
    src = make_source(n_train=40, n_val=0, n_test=0)
    # make the classes imbalanced: drop most of class 2
    keep = np.flatnonzero((src["train"].labels != 2) | (np.arange(40) // 3 % 3 == 0))
    src = {"train": src["train"].subset(keep)}
    cfg = _cfg("epochs=1", "balancing.method=smote", "balancing.target_per_class=20",
               "augmentation.enabled=true", "protocol.folds=2",
               "selection.source=none")  # the whole training portion is fitted (a class has 3 images)
    run = run_experiment(cfg, tmp_path / "s", datasets=src)
    s = json.loads((run / "splits.json").read_text())
    m = json.loads((run / "metrics.json").read_text())
    images = src["train"].images
    for f, info in zip(s["folds"], m["folds"]):
        counts = np.bincount(src["train"].labels[f["train"]], minlength=3)
        assert info["n_train"] == len(f["train"])
        assert info["n_train_balanced"] == int(np.maximum(counts, 20).sum())
        assert info["n_val"] == len(f["val"])  # validation keeps its distribution
        norm = json.loads((run / f"fold_{info['fold']}" / "normalizer.json").read_text())
        np.testing.assert_allclose(norm["mean"], images[f["train"]].mean(axis=(0, 2, 3)), rtol=1e-6)
    assert len(RunDir(run).predictions()) == len(keep)  # OoF: every original image once, no synthetic ones


@pytest.mark.parametrize("method", ["weighted_loss", "weighted_sampler"])
def test_weighted_balancing_runs_deterministically(tmp_path, method):
    cfg = _cfg("epochs=1", f"balancing.method={method}", "protocol.folds=2")
    a = _read(run_experiment(cfg, tmp_path / "a", datasets=make_source()))
    b = _read(run_experiment(cfg, tmp_path / "b", datasets=make_source()))
    assert a["predictions.csv"] == b["predictions.csv"]


def test_quanvolution_channels_are_added_to_every_split(tmp_path):
    cfg = _cfg("epochs=1", "protocol.folds=2", "data.quanvolution.enabled=true",
               "data.quanvolution.stride=2", f"data.quanvolution.cache_dir={tmp_path / 'qcache'}")
    run = run_experiment(cfg, tmp_path / "q", datasets=make_source(n_train=24, n_val=6, n_test=6))
    m = json.loads((run / "metrics.json").read_text())
    assert m["input_shape"] == [1 + 4, 8, 8]  # the image plus 4 quantum channels
    norm = json.loads((run / "fold_0" / "normalizer.json").read_text())
    assert len(norm["mean"]) == 5


def test_tensorboard_missing_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ConfigError, match=r"tensorboard: expected the 'tensorboard' package"):
        run_experiment(_cfg("tensorboard=true", "epochs=1"), tmp_path / "tb", datasets=make_source())
