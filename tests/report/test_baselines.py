"""Results tables carry the majority-class row, the published reference and the positive class;
a run that does not clearly beat the majority class is flagged."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from sklearn.dummy import DummyClassifier

from hqmed.eval.metrics import classification_metrics
from hqmed.eval.statistics import bootstrap_overall_ci
from hqmed.report import checks, tables
from hqmed.train.runner import _baseline

NAMES = ["malignant", "benign"]
REF = {"name": "ResNet-18 (28)", "source": "MedMNIST v2", "split": "test",
       "metrics": {"accuracy": 0.833, "auroc_macro": 0.901}}


def _run(skill: float, label: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(156) < 0.73).astype(int)  # 27% malignant, as BreastMNIST's test split
    logits = rng.normal(size=(156, 2))
    logits[np.arange(156), y] += skill
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y_train = np.r_[np.zeros(40, int), np.ones(100, int)]
    metrics = {"oof": classification_metrics(y, p, NAMES, positive_class=0),
               "intervals": {"oof": bootstrap_overall_ci(y, p, n_boot=200, positive_class=0)},
               "baselines": {"oof": _baseline(y, p, np.full(156, 1), NAMES, 0)}}
    run = SimpleNamespace(dataset="breast", label=label, protocol="cv", metrics=metrics,
                          class_names=NAMES, scores=lambda split: (y, p) if split == "val" else None,
                          confusion=lambda split: None, history=None)
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((140, 1)), y_train)
    return run, float(np.mean(dummy.predict(np.zeros((156, 1))) == y))


def test_overall_table_has_majority_and_reference_rows():
    good, dummy_acc = _run(3.0, "good")
    t = tables.overall_metrics([good], {"breast": REF})
    html = tables.to_html(t)
    assert "Majority class (always benign)" in html
    assert "ResNet-18 (28) (published: MedMNIST v2)" in html
    acc_col = t.columns.index(tables.metric_name("accuracy"))
    base_row = next(r for r in t.rows if any("Majority" in c.text for c in r))
    assert base_row[acc_col].text == tables.fmt(dummy_acc)  # scikit-learn's DummyClassifier
    ref_row = next(r for r in t.rows if any("ResNet" in c.text for c in r))
    assert tables.fmt(0.833) in [c.text for c in ref_row]


def test_positive_class_table_leads_with_sensitivity_of_the_named_class():
    good, _ = _run(3.0, "good")
    t = tables.positive_class_metrics([good])
    row = t.rows[0]
    assert row[4].text == "malignant"
    sens = good.metrics["oof"]["binary"]["sensitivity"]
    assert row[5].text.startswith(tables.fmt(sens)) and "[" in row[5].text


def test_a_run_that_does_not_clearly_beat_the_majority_is_flagged():
    good, _ = _run(3.0, "good")
    useless, _ = _run(0.0, "useless", seed=1)
    assert good.metrics["baselines"]["oof"]["clearly_beats_majority"]
    assert not useless.metrics["baselines"]["oof"]["clearly_beats_majority"]
    warnings = checks.below_majority([good, useless])
    assert len(warnings) == 1 and "useless does not clearly beat the majority-class" in warnings[0]


def test_a_class_never_predicted_in_one_fold_is_reported_in_cli_and_report():
    from hqmed.train.runner import run_summary_lines

    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.2, 0.8], [0.1, 0.9]])
    fold0 = classification_metrics(y[:4], p[:4], NAMES)  # fold 0 never predicts "benign"
    fold1 = classification_metrics(y[4:], p[4:], NAMES)
    pooled = classification_metrics(y, p, NAMES)
    assert fold0["never_predicted"] == ["benign"] and pooled["never_predicted"] == []
    metrics = {"per_fold": [fold0, fold1], "oof": pooled}
    assert "fold 0: never predicts benign" in run_summary_lines(metrics)
    run = SimpleNamespace(dataset="breast", label="m", metrics=metrics, class_names=NAMES,
                          scores=lambda split: (y, p) if split == "val" else None,
                          confusion=lambda split: np.array([[2, 1], [1, 2]]))
    (line,) = checks.never_predicted([run])
    assert "fold 0 (benign)" in line
