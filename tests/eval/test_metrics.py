"""hqmed.eval.metrics equals scikit-learn on the same random predictions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from hqmed.errors import DataError, ShapeError
from hqmed.eval.metrics import (
    auroc,
    classification_metrics,
    confusion_matrix,
    roc_curves,
    summarize_folds,
)

CASES = [  # (n, k, seed, absent classes, ties)
    (200, 5, 0, (), False),
    (150, 8, 1, (), True),
    (120, 2, 2, (), False),
    (300, 4, 3, (2,), False),
]


def _nan_equal(a, b):
    a = np.asarray([np.nan if v is None else v for v in a], dtype=float)
    np.testing.assert_allclose(a, np.asarray(b, dtype=float), rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@pytest.mark.parametrize("n,k,seed,absent,ties", CASES)
def test_classification_metrics_equal_sklearn(preds, n, k, seed, absent, ties):
    y, p = preds(n, k, seed, absent=absent, ties=ties)
    pred = p.argmax(1)
    labels = list(range(k))
    names = [f"c{i}" for i in range(k)]
    m = classification_metrics(y, p, class_names=names)
    json.dumps(m, allow_nan=False)  # valid JSON

    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    np.testing.assert_array_equal(m["confusion_matrix"], skm.confusion_matrix(y, pred, labels=labels))
    used = sorted(set(y) | set(pred))
    for metric, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                       ("f1", skm.f1_score)):
        per = fn(y, pred, labels=labels, average=None, zero_division=0)
        per = [v if c in used else np.nan for c, v in enumerate(per)]
        _nan_equal([m["per_class"][metric][c] for c in names], per)
        for avg in ("macro", "weighted"):
            want = fn(y, pred, average=avg)  # scikit-learn's defaults, warnings and all
            assert m[f"{metric}_{avg}"] == pytest.approx(want, abs=1e-12), (metric, avg)
    # per-class accuracy is the recall (diagonal of the row-normalised confusion matrix)
    _nan_equal([m["per_class"]["accuracy"][c] for c in names],
               [m["per_class"]["recall"][c] for c in names])

    onehot = np.eye(k)[y]
    per_auc = [skm.roc_auc_score(onehot[:, c], p[:, c]) if c not in absent else np.nan
               for c in range(k)]
    _nan_equal([m["per_class"]["auroc"][c] for c in names], per_auc)
    assert m["auroc_micro"] == pytest.approx(skm.roc_auc_score(onehot, p, average="micro"), abs=1e-12)
    if k == 2:
        assert m["auroc_macro"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]), abs=1e-12)
    elif not absent:
        want = skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
        assert m["auroc_macro"] == pytest.approx(want, abs=1e-12)
    else:  # sklearn refuses; we average the defined classes
        assert m["auroc_macro"] == pytest.approx(np.nanmean(per_auc), abs=1e-12)
        assert m["per_class"]["auroc"][names[absent[0]]] is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_never_predicted_class_counts_zero_like_sklearn():
    """The issue's fold: a model that never predicts class 1 has macro precision 0.368, not 0.736."""
    y = np.array([0] * 57 + [1] * 21)
    p = np.tile([0.8, 0.2], (78, 1))  # always class "a"
    m = classification_metrics(y, p, class_names=["a", "b"])
    pred = p.argmax(1)
    assert m["never_predicted"] == ["b"]
    assert m["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["precision_macro"] == pytest.approx(57 / 78 / 2)
    assert m["per_class"]["precision"]["b"] == 0.0
    assert classification_metrics(y, np.eye(2)[y])["never_predicted"] == []


@pytest.mark.parametrize("pos", [0, 1])
def test_binary_block_equals_sklearn_for_the_positive_class(preds, pos):
    y, p = preds(300, 2, 11)
    p = p.astype(np.float32).astype(np.float64)  # float32 ties, as a model's softmax output
    p = np.round(p, 2)
    p[:, 1] = 1.0 - p[:, 0]
    m = classification_metrics(y, p, class_names=["malignant", "benign"], positive_class=pos)
    b = m["binary"]
    is_pos = y == pos
    pred = p.argmax(1)
    assert b["positive_class"] == ["malignant", "benign"][pos]
    assert b["auroc"] == pytest.approx(skm.roc_auc_score(is_pos, p[:, pos]), abs=1e-12)
    assert m["auroc_macro"] == b["auroc"]
    assert b["sensitivity"] == pytest.approx(skm.recall_score(y, pred, pos_label=pos))
    assert b["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=1 - pos))
    assert b["ppv"] == pytest.approx(skm.precision_score(y, pred, pos_label=pos))
    assert b["npv"] == pytest.approx(skm.precision_score(y, pred, pos_label=1 - pos))
    assert classification_metrics(*preds(30, 3, 0))["binary"] is None
    with pytest.raises(DataError, match="positive_class: expected 0 or 1"):
        classification_metrics(y, p, positive_class=2)


def test_majority_baseline_accuracy_and_chance_auroc():
    from hqmed.eval.metrics import majority_baseline

    y_train = np.array([0, 0, 0, 1, 2])
    y = np.array([0, 1, 2, 0, 1, 0, 2])
    m = majority_baseline(y_train, y, 3, ["x", "y", "z"])
    assert m["majority_class"] == "x"
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, np.zeros_like(y)))
    assert m["auroc_macro"] == pytest.approx(0.5)
    assert m["never_predicted"] == ["y", "z"]


@pytest.mark.parametrize("ties", [False, True])
def test_roc_curves_equal_sklearn(preds, ties):
    y, p = preds(100, 3, 5, ties=ties)
    curves = roc_curves(y, p, class_names=["a", "b", "c"])
    onehot = np.eye(3)[y]
    for c, name in enumerate(["a", "b", "c"]):
        fpr, tpr, thr = skm.roc_curve(onehot[:, c], p[:, c], drop_intermediate=False)
        np.testing.assert_allclose(curves[name]["fpr"], fpr)
        np.testing.assert_allclose(curves[name]["tpr"], tpr)
        np.testing.assert_allclose(curves[name]["thresholds"][1:], thr[1:])
    fpr, tpr, _ = skm.roc_curve(onehot.ravel(), p.ravel(), drop_intermediate=False)
    np.testing.assert_allclose(curves["micro"]["fpr"], fpr)
    np.testing.assert_allclose(curves["micro"]["tpr"], tpr)
    # the area under our curve is our AUROC
    assert np.trapezoid(curves["a"]["tpr"], curves["a"]["fpr"]) == pytest.approx(
        auroc(y, p)["per_class"][0])


def test_summarize_folds_uses_sample_std(preds):
    folds = [classification_metrics(*preds(80, 3, s)) for s in range(4)]
    summary = summarize_folds(folds)
    accs = [f["accuracy"] for f in folds]
    assert summary["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert summary["accuracy"]["std"] == pytest.approx(np.std(accs, ddof=1))
    assert summary["accuracy"]["n"] == 4
    assert "per_class.recall.1" in summary and "confusion_matrix" not in summary
    assert summarize_folds(folds, ddof=0)["accuracy"]["std"] == pytest.approx(np.std(accs))


def test_summarize_folds_skips_undefined_folds(preds):
    y, p = preds(60, 3, 0, absent=(1,))
    folds = [classification_metrics(y, p), classification_metrics(*preds(60, 3, 1)),
             classification_metrics(*preds(60, 3, 2))]
    s = summarize_folds(folds)
    assert s["per_class.auroc.1"]["n"] == 2  # undefined in the fold without class 1
    assert s["per_class.auroc.0"]["n"] == 3


@pytest.mark.parametrize("kwargs,err,msg", [
    (dict(y_true=np.zeros((3, 1), int), y_score=np.full((3, 2), 0.5)), ShapeError, "1-D"),
    (dict(y_true=[0, 1, 1], y_score=np.full((3,), 0.5)), ShapeError, "(N, K)"),
    (dict(y_true=[0, 1], y_score=np.full((3, 2), 0.5)), ShapeError, "expected 2 rows"),
    (dict(y_true=[0, 1, 2], y_score=np.full((3, 2), 0.5)), DataError, "labels in [0, 1]"),
    (dict(y_true=[0, 1, 1], y_score=np.full((3, 2), 0.6)), DataError, "summing to 1"),
    (dict(y_true=[0, 1, 1], y_score=[[2.0, -1.0]] * 3), DataError, "softmax"),
    (dict(y_true=[0.5, 1, 1], y_score=np.full((3, 2), 0.5)), DataError, "integer"),
    (dict(y_true=[0, 1], y_score=[[np.nan, 1.0], [0.5, 0.5]]), DataError, "finite"),
])
def test_validation_messages(kwargs, err, msg):
    with pytest.raises(err, match="expected") as info:
        classification_metrics(**kwargs)
    assert msg in str(info.value)


def test_class_names_length_checked(preds):
    y, p = preds(10, 3, 0)
    with pytest.raises(ShapeError, match="expected 3 names"):
        classification_metrics(y, p, class_names=["a", "b"])


def test_confusion_matrix_layout():
    cm = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    assert math.isclose(cm.trace() / cm.sum(), 0.5)
