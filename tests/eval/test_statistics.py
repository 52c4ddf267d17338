"""hqmed.eval.statistics against scipy / statsmodels and direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from hqmed.errors import DataError, ShapeError
from hqmed.eval.metrics import classification_metrics
from hqmed.eval.statistics import (
    bootstrap_classwise_ci,
    bootstrap_indices,
    compare_fold_metrics,
    mcnemar,
    paired_ttest,
    wilson_interval,
)


@pytest.mark.parametrize("n,seed", [(3, 0), (5, 1), (10, 2)])
def test_paired_ttest_equals_scipy(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(0.8, 0.02, n)
    b = a - rng.normal(0.03, 0.02, n)
    r = paired_ttest(a, b, alpha=0.01)
    ref = stats.ttest_rel(a, b)
    assert r.t == pytest.approx(ref.statistic, rel=1e-12)
    assert r.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert r.df == n - 1
    assert r.t_critical == pytest.approx(stats.t.ppf(0.995, n - 1))
    assert r.mean_diff == pytest.approx(np.mean(a - b))
    ci = ref.confidence_interval(confidence_level=0.99)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert r.significant == (ref.pvalue < 0.01)
    assert r.significant == (abs(r.t) > r.t_critical)


def test_paired_ttest_paper_critical_value():
    # Table 4 of the LiteSpineNet paper: df = 79 at alpha = 0.01 -> 2.6395
    r = paired_ttest(np.arange(80.0), np.arange(80.0) + np.sin(np.arange(80.0)), alpha=0.01)
    assert r.df == 79 and r.t_critical == pytest.approx(2.6395, abs=5e-5)


def test_paired_ttest_degenerate_and_errors():
    r = paired_ttest([3.0, 2.0, 1.0], [2.0, 1.0, 0.0])
    assert r.t == math.inf and r.p == 0.0 and r.significant
    r = paired_ttest([0.9, 0.8], [0.9, 0.8])
    assert math.isnan(r.t) and not r.significant
    with pytest.raises(DataError, match="at least 2"):
        paired_ttest([1.0], [0.5])
    with pytest.raises(ShapeError, match="expected the same"):
        paired_ttest([1.0, 2.0], [0.5])


def test_compare_fold_metrics(preds):
    fa = [classification_metrics(*preds(60, 3, s, skill=2.5)) for s in range(5)]
    fb = [classification_metrics(*preds(60, 3, s + 10, skill=0.5)) for s in range(5)]
    out = compare_fold_metrics(fa, fb)
    ref = stats.ttest_rel([f["accuracy"] for f in fa], [f["accuracy"] for f in fb])
    assert out["accuracy"]["t"] == pytest.approx(ref.statistic)
    assert set(out) >= {"accuracy", "f1_macro", "auroc_macro", "auroc_micro"}


@pytest.mark.parametrize("flip_a,flip_b,exact", [(5, 8, None), (40, 90, None), (40, 90, True),
                                                  (3, 3, False), (0, 0, None)])
def test_mcnemar_equals_statsmodels(flip_a, flip_b, exact):
    contingency = pytest.importorskip("statsmodels.stats.contingency_tables")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    pa, pb = y.copy(), y.copy()
    pa[:flip_a] = (pa[:flip_a] + 1) % 3  # A wrong on the first flip_a
    pb[20:20 + flip_b] = (pb[20:20 + flip_b] + 2) % 3
    r = mcnemar(y, pa, pb, exact=exact)
    ra, rb = pa == y, pb == y
    table = [[np.sum(ra & rb), np.sum(ra & ~rb)], [np.sum(~ra & rb), np.sum(~ra & ~rb)]]
    use_exact = (r.b + r.c < 25) if exact is None else exact
    assert r.method == ("exact" if use_exact else "chi2")
    ref = contingency.mcnemar(table, exact=use_exact, correction=True)
    if r.b + r.c == 0:
        assert r.p == 1.0
    else:
        assert r.p == pytest.approx(ref.pvalue, rel=1e-10)
        assert r.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert r.both_correct + r.b + r.c + r.both_wrong == 500


def test_wilson_equals_statsmodels():
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    for k, n in [(0, 10), (7, 10), (93, 100), (500, 1000)]:
        want = proportion.proportion_confint(k, n, alpha=0.01, method="wilson")
        assert wilson_interval(k, n, level=0.99) == pytest.approx(want, rel=1e-12)


def test_bootstrap_indices_stratified_keeps_class_counts():
    y = np.array([0] * 7 + [1] * 3 + [2] * 10)
    idx = bootstrap_indices(y, n_boot=50, seed=1, stratified=True)
    assert idx.shape == (50, 20)
    for row in idx:
        np.testing.assert_array_equal(np.bincount(y[row], minlength=3), [7, 3, 10])
    np.testing.assert_array_equal(idx, bootstrap_indices(y, n_boot=50, seed=1))  # seeded
    assert not np.array_equal(idx, bootstrap_indices(y, n_boot=50, seed=2))


@pytest.mark.parametrize("stratified", [True, False])
def test_bootstrap_ci_equals_direct_percentiles(preds, stratified):
    y, p = preds(80, 3, 4, ties=True)
    n_boot, level = 60, 0.9
    out = bootstrap_classwise_ci(y, p, level=level, n_boot=n_boot, seed=7, stratified=stratified,
                                 chunk=25)
    idx = bootstrap_indices(y, n_boot=n_boot, seed=7, stratified=stratified)
    pred = p.argmax(1)
    reps = {m: [] for m in ("precision", "recall", "f1", "auroc")}
    for row in idx:
        yt, pp, sc = y[row], pred[row], p[row]
        kw = dict(labels=[0, 1, 2], average=None, zero_division=np.nan)
        reps["precision"].append(skm.precision_score(yt, pp, **kw))
        reps["recall"].append(skm.recall_score(yt, pp, **kw))
        reps["f1"].append(skm.f1_score(yt, pp, **kw))
        reps["auroc"].append([skm.roc_auc_score(yt == c, sc[:, c]) if 0 < np.sum(yt == c) < len(yt)
                              else np.nan for c in range(3)])
    q = [(1 - level) / 2, (1 + level) / 2]
    for metric, values in reps.items():
        values = np.array(values)
        for c in range(3):
            v = values[:, c][~np.isnan(values[:, c])]
            got = out["per_class"][metric][str(c)]
            assert (got["low"], got["high"]) == pytest.approx(tuple(np.quantile(v, q)), abs=1e-12)
            assert got["n_valid"] == v.size
    full = classification_metrics(y, p)
    assert out["per_class"]["recall"]["1"]["estimate"] == pytest.approx(full["per_class"]["recall"]["1"])
    assert out["overall"]["accuracy"]["estimate"] == pytest.approx(full["accuracy"])


def test_bootstrap_close_to_wilson_for_large_n():
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    correct = rng.random(n) < 0.8
    pred = np.where(correct, y, 1 - y)
    p = np.eye(2)[pred] * 0.8 + 0.1
    out = bootstrap_classwise_ci(y, p, level=0.99, n_boot=1000, seed=0)
    rec = out["per_class"]["recall"]["0"]
    lo, hi = wilson_interval(int(np.sum((y == 0) & correct)), int(np.sum(y == 0)), 0.99)
    assert rec["low"] == pytest.approx(lo, abs=0.01) and rec["high"] == pytest.approx(hi, abs=0.01)


def test_bootstrap_coverage_sanity():
    """Nominal 90% percentile intervals for accuracy cover the true value about 90% of times."""
    rng = np.random.default_rng(123)
    true_acc, n, hits, trials = 0.7, 150, 0, 150
    for t in range(trials):
        y = rng.integers(0, 3, n)
        correct = rng.random(n) < true_acc
        pred = np.where(correct, y, (y + 1) % 3)
        p = np.eye(3)[pred] * 0.7 + 0.1
        ci = bootstrap_classwise_ci(y, p, level=0.9, n_boot=200, seed=t)["overall"]["accuracy"]
        hits += ci["low"] <= true_acc <= ci["high"]
    assert 0.8 <= hits / trials <= 0.97
