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
    bootstrap_overall_ci,
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
    ref = stats.ttest_rel(b, a)  # B - A, as every comparison in hqmed
    assert r.t == pytest.approx(ref.statistic, rel=1e-12)
    assert r.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert r.df == n - 1
    assert r.t_critical == pytest.approx(stats.t.ppf(0.995, n - 1))
    assert r.mean_diff == pytest.approx(np.mean(b - a)) and r.direction == "B - A"
    assert r.t < 0  # b is lower than a here
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
    assert r.t == -math.inf and r.p == 0.0 and r.significant
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
    ref = stats.ttest_rel([f["accuracy"] for f in fb], [f["accuracy"] for f in fa])  # B - A
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
    out = bootstrap_classwise_ci(y, p, level=level, n_boot=n_boot, seed=7, stratified=stratified)
    idx = bootstrap_indices(y, n_boot=n_boot, seed=7, stratified=stratified)
    pred = p.argmax(1)
    reps = {m: [] for m in ("precision", "recall", "f1", "auroc")}
    for row in idx:
        yt, pp, sc = y[row], pred[row], p[row]
        kw = dict(labels=[0, 1, 2], average=None, zero_division=0)
        unused = [c for c in range(3) if c not in set(yt) | set(pp)]  # sklearn's labels=None
        for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                         ("f1", skm.f1_score)):
            v = fn(yt, pp, **kw)
            v[unused] = np.nan
            reps[name].append(v)
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
        ci = bootstrap_overall_ci(y, p, level=0.9, n_boot=200, seed=t)["metrics"]["accuracy"]
        hits += ci["low"] <= true_acc <= ci["high"]
    assert 0.8 <= hits / trials <= 0.97


@pytest.mark.parametrize("k,seed", [(2, 0), (4, 1)])
def test_overall_ci_equals_scipy_bootstrap(preds, k, seed):
    """The plain percentile bootstrap of the overall metrics is scipy.stats.bootstrap's."""
    y, p = preds(90, k, seed, ties=True)
    pred = p.argmax(1)
    n_boot, level = 150, 0.95
    out = bootstrap_overall_ci(y, p, level=level, n_boot=n_boot, seed=seed, positive_class=0)
    assert out["method"].startswith("percentile bootstrap (plain")

    def auc(i):
        if k == 2:
            return skm.roc_auc_score(y[i] == 0, p[i, 0])
        return np.mean([skm.roc_auc_score(y[i] == c, p[i, c]) for c in range(k)])

    stats_of = {
        "accuracy": lambda i: skm.accuracy_score(y[i], pred[i]),
        "f1_macro": lambda i: skm.f1_score(y[i], pred[i], average="macro", zero_division=0),
        "precision_macro": lambda i: skm.precision_score(y[i], pred[i], average="macro",
                                                         zero_division=0),
        "auroc": auc,
    }
    if k == 2:
        stats_of["sensitivity"] = lambda i: skm.recall_score(y[i], pred[i], pos_label=0,
                                                             zero_division=0)
        stats_of["npv"] = lambda i: skm.precision_score(y[i], pred[i], pos_label=1,
                                                        zero_division=0)
    for name, fn in stats_of.items():
        ref = stats.bootstrap((np.arange(y.size),), fn, vectorized=False, n_resamples=n_boot,
                              confidence_level=level, method="percentile", rng=seed)
        got = out["metrics"][name]
        assert (got["low"], got["high"]) == pytest.approx(
            (ref.confidence_interval.low, ref.confidence_interval.high), abs=1e-12), name
        assert got["estimate"] == pytest.approx(fn(np.arange(y.size)), abs=1e-12)


def test_overall_accuracy_has_wilson_beside_it(preds):
    y, p = preds(120, 3, 5)
    acc = bootstrap_overall_ci(y, p, level=0.99, n_boot=50)["metrics"]["accuracy"]
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    correct = int(np.sum(p.argmax(1) == y))
    want = proportion.proportion_confint(correct, y.size, alpha=0.01, method="wilson")
    assert (acc["wilson"]["low"], acc["wilson"]["high"]) == pytest.approx(want, rel=1e-12)


def test_plain_bootstrap_is_wider_than_stratified_for_accuracy():
    """The issue's case: fixing class counts understates the accuracy's sampling variability."""
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(57, int), np.ones(21, int)]
    p = np.tile([0.9, 0.1], (78, 1))
    p[rng.choice(78, 6, replace=False)] = [0.2, 0.8]
    strat = bootstrap_classwise_ci(y, p, n_boot=400)["overall"]["accuracy"]
    plain = bootstrap_overall_ci(y, p, n_boot=400)["metrics"]["accuracy"]
    assert plain["high"] - plain["low"] > strat["high"] - strat["low"]
