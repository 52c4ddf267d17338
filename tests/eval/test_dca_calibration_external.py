"""DCA against the dcurves package, calibration against sklearn, external summary by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve

from hqmed.errors import DataError
from hqmed.eval.calibration import expected_calibration_error, reliability_curve
from hqmed.eval.dca import compare_decision_curves, decision_curve
from hqmed.eval.external import external_summary, format_external_table


def test_net_benefit_equals_dcurves(preds):
    dcurves = pytest.importorskip("dcurves")
    y, p = preds(300, 4, 0, ties=True)
    thresholds = np.round(np.arange(1, 100) / 100, 2)
    ours = decision_curve(y, p, thresholds=thresholds)
    for c in range(4):
        df = pd.DataFrame({"outcome": (y == c).astype(int), "model": p[:, c]})
        ref = dcurves.dca(data=df, outcome="outcome", modelnames=["model"],
                          thresholds=list(thresholds))
        got = ours["per_class"][str(c)]
        for model, key in (("model", "net_benefit"), ("all", "treat_all"), ("none", "treat_none")):
            want = ref[ref.model == model].sort_values("threshold")["net_benefit"].to_numpy()
            np.testing.assert_allclose(got[key], want, atol=1e-12, err_msg=f"{model} class {c}")
        nb = np.asarray(got["net_benefit"])
        assert got["max_net_benefit"] == nb.max()
        assert got["best_threshold"] == thresholds[np.argmax(nb)]


def test_net_benefit_formula_by_hand():
    y = np.array([0, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.6, 0.7, 0.2, 0.9])
    scores = np.stack([1 - p1, p1], axis=1)
    d = decision_curve(y, scores, thresholds=[0.5])["per_class"]["1"]
    # treat p >= 0.5: TP = 2 (0.7, 0.9), FP = 1 (0.6) -> 2/5 - 1/5 * 1
    assert d["net_benefit"][0] == pytest.approx(0.2)
    assert d["treat_all"][0] == pytest.approx(0.6 - 0.4)


def test_compare_decision_curves_delta(preds):
    y, pa = preds(200, 3, 1, skill=3.0)
    _, pb = preds(200, 3, 2, skill=0.0)
    out = compare_decision_curves(y, pa, pb, names=("hq", "classical"))
    a = decision_curve(y, pa)["per_class"]["0"]
    b = decision_curve(y, pb)["per_class"]["0"]
    row = out["per_class"]["0"]
    assert row["delta"] == pytest.approx(a["max_net_benefit"] - b["max_net_benefit"])
    assert row["hq"]["best_threshold"] == a["best_threshold"]
    np.testing.assert_allclose(row["delta_curve"],
                               np.subtract(a["net_benefit"], b["net_benefit"]))
    with pytest.raises(DataError, match="thresholds"):
        decision_curve(y, pa, thresholds=[0.5, 1.0])


@pytest.mark.parametrize("n_bins", [5, 10])
def test_reliability_curve_equals_sklearn_binary(preds, n_bins):
    y, p = preds(400, 2, 3, ties=True)  # ties put values exactly on bin edges
    curve = reliability_curve(y, p, n_bins=n_bins, class_index=1)
    prob_true, prob_pred = calibration_curve(y, p[:, 1], n_bins=n_bins, strategy="uniform")
    nonempty = [b for b in curve["bins"] if b["count"]]
    np.testing.assert_allclose([b["accuracy"] for b in nonempty], prob_true, atol=1e-12)
    np.testing.assert_allclose([b["confidence"] for b in nonempty], prob_pred, atol=1e-12)
    assert sum(b["count"] for b in curve["bins"]) == 400


def test_ece_top_label_by_hand():
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.55 (right); 10 bins
    scores = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.45, 0.55]])
    y = np.array([0, 1, 1, 1])
    # bin (0.8, 0.9]: acc 0.5 conf 0.9; bin (0.5, 0.6]: acc 1, conf 0.575
    want = 2 / 4 * abs(0.5 - 0.9) + 2 / 4 * abs(1.0 - 0.575)
    assert expected_calibration_error(y, scores, n_bins=10) == pytest.approx(want)
    perfect = np.eye(3)[[0, 1, 2, 1]]
    assert expected_calibration_error([0, 1, 2, 1], perfect) == 0.0


def test_external_summary_table7():
    scores = np.array([[0.9, 0.1, 0.0], [0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.8, 0.1, 0.1]])
    s = external_summary(scores, class_names=["no finding", "osteophytes", "other"])
    rows = {r["class"]: r for r in s["per_class"]}
    assert rows["no finding"]["count"] == 3
    assert rows["no finding"]["mean_confidence"] == pytest.approx(0.8)
    assert rows["no finding"]["std_confidence"] == pytest.approx(np.std([0.9, 0.7, 0.8], ddof=1))
    assert rows["osteophytes"] == {"class": "osteophytes", "count": 1, "mean_confidence": 0.5,
                                   "std_confidence": None}
    assert rows["other"]["count"] == 0 and rows["other"]["mean_confidence"] is None
    text = format_external_table(s)
    assert "osteophytes" in text and text.splitlines()[-1].split()[-1] == "4"
