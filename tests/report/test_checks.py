"""The report's warnings box: each check fires on a constructed case and stays quiet otherwise."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hqmed.report import checks
from hqmed.report.results import RunResult


def _run(history: pd.DataFrame, y_true, y_score, split="test", label="M") -> RunResult:
    y_score = np.asarray(y_score, dtype=float)
    pred = pd.DataFrame({"index": np.arange(len(y_true)), "fold": 0, "split": split,
                         "y_true": y_true, **{f"prob_{k}": y_score[:, k]
                                              for k in range(y_score.shape[1])}})
    names = [f"c{k}" for k in range(y_score.shape[1])]
    return RunResult(path=Path("."), dataset="d", model=label.lower(), label=label, config={},
                     environment={}, metrics={"class_names": names}, history=history,
                     predictions=pred)


def _history(val_loss, train_acc, folds=2):
    rows = [{"fold": f, "epoch": e, "val_loss": v, "train_acc": a}
            for f in range(folds) for e, (v, a) in enumerate(zip(val_loss, train_acc))]
    return pd.DataFrame(rows)


Y = np.array([0, 0, 0, 1, 1, 2])
GOOD = np.eye(3)[Y] * 0.7 + 0.1


def test_falling_validation_loss_is_not_converged():
    r = _run(_history([1.0, 0.9, 0.8, 0.7, 0.6], [0.5, 0.6, 0.7, 0.8, 0.9]), Y, GOOD)
    out = checks.not_converged([r])
    assert len(out) == 1 and "still falling" in out[0] and "2 of 2 folds" in out[0]
    flat = _run(_history([1.0, 0.7, 0.6, 0.61, 0.6], [0.5, 0.6, 0.7, 0.8, 0.9]), Y, GOOD)
    assert checks.not_converged([flat]) == []


def test_training_accuracy_at_chance_is_flagged():
    # majority class rate of Y is 3/6 = 0.5; a final training accuracy of 0.52 is chance
    r = _run(_history([1.0, 1.0, 1.0, 1.0], [0.3, 0.4, 0.5, 0.52]), np.r_[Y], GOOD, split="val")
    out = checks.not_converged([r])
    assert any("near chance" in w and "0.500" in w for w in out)


def test_never_predicted_classes_are_named():
    score = np.tile([0.6, 0.3, 0.1], (6, 1))  # always class 0
    out = checks.never_predicted([_run(pd.DataFrame(), Y, score)])
    assert len(out) == 1 and "c1, c2" in out[0] and "2 of 3" in out[0]
    assert checks.never_predicted([_run(pd.DataFrame(), Y, GOOD)]) == []


@pytest.mark.parametrize("conf, word", [(0.95, "over-confident"), (0.40, "under-confident")])
def test_confidence_direction(conf, word):
    # top-1 accuracy 4/6 (two wrong predictions); confidence fixed at ``conf``
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    score = np.full((6, 3), (1 - conf) / 2)
    score[np.arange(6), y_pred] = conf
    gap = checks.confidence_gap(Y, score)
    assert gap == pytest.approx(conf - 4 / 6)
    out = checks.confidence([_run(pd.DataFrame(), Y, score)])
    assert len(out) == 1 and word in out[0]


def test_degenerate_decision_curve_threshold():
    grid = [0.01, 0.02, 0.03]
    doc = {"thresholds": grid, "per_class": {
        "x": {"best_threshold": 0.01, "max_net_benefit": 0.2, "max_net_benefit_over_treat_all": 0.0},
        "y": {"best_threshold": 0.02, "max_net_benefit": 0.3, "max_net_benefit_over_treat_all": 0.1}}}
    c = {"dataset": "d", "label_a": "A", "label_b": "B", "dca": {"a": doc, "b": doc}}
    out = checks.degenerate_dca([c])
    assert len(out) == 2 and all("1 of 2 classes (x)" in w for w in out)
