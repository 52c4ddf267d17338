"""Statistical comparison of two models (LiteSpineNet paper, experiments 5 and 6).

Every comparison of a model A (the reference, named first) with a model B is stated as B − A.

- :func:`paired_ttest`: paired two-tailed t-test over folds (or any paired values) of one
  metric, reporting t, df, the critical t at ``alpha`` (0.01 in the paper), p, the mean
  difference B − A and its (1 - alpha) confidence interval: ``scipy.stats.ttest_rel(b, a)``.
- :func:`compare_fold_metrics`: that test for every scalar metric two runs share.
- :func:`mcnemar`: McNemar's test on paired predictions of the same samples.
- :func:`bootstrap_overall_ci`: plain (not stratified) percentile-bootstrap intervals for the
  overall metrics (equal to ``scipy.stats.bootstrap``), with the Wilson interval for accuracy.
- :func:`bootstrap_classwise_ci`: stratified percentile-bootstrap confidence intervals (99% by
  default) per class for recall (= per-class accuracy), precision, F1 and one-vs-rest AUROC.
- :func:`wilson_interval`: the Wilson score interval of a proportion (scipy's ``binomtest``).

The bootstrap's resampling is hqmed's own (scipy has no stratified resampling, and reusing one
set of resamples for every metric and class keeps them paired); every metric on a resample is
computed from the resample's sample multiplicities with scikit-learn's conventions (tests check
each against scikit-learn run inside ``scipy.stats.bootstrap``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from hqmed.errors import DataError, ShapeError
from hqmed.eval.metrics import (
    check_labels,
    check_predictions,
    jsonable,
    positive_index,
    resolve_class_names,
    scalar_metrics,
)

#: How every comparison is stated (CLI, JSON and report alike).
DIRECTION = "B - A"


# --------------------------------------------------------------------------- paired t-test
@dataclass(frozen=True)
class TTestResult:
    """Paired two-tailed t-test of ``b - a`` (B − A). ``ci_low``/``ci_high``: (1 - alpha) CI of
    the mean difference B − A; ``significant``: ``p < alpha``."""

    n: int
    df: int
    mean_a: float
    mean_b: float
    mean_diff: float  # mean of b - a
    std_diff: float  # sample std (ddof=1) of the paired differences
    t: float  # > 0 when B is higher
    t_critical: float  # two-tailed: t_{1 - alpha/2, df}
    p: float
    alpha: float
    ci_low: float
    ci_high: float
    significant: bool
    direction: str = DIRECTION

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def paired_ttest(a: Sequence[float], b: Sequence[float], alpha: float = 0.01) -> TTestResult:
    """Paired two-tailed t-test of H0: mean(b - a) = 0, i.e. ``scipy.stats.ttest_rel(b, a)``.

    Args:
        a, b: (n,) paired values, e.g. one metric of models A and B on the same n folds.
        alpha: significance level (the paper uses 0.01, i.e. 99% confidence).

    t > 0 means B is higher. When every difference is equal, sd = 0: t = ±inf and p = 0 if the
    mean difference is non-zero, t = NaN and p = NaN if it is zero (as scipy).
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ShapeError(f"b: expected the same 1-D shape as a {x.shape}; got {y.shape}")
    if x.size < 2:
        raise DataError(f"a, b: expected at least 2 paired values (folds); got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise DataError("a, b: expected finite values; got NaN or inf")
    if not 0.0 < alpha < 1.0:
        raise DataError(f"alpha: expected a value in (0, 1); got {alpha}")
    with warnings.catch_warnings():  # equal differences: scipy warns, then gives ±inf or NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_rel(y, x)
        ci = res.confidence_interval(confidence_level=1.0 - alpha)
    d = y - x
    p = float(res.pvalue)
    return TTestResult(
        n=int(d.size), df=int(res.df), mean_a=float(x.mean()), mean_b=float(y.mean()),
        mean_diff=float(d.mean()), std_diff=float(d.std(ddof=1)), t=float(res.statistic),
        t_critical=float(stats.t.ppf(1.0 - alpha / 2.0, res.df)), p=p, alpha=alpha,
        ci_low=float(ci.low), ci_high=float(ci.high),
        significant=bool(p < alpha) if not math.isnan(p) else False,
    )


def compare_fold_metrics(per_fold_a: Sequence[dict], per_fold_b: Sequence[dict],
                         alpha: float = 0.01, metrics: Sequence[str] | None = None) -> dict:
    """:func:`paired_ttest` (B − A) for each scalar metric of two runs over the same folds.

    ``per_fold_*``: lists of ``classification_metrics`` dicts, fold i of A paired with fold i
    of B. ``metrics``: flattened names (see ``metrics.scalar_metrics``); default the overall
    metrics (accuracy, precision/recall/F1 macro+weighted, AUROC macro+micro). Metrics that are
    undefined in some fold are reported as ``{"error": ...}``.
    """
    if len(per_fold_a) != len(per_fold_b):
        raise ShapeError(f"per_fold_b: expected {len(per_fold_a)} folds (as run A); "
                         f"got {len(per_fold_b)}")
    fa = [scalar_metrics(m) for m in per_fold_a]
    fb = [scalar_metrics(m) for m in per_fold_b]
    if metrics is None:
        metrics = [k for k in fa[0] if not k.startswith("per_class.")] if fa else []
    out = {}
    for name in metrics:
        va = [f.get(name, math.nan) for f in fa]
        vb = [f.get(name, math.nan) for f in fb]
        try:
            out[name] = paired_ttest(va, vb, alpha=alpha).to_dict()
        except DataError as exc:
            out[name] = {"error": str(exc)}
    return out


# --------------------------------------------------------------------------- McNemar
@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test. ``b``: A right and B wrong; ``c``: A wrong and B right."""

    n: int
    both_correct: int
    b: int
    c: int
    both_wrong: int
    statistic: float  # exact: min(b, c); chi-square: (|b - c| - 1)^2 / (b + c)
    p: float
    method: str  # "exact" or "chi2"

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


#: Below this number of discordant pairs (b + c) the exact binomial test is used.
MCNEMAR_EXACT_BELOW = 25


def mcnemar(y_true: Sequence[int], y_pred_a: Sequence[int], y_pred_b: Sequence[int],
            exact: bool | None = None) -> McNemarResult:
    """McNemar's test of H0: models A and B have the same error rate on these samples.

    Only the discordant pairs count: b = #(A right, B wrong), c = #(A wrong, B right).
    ``exact=None`` (default) picks the exact test when b + c < 25 (as statsmodels' advice):
    exact two-sided binomial p = min(1, 2 * P(Bin(b + c, 1/2) <= min(b, c))); otherwise the
    chi-square statistic with continuity correction (|b - c| - 1)^2 / (b + c), 1 df.
    With no discordant pairs p = 1.
    """
    yt = check_labels(y_true, "y_true")
    pa = check_labels(y_pred_a, "y_pred_a")
    pb = check_labels(y_pred_b, "y_pred_b")
    for name, arr in (("y_pred_a", pa), ("y_pred_b", pb)):
        if arr.shape != yt.shape:
            raise ShapeError(f"{name}: expected shape {yt.shape} (as y_true); got {arr.shape}")
    ra, rb = pa == yt, pb == yt
    b = int(np.sum(ra & ~rb))
    c = int(np.sum(~ra & rb))
    m = b + c
    use_exact = (m < MCNEMAR_EXACT_BELOW) if exact is None else bool(exact)
    if m == 0:
        stat, p = 0.0, 1.0
    elif use_exact:
        stat = float(min(b, c))
        p = float(min(1.0, 2.0 * stats.binom.cdf(min(b, c), m, 0.5)))
    else:
        stat = (abs(b - c) - 1.0) ** 2 / m
        p = float(stats.chi2.sf(stat, 1))
    return McNemarResult(n=int(yt.size), both_correct=int(np.sum(ra & rb)), b=b, c=c,
                         both_wrong=int(np.sum(~ra & ~rb)), statistic=float(stat), p=p,
                         method="exact" if use_exact else "chi2")


# --------------------------------------------------------------------------- intervals
def wilson_interval(successes: int, n: int, level: float = 0.99) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n`` at ``level``
    (``scipy.stats.binomtest(successes, n).proportion_ci(level, method="wilson")``)."""
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= n:
        raise DataError(f"successes: expected a count in [0, {n}]; got {successes}")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(level, method="wilson")
    return (float(ci.low), float(ci.high))


def bootstrap_indices(y_true: Sequence[int], n_boot: int = 1000, seed: int = 0,
                      stratified: bool = True) -> np.ndarray:
    """(n_boot, N) resample indices.

    Plain (``stratified=False``): ``default_rng(seed).integers(0, N, (n_boot, N))``, the very
    draws ``scipy.stats.bootstrap(..., rng=seed)`` makes. ``stratified``: each class keeps its
    size (draws within the class), so every replicate has the test set's class counts.
    """
    y = check_labels(y_true, "y_true")
    if n_boot < 1:
        raise DataError(f"n_boot: expected >= 1; got {n_boot}")
    rng = np.random.default_rng(seed)
    n = y.size
    if not stratified:
        return rng.integers(0, n, size=(n_boot, n))
    idx = np.empty((n_boot, n), dtype=np.int64)
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        idx[:, members] = members[rng.integers(0, members.size, size=(n_boot, members.size))]
    return idx


def _multiplicities(idx: np.ndarray, chunk: int = 250):
    """Yield (B', N) float64 sample multiplicities of blocks of the resamples ``idx`` (B, N)."""
    n = idx.shape[1]
    for start in range(0, idx.shape[0], chunk):  # bound memory: (chunk, N) count matrix
        block = idx[start:start + chunk]
        rows = np.repeat(np.arange(block.shape[0]), n)
        counts = np.bincount(rows * n + block.ravel(), minlength=block.shape[0] * n)
        yield counts.reshape(block.shape[0], n).astype(np.float64)


def _weighted_auc(is_pos: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``weights`` (B, N) = sample multiplicities; ties count 1/2.

    Own code for one reason: ``roc_auc_score(sample_weight=w)`` per replicate costs ~1 ms, i.e.
    a minute per comparison at 1000 replicates x K classes; this is one sort for all replicates.
    Tests check it against ``roc_auc_score`` inside ``scipy.stats.bootstrap``.
    """
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]  # groups of tied scores
    w = weights[:, order]
    pos = is_pos[order].astype(np.float64)
    wp = np.add.reduceat(w * pos, starts, axis=1)  # (B, G) positive weight per score group
    wn = np.add.reduceat(w * (1.0 - pos), starts, axis=1)
    below = np.cumsum(wn, axis=1) - wn  # negative weight strictly below each group
    num = np.sum(wp * (below + 0.5 * wn), axis=1)
    den = wp.sum(axis=1) * wn.sum(axis=1)
    out = np.full(den.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _replicate_metrics(y: np.ndarray, scores: np.ndarray, pred: np.ndarray,
                       counts: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of each replicate given (B, N) multiplicities, with scikit-learn's conventions.

    Per class (B, K): recall, precision, F1 (NaN for a class neither present nor predicted in
    the replicate, 0 when only one of them), one-vs-rest AUROC. Overall (B, 1): accuracy and
    the macro averages over the classes present or predicted (``zero_division=0``).
    """
    k = scores.shape[1]
    onehot_t = (y[:, None] == np.arange(k)).astype(np.float64)
    onehot_p = (pred[:, None] == np.arange(k)).astype(np.float64)
    tp = counts @ (onehot_t * onehot_p)
    support = counts @ onehot_t
    predicted = counts @ onehot_p
    used = (support + predicted) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.where(used, 0.0, np.nan))
        precision = np.where(predicted > 0, tp / predicted, np.where(used, 0.0, np.nan))
        f1 = np.where(used, 2 * tp / (support + predicted), np.nan)
    auc = np.stack([_weighted_auc(y == c, scores[:, c], counts) for c in range(k)], axis=1)
    out = {"recall": recall, "precision": precision, "f1": f1, "auroc": auc,
           "accuracy": (tp.sum(axis=1) / counts.sum(axis=1))[:, None]}
    for name in ("precision", "recall", "f1"):
        out[f"{name}_macro"] = np.nanmean(out[name], axis=1)[:, None]
    return out


def _interval(values: np.ndarray, estimate: float, level: float) -> dict:
    """Percentile interval of the replicates where ``values`` is defined (``np.quantile``)."""
    q = ((1.0 - level) / 2.0, (1.0 + level) / 2.0)
    ok = values[~np.isnan(values)]
    low, high = (np.quantile(ok, q) if ok.size else (math.nan, math.nan))
    return {"estimate": estimate, "low": float(low), "high": float(high),
            "half_width": float((high - low) / 2.0),
            "se": float(ok.std(ddof=1)) if ok.size > 1 else math.nan, "n_valid": int(ok.size)}


def _bootstrap(y: np.ndarray, scores: np.ndarray, idx: np.ndarray
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(replicate metrics stacked over all resamples, metrics of the full set)."""
    pred = np.argmax(scores, axis=1)
    reps: dict[str, list[np.ndarray]] = {}
    for counts in _multiplicities(idx):
        for key, val in _replicate_metrics(y, scores, pred, counts).items():
            reps.setdefault(key, []).append(val)
    full = _replicate_metrics(y, scores, pred, np.ones((1, y.size)))
    return {k: np.concatenate(v, axis=0) for k, v in reps.items()}, full


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise DataError(f"level: expected a value in (0, 1); got {level}")


def bootstrap_overall_ci(y_true: Sequence[int], y_score: np.ndarray, level: float = 0.99,
                         n_boot: int = 1000, seed: int = 0,
                         positive_class: int | None = None) -> dict:
    """Plain percentile-bootstrap intervals of the overall metrics, Wilson beside accuracy.

    Method: ``n_boot`` resamples of the N samples with replacement, NOT stratified (class counts
    vary as they would in a new test set of size N), the metric recomputed on each, and the
    ``(1 ± level)/2`` quantiles taken: exactly ``scipy.stats.bootstrap((idx,), statistic,
    n_resamples=n_boot, method="percentile", rng=seed)``. Metrics: accuracy, macro precision,
    recall and F1, and AUROC (binary AUROC of the positive class for K = 2, else macro
    one-vs-rest). For K = 2 also sensitivity, specificity, PPV and NPV of the positive class.

    Returns ``{"method", "level", "n_boot", "seed", "metrics": {name: interval}}``; an interval
    is ``{"estimate", "low", "high", "half_width", "se", "n_valid"}`` and accuracy's has
    ``"wilson": {"low", "high"}`` too.
    """
    y, scores = check_predictions(y_true, y_score)
    _check_level(level)
    k = scores.shape[1]
    reps, full = _bootstrap(y, scores, bootstrap_indices(y, n_boot, seed, stratified=False))
    if k == 2:
        pos = positive_index(positive_class, k)
        neg = 1 - pos
        columns = {"auroc": ("auroc", pos), "sensitivity": ("recall", pos),
                   "specificity": ("recall", neg), "ppv": ("precision", pos),
                   "npv": ("precision", neg)}
    else:
        reps["auroc_macro"] = np.nanmean(reps["auroc"], axis=1)[:, None]
        full["auroc_macro"] = np.nanmean(full["auroc"], axis=1)[:, None]
        columns = {"auroc": ("auroc_macro", 0)}
    metrics = {name: _interval(reps[name][:, 0], float(full[name][0, 0]), level)
               for name in ("accuracy", "precision_macro", "recall_macro", "f1_macro")}
    for name, (key, col) in columns.items():
        metrics[name] = _interval(reps[key][:, col], float(full[key][0, col]), level)
    correct = int(round(full["accuracy"][0, 0] * y.size))
    metrics["accuracy"]["wilson"] = dict(zip(("low", "high"), wilson_interval(correct, y.size, level)))
    return jsonable({"method": "percentile bootstrap (plain, not stratified)", "level": level,
                      "n_boot": n_boot, "seed": seed, "metrics": metrics})


def bootstrap_classwise_ci(y_true: Sequence[int], y_score: np.ndarray, level: float = 0.99,
                           n_boot: int = 1000, seed: int = 0, stratified: bool = True,
                           class_names: Sequence[str] | None = None) -> dict:
    """Percentile-bootstrap confidence intervals per class on a test set.

    Method: draw ``n_boot`` resamples of the N test samples with replacement (``stratified``:
    within each true class, so class counts stay fixed), recompute each metric per class on
    every resample, and take the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles
    (``np.quantile``, linear interpolation) of the replicates where it is defined. Predictions
    are ``argmax(y_score)``; recall is the per-class accuracy; AUROC is one-vs-rest.

    Returns ``{"level", "n_boot", "seed", "stratified", "method", "overall": {"accuracy": {...}},
    "per_class": {metric: {class: {"estimate", "low", "high", "half_width", "se",
    "n_valid"}}}}``; ``estimate`` is the value on the full test set, ``half_width = (high -
    low) / 2`` (the "± x" of the paper's Table 5), ``se`` the bootstrap standard deviation.
    Overall metrics belong to :func:`bootstrap_overall_ci` (a plain bootstrap); the stratified
    ``overall.accuracy`` here is kept for the class-wise table's context only.
    """
    y, scores = check_predictions(y_true, y_score)
    _check_level(level)
    k = scores.shape[1]
    names = resolve_class_names(class_names, k)
    reps, full = _bootstrap(y, scores, bootstrap_indices(y, n_boot, seed, stratified=stratified))
    per_class = {key: {names[c]: _interval(reps[key][:, c], float(full[key][0, c]), level)
                       for c in range(k)}
                 for key in ("recall", "precision", "f1", "auroc")}
    return jsonable({
        "level": level, "n_boot": n_boot, "seed": seed, "stratified": stratified,
        "method": ("stratified percentile bootstrap (class counts fixed)" if stratified
                   else "percentile bootstrap (plain, not stratified)"),
        "overall": {"accuracy": _interval(reps["accuracy"][:, 0],
                                          float(full["accuracy"][0, 0]), level)},
        "per_class": per_class,
    })
