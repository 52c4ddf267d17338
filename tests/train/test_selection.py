"""Leak-free selection: the scored fold is only predicted, never used to pick the epoch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_testutils import make_source

from hqmed.train.config import parse_config
from hqmed.train.rundir import RunDir
from hqmed.train.runner import _run_fold, load_experiment_data, make_splits, run_experiment

pytestmark = pytest.mark.usefixtures("tiny_model")


def _cfg(*overrides, kind="cv"):
    raw = {"name": "t", "model": {"name": "tiny"}, "data": {"source": "memory"}, "epochs": 6,
           "batch_size": 8, "seed": 3, "optim": {"lr": 0.05}, "protocol": {"kind": kind, "folds": 3}}
    return parse_config(raw, list(overrides))


def _fold_predictions(cfg, data, splits, run_dir, inner):
    tr, va = splits["folds"][0]
    preds, info = _run_fold(cfg, data, 0, tr, va, splits["test"], RunDir(run_dir), False, False,
                            (), inner_idx=inner)
    return preds.filter(like="prob_").to_numpy(), info


def _permuted(data, idx, seed=0):
    """A copy of ``data`` whose labels at ``idx`` are shuffled among themselves."""
    from dataclasses import replace

    full = data.full
    labels = full.labels.copy()
    labels[idx] = np.random.default_rng(seed).permutation(labels[idx])
    assert not np.array_equal(labels, full.labels)
    clone = type(full)(full.images, labels, full.class_names, full.meta, name=full.name)
    return replace(data, full=clone)


def test_permuting_the_scored_folds_labels_leaves_its_predictions_unchanged(tmp_path):
    cfg = _cfg()
    data = load_experiment_data(cfg, make_source(n_train=60, n_val=15))
    splits = make_splits(cfg, data)
    _, va = splits["folds"][0]
    inner = splits["inner"][0]
    assert inner is not None and not set(inner) & set(va)
    p0, info = _fold_predictions(cfg, data, splits, tmp_path / "a", inner)
    p1, _ = _fold_predictions(cfg, _permuted(data, va), splits, tmp_path / "b", inner)
    np.testing.assert_array_equal(p0, p1)
    assert info["selection_source"] == "inner" and info["n_selection"] == len(inner)

    # the oracle can fail: selecting on the scored fold (the old behaviour) moves the predictions
    q0, _ = _fold_predictions(cfg, data, splits, tmp_path / "c", va)
    q1, _ = _fold_predictions(cfg, _permuted(data, va), splits, tmp_path / "d", va)
    assert not np.array_equal(q0, q1)


def test_inner_split_is_stratified_group_aware_and_recorded(tmp_path):
    src = make_source(n_train=60, n_val=15, groups=True)
    run = run_experiment(_cfg("epochs=1"), tmp_path / "run", datasets=src)
    sj = json.loads((run / "splits.json").read_text())
    cfg = _cfg()
    data = load_experiment_data(cfg, src)
    groups = data.full.meta["group"].to_numpy()
    for f in sj["folds"]:
        train, inner = set(f["train"]), f["inner_val"]
        assert set(inner) < train and not set(inner) & set(f["val"])
        assert 0.05 < len(inner) / len(train) < 0.3
        assert set(data.full.labels[inner]) == {0, 1, 2}  # stratified: every class present
        fit = sorted(train - set(inner))
        assert not set(groups[inner]) & set(groups[fit])  # no patient on both sides
    m = json.loads((run / "metrics.json").read_text())
    assert all(f["selection_source"] == "inner" for f in m["folds"])


def test_selection_none_keeps_the_last_epoch(tmp_path):
    run = run_experiment(_cfg("selection.source=none", "epochs=3"), tmp_path / "run",
                         datasets=make_source())
    m = json.loads((run / "metrics.json").read_text())
    assert [f["best_epoch"] for f in m["folds"]] == [3, 3, 3]
    assert all(f["selection_source"] == "none" and f["n_selection"] == 0 for f in m["folds"])
    sj = json.loads((run / "splits.json").read_text())
    assert all(f["inner_val"] is None for f in sj["folds"])


def test_holdout_with_a_test_split_selects_on_its_validation_split(tmp_path):
    run = run_experiment(_cfg("epochs=2", kind="holdout"), tmp_path / "run", datasets=make_source())
    m = json.loads((run / "metrics.json").read_text())
    assert m["folds"][0]["selection_source"] == "holdout val"
    assert RunDir(run).predictions()["split"].eq("test").any()


def test_binary_run_reports_the_positive_class_majority_row_and_intervals(tmp_path):
    from scipy import stats
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import recall_score, roc_auc_score

    src = make_source(n_train=40, n_val=10, n_test=14, k=2)
    run = run_experiment(_cfg("epochs=2", "data.positive_class=a"), tmp_path / "run", datasets=src)
    m = json.loads((run / "metrics.json").read_text())
    sj = json.loads((run / "splits.json").read_text())
    preds = RunDir(run).predictions()
    oof = preds[preds.split == "val"]
    y, p = oof["y_true"].to_numpy(), oof[["prob_0", "prob_1"]].to_numpy()
    assert m["positive_class"] == "a" and m["oof"]["binary"]["positive_class"] == "a"
    assert m["oof"]["binary"]["auroc"] == pytest.approx(roc_auc_score(y == 0, p[:, 0]))
    assert m["oof"]["binary"]["sensitivity"] == pytest.approx(recall_score(y, p.argmax(1), pos_label=0))

    # majority row: scikit-learn's DummyClassifier fitted on each fold's fitted images
    y_all = np.concatenate([src[s].labels for s in ("train", "val", "test")])
    want = []
    for f in sj["folds"]:
        fit = sorted(set(f["train"]) - set(f["inner_val"]))
        dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(fit), 1)), y_all[fit])
        want.append(dummy.predict(np.zeros((len(f["val"]), 1))) == y_all[f["val"]])
    base = m["baselines"]["oof"]
    assert base["metrics"]["accuracy"] == pytest.approx(np.concatenate(want).mean())
    assert base["metrics"]["auroc_macro"] == pytest.approx(0.5)
    assert base["beats_majority"] == (m["oof"]["accuracy"] > base["metrics"]["accuracy"])
    assert m["baselines"]["test"] is not None

    # overall intervals: plain bootstrap + Wilson beside accuracy
    acc = m["intervals"]["oof"]["metrics"]["accuracy"]
    ci = stats.binomtest(int(round(acc["estimate"] * len(y))), len(y)).proportion_ci(0.99, "wilson")
    assert (acc["wilson"]["low"], acc["wilson"]["high"]) == pytest.approx((ci.low, ci.high))
    assert "sensitivity" in m["intervals"]["test"]["metrics"]


def test_positive_class_must_name_a_class(tmp_path):
    from hqmed.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data.positive_class: expected one of \['a', 'b'\]"):
        run_experiment(_cfg("data.positive_class=malignant"), tmp_path / "r",
                       datasets=make_source(k=2))
    with pytest.raises(ConfigError, match="only for two-class data"):
        run_experiment(_cfg("data.positive_class=a"), tmp_path / "r3", datasets=make_source(k=3))
