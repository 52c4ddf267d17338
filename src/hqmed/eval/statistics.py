"""Statistical comparison of two models (LiteSpineNet paper, experiments 5 and 6).

- :func:`paired_ttest`: paired two-tailed t-test over folds (or any paired values) of one
  metric, reporting t, df, the critical t at ``alpha`` (0.01 in the paper), p, the mean
  difference and its (1 - alpha) confidence interval. Equals ``scipy.stats.ttest_rel``.
- :func:`compare_fold_metrics`: that test for every scalar metric two runs share.
- :func:`mcnemar`: McNemar's test on paired predictions of the same samples.
- :func:`bootstrap_classwise_ci`: percentile-bootstrap confidence intervals (99% by default)
  per class for recall (= per-class accuracy), precision, F1 and one-vs-rest AUROC.
- :func:`wilson_interval`: closed-form score interval for a proportion (cross-check).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from hqmed.errors import DataError, ShapeError
from hqmed.eval.metrics import _class_names, _jsonable, check_labels, check_predictions


# --------------------------------------------------------------------------- paired t-test
@dataclass(frozen=True)
class TTestResult:
    """Paired two-tailed t-test of ``a - b``. ``ci_low``/``ci_high``: (1 - alpha) CI of the mean
    difference; ``significant``: ``p < alpha``."""

    n: int
    df: int
    mean_a: float
    mean_b: float
    mean_diff: float
    std_diff: float  # sample std (ddof=1) of the paired differences
    t: float
    t_critical: float  # two-tailed: t_{1 - alpha/2, df}
    p: float
    alpha: float
    ci_low: float
    ci_high: float
    significant: bool

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


def paired_ttest(a: Sequence[float], b: Sequence[float], alpha: float = 0.01) -> TTestResult:
    """Paired two-tailed t-test of H0: mean(a - b) = 0.

    Args:
        a, b: (n,) paired values, e.g. one metric of models A and B on the same n folds.
        alpha: significance level (the paper uses 0.01, i.e. 99% confidence).

    t = mean(d) / (sd(d) / sqrt(n)) with d = a - b and sd the sample std (ddof=1); df = n - 1;
    p = 2 * P(T_df > |t|). When every difference is equal, sd = 0: t = ±inf and p = 0 if the
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
    d = x - y
    n = d.size
    df = n - 1
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    t_crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    if se > 0:
        t = mean / se
        p = float(2.0 * stats.t.sf(abs(t), df))
    elif mean != 0:
        t, p = math.copysign(math.inf, mean), 0.0
    else:
        t, p = math.nan, math.nan
    return TTestResult(
        n=n, df=df, mean_a=float(x.mean()), mean_b=float(y.mean()), mean_diff=mean,
        std_diff=sd, t=float(t), t_critical=t_crit, p=p, alpha=alpha,
        ci_low=mean - t_crit * se, ci_high=mean + t_crit * se,
        significant=bool(p < alpha) if not math.isnan(p) else False,
    )


def compare_fold_metrics(per_fold_a: Sequence[dict], per_fold_b: Sequence[dict],
                         alpha: float = 0.01, metrics: Sequence[str] | None = None) -> dict:
    """:func:`paired_ttest` (A - B) for each scalar metric of two runs over the same folds.

    ``per_fold_*``: lists of ``classification_metrics`` dicts, fold i of A paired with fold i
    of B. ``metrics``: flattened names (see ``metrics.scalar_metrics``); default the overall
    metrics (accuracy, precision/recall/F1 macro+weighted, AUROC macro+micro). Metrics that are
    undefined in some fold are reported as ``{"error": ...}``.
    """
    from hqmed.eval.metrics import scalar_metrics

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
        return _jsonable(asdict(self))


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
    """Wilson score interval for a binomial proportion ``successes / n`` at ``level``."""
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= n:
        raise DataError(f"successes: expected a count in [0, {n}]; got {successes}")
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (centre - half, centre + half)


def bootstrap_indices(y_true: Sequence[int], n_boot: int = 1000, seed: int = 0,
                      stratified: bool = True) -> np.ndarray:
    """(n_boot, N) resample indices. ``stratified``: each class keeps its size (draws within
    the class), so every replicate has the test set's class counts."""
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


def _weighted_ovr_auc(is_pos: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``weights`` (B, N) = sample multiplicities; ties count 1/2.

    Equivalent to computing the AUROC on the resampled data, without re-sorting per replicate.
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
    """Per-class metrics for each replicate given (B, N) multiplicities -> {metric: (B, K)}."""
    k = scores.shape[1]
    onehot_t = (y[:, None] == np.arange(k)).astype(np.float64)
    onehot_p = (pred[:, None] == np.arange(k)).astype(np.float64)
    tp = counts @ (onehot_t * onehot_p)
    support = counts @ onehot_t
    predicted = counts @ onehot_p
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), np.nan)
    auc = np.stack([_weighted_ovr_auc(y == c, scores[:, c], counts) for c in range(k)], axis=1)
    acc = (tp.sum(axis=1) / counts.sum(axis=1))[:, None]
    return {"recall": recall, "precision": precision, "f1": f1, "auroc": auc, "accuracy": acc}


def bootstrap_classwise_ci(y_true: Sequence[int], y_score: np.ndarray, level: float = 0.99,
                           n_boot: int = 1000, seed: int = 0, stratified: bool = True,
                           class_names: Sequence[str] | None = None,
                           chunk: int = 250) -> dict:
    """Percentile-bootstrap confidence intervals per class on a test set.

    Method: draw ``n_boot`` resamples of the N test samples with replacement (``stratified``:
    within each true class, so class counts stay fixed), recompute each metric per class on
    every resample, and take the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles
    (``np.quantile``, linear interpolation) of the replicates where it is defined. Predictions
    are ``argmax(y_score)``; recall is the per-class accuracy; AUROC is one-vs-rest.

    Returns ``{"level", "n_boot", "seed", "stratified", "method": "percentile",
    "overall": {"accuracy": {...}}, "per_class": {metric: {class: {"estimate", "low",
    "high", "half_width", "se", "n_valid"}}}}``; ``estimate`` is the value on the full test
    set, ``half_width = (high - low) / 2`` (the "± x" of the paper's Table 5), ``se`` the
    bootstrap standard deviation.
    """
    y, scores = check_predictions(y_true, y_score)
    if not 0.0 < level < 1.0:
        raise DataError(f"level: expected a value in (0, 1); got {level}")
    k = scores.shape[1]
    names = _class_names(class_names, k)
    pred = np.argmax(scores, axis=1)
    idx = bootstrap_indices(y, n_boot=n_boot, seed=seed, stratified=stratified)
    n = y.size
    reps: dict[str, list[np.ndarray]] = {}
    for start in range(0, n_boot, chunk):  # bound memory: (chunk, N) count matrix
        block = idx[start:start + chunk]
        rows = np.repeat(np.arange(block.shape[0]), n)
        counts = np.bincount(rows * n + block.ravel(), minlength=block.shape[0] * n)
        counts = counts.reshape(block.shape[0], n).astype(np.float64)
        for key, val in _replicate_metrics(y, scores, pred, counts).items():
            reps.setdefault(key, []).append(val)
    full = _replicate_metrics(y, scores, pred, np.ones((1, n)))
    q = ((1.0 - level) / 2.0, (1.0 + level) / 2.0)

    def interval(values: np.ndarray, estimate: float) -> dict:
        ok = values[~np.isnan(values)]
        low, high = (np.quantile(ok, q) if ok.size else (math.nan, math.nan))
        return {"estimate": estimate, "low": float(low), "high": float(high),
                "half_width": float((high - low) / 2.0),
                "se": float(ok.std(ddof=1)) if ok.size > 1 else math.nan,
                "n_valid": int(ok.size)}

    per_class = {}
    for key in ("recall", "precision", "f1", "auroc"):
        allv = np.concatenate(reps[key], axis=0)
        per_class[key] = {names[c]: interval(allv[:, c], float(full[key][0, c]))
                          for c in range(k)}
    acc = np.concatenate(reps["accuracy"], axis=0)[:, 0]
    return _jsonable({
        "level": level, "n_boot": n_boot, "seed": seed, "stratified": stratified,
        "method": "percentile",
        "overall": {"accuracy": interval(acc, float(full["accuracy"][0, 0]))},
        "per_class": per_class,
    })
