"""Classification metrics with scikit-learn argument conventions.

Arguments everywhere: ``y_true`` (N,) integer labels in ``[0, K)``, ``y_score`` (N, K) class
probabilities (rows sum to 1), ``y_pred`` (N,) integer labels (by default ``argmax(y_score)``).
Inputs are validated once, at the public functions, and raise :class:`~hqmed.errors.ShapeError`
or :class:`~hqmed.errors.DataError` with "expected X; got Y".

Conventions (all documented in docs/eval.md):

- **Undefined values are NaN, never a silent 0.** Precision of a class that is never predicted,
  recall/per-class accuracy/AUROC of a class absent from ``y_true`` (and AUROC of a class that
  is the only one present) are NaN. Macro averages are taken over the classes where the value is
  defined (``np.nanmean``); weighted averages weight by support, so absent classes weigh 0.
  This equals scikit-learn with ``zero_division=np.nan`` and ``labels=range(K)``.
- **Per-class accuracy** (the LCNet paper's "per-class accuracy", computed from the confusion
  matrix) is the fraction of the samples of class k that are classified as k, i.e. the diagonal
  of the row-normalised confusion matrix = recall of class k.
- **AUROC** per class is one-vs-rest (score ``y_score[:, k]`` against ``y_true == k``), computed
  with the Mann-Whitney rank statistic (ties count 1/2), which equals
  ``sklearn.metrics.roc_auc_score``. Macro = mean of the per-class values; micro = AUROC of the
  flattened one-hot labels against the flattened scores. For K = 2 the macro value equals the
  binary AUROC of ``y_score[:, 1]``.
- ``classification_metrics`` returns plain Python types; NaN becomes ``None`` so that the dict
  is valid JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hqmed.errors import DataError, ShapeError

#: Rows of ``y_score`` must sum to 1 within this absolute tolerance.
ROW_SUM_ATOL = 1e-3


# --------------------------------------------------------------------------- validation
def check_labels(y: object, name: str, num_classes: int | None = None) -> np.ndarray:
    """Return ``y`` as an int64 (N,) array; raise if it is not 1-D integer labels in [0, K)."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ShapeError(f"{name}: expected a 1-D array of labels (N,); got shape {arr.shape}")
    if arr.size == 0:
        raise DataError(f"{name}: expected at least one sample; got 0")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise DataError(f"{name}: expected integer class labels; got non-integer values")
    elif arr.dtype.kind not in "iub":
        raise DataError(f"{name}: expected integer class labels; got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if num_classes is not None and (arr.min() < 0 or arr.max() >= num_classes):
        raise DataError(
            f"{name}: expected labels in [0, {num_classes - 1}]; "
            f"got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def check_scores(y_score: object, name: str = "y_score", n: int | None = None) -> np.ndarray:
    """Return ``y_score`` as float64 (N, K); raise unless rows are probabilities summing to 1."""
    arr = np.asarray(y_score, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ShapeError(f"{name}: expected class probabilities of shape (N, K) with K >= 2; "
                         f"got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ShapeError(f"{name}: expected {n} rows (one per label); got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name}: expected finite probabilities; got NaN or inf")
    if arr.min() < -ROW_SUM_ATOL or arr.max() > 1 + ROW_SUM_ATOL:
        raise DataError(f"{name}: expected probabilities in [0, 1]; "
                        f"got values in [{arr.min():.4g}, {arr.max():.4g}] (apply softmax first)")
    sums = arr.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_ATOL)
    if bad.size:
        raise DataError(f"{name}: expected rows summing to 1 (softmax probabilities); "
                        f"got row {bad[0]} summing to {sums[bad[0]]:.6g}")
    return arr


def check_predictions(y_true: object, y_score: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (labels, probabilities) pair; return (int64 (N,), float64 (N, K))."""
    labels = check_labels(y_true, "y_true")
    scores = check_scores(y_score, "y_score", n=labels.shape[0])
    check_labels(labels, "y_true", num_classes=scores.shape[1])
    return labels, scores


def _class_names(class_names: Sequence[str] | None, k: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(k)]
    names = [str(c) for c in class_names]
    if len(names) != k:
        raise ShapeError(f"class_names: expected {k} names (one per column of y_score); "
                         f"got {len(names)}")
    return names


# --------------------------------------------------------------------------- core metrics
def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts; row = true class, column = predicted class (sklearn layout)."""
    y_true = check_labels(y_true, "y_true", num_classes)
    y_pred = check_labels(y_pred, "y_pred", num_classes)
    if y_true.shape != y_pred.shape:
        raise ShapeError(f"y_pred: expected shape {y_true.shape}; got {y_pred.shape}")
    flat = y_true * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def _nan_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def precision_recall_f1(cm: np.ndarray) -> dict[str, np.ndarray | float]:
    """Per-class, macro and weighted precision/recall/F1 from a (K, K) confusion matrix.

    Per-class values are NaN when undefined (see module docstring); F1 is NaN only when the
    class is neither present nor predicted, and 0 when it is one of them but TP = 0.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _nan_div(tp, predicted)
    recall = _nan_div(tp, support)
    f1 = _nan_div(2 * tp, support + predicted)
    total = support.sum()
    out: dict[str, np.ndarray | float] = {"support": support.astype(np.int64)}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        out[name] = values
        out[f"{name}_macro"] = _nanmean(values)
        defined = ~np.isnan(values)
        w = support * defined
        out[f"{name}_weighted"] = (float(np.sum(np.where(defined, values, 0.0) * w) / w.sum())
                                   if w.sum() > 0 and total > 0 else math.nan)
    return out


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values[~np.isnan(values)])) if np.any(~np.isnan(values)) else math.nan


def binary_auc(is_pos: np.ndarray, score: np.ndarray) -> float:
    """AUROC of ``score`` for the boolean target ``is_pos`` (Mann-Whitney U / (P*N); ties = 1/2).

    NaN when only one of the two outcomes is present.
    """
    from scipy.stats import rankdata

    is_pos = np.asarray(is_pos, dtype=bool)
    n_pos = int(is_pos.sum())
    n_neg = is_pos.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(score)  # average ranks for ties
    u = ranks[is_pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auroc(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, np.ndarray | float]:
    """One-vs-rest AUROC: ``{"per_class": (K,), "macro": float, "micro": float}``."""
    y_true, y_score = check_predictions(y_true, y_score)
    k = y_score.shape[1]
    onehot = y_true[:, None] == np.arange(k)[None, :]
    per_class = np.array([binary_auc(onehot[:, c], y_score[:, c]) for c in range(k)])
    return {"per_class": per_class, "macro": _nanmean(per_class),
            "micro": binary_auc(onehot.ravel(), y_score.ravel())}


def _roc_curve(is_pos: np.ndarray, score: np.ndarray) -> dict[str, list[float]]:
    """fpr, tpr at every distinct score (as sklearn ``roc_curve(drop_intermediate=False)``)."""
    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    pos = is_pos[order].astype(np.float64)
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # last index of each distinct score
    tps = np.cumsum(pos)[last]
    fps = (last + 1) - tps
    tps = np.r_[0.0, tps]
    fps = np.r_[0.0, fps]
    thresholds = np.r_[np.inf, s[last]]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full_like(fps, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full_like(tps, np.nan)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thresholds.tolist()}


def roc_curves(y_true: np.ndarray, y_score: np.ndarray,
               class_names: Sequence[str] | None = None) -> dict[str, dict[str, list[float]]]:
    """ROC curve per class (one-vs-rest) and ``"micro"``: ``{name: {fpr, tpr, thresholds}}``.

    Points are at every distinct score, highest first, starting at (0, 0) with threshold +inf;
    a class absent from ``y_true`` gets NaN tpr (and a class present everywhere NaN fpr).
    """
    y_true, y_score = check_predictions(y_true, y_score)
    k = y_score.shape[1]
    names = _class_names(class_names, k)
    onehot = y_true[:, None] == np.arange(k)[None, :]
    curves = {names[c]: _roc_curve(onehot[:, c], y_score[:, c]) for c in range(k)}
    curves["micro"] = _roc_curve(onehot.ravel(), y_score.ravel())
    return curves


def _jsonable(x: object) -> object:
    """NaN -> None, numpy scalars/arrays -> Python floats/ints/lists (recursively)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer, bool, np.bool_)):
        return x.item() if hasattr(x, "item") else x
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(float(x)) else float(x)
    return x


def classification_metrics(y_true: object, y_score: object,
                           class_names: Sequence[str] | None = None,
                           y_pred: object | None = None) -> dict:
    """Every classification metric of both papers, as a JSON-serialisable dict.

    Args:
        y_true: (N,) int labels in [0, K).
        y_score: (N, K) probabilities (rows sum to 1 within ``ROW_SUM_ATOL``).
        class_names: K names used as keys of the per-class dicts (default "0".."K-1").
        y_pred: (N,) predicted labels; default ``argmax(y_score, axis=1)``.

    Returns:
        ``{"n", "num_classes", "class_names", "accuracy", "precision_macro",
        "precision_weighted", "recall_macro", "recall_weighted", "f1_macro", "f1_weighted",
        "auroc_macro", "auroc_micro", "per_class": {"precision"|"recall"|"f1"|"auroc"|
        "accuracy"|"support": {name: value}}, "confusion_matrix": K x K list}``;
        undefined values are ``None``.
    """
    labels, scores = check_predictions(y_true, y_score)
    k = scores.shape[1]
    names = _class_names(class_names, k)
    pred = (np.argmax(scores, axis=1) if y_pred is None
            else check_labels(y_pred, "y_pred", num_classes=k))
    if pred.shape != labels.shape:
        raise ShapeError(f"y_pred: expected shape {labels.shape}; got {pred.shape}")
    cm = confusion_matrix(labels, pred, k)
    prf = precision_recall_f1(cm)
    auc = auroc(labels, scores)
    out = {
        "n": int(labels.size),
        "num_classes": k,
        "class_names": names,
        "accuracy": float(np.trace(cm) / cm.sum()),
        **{f"{m}_{avg}": prf[f"{m}_{avg}"] for m in ("precision", "recall", "f1")
           for avg in ("macro", "weighted")},
        "auroc_macro": auc["macro"],
        "auroc_micro": auc["micro"],
        "per_class": {
            "precision": dict(zip(names, prf["precision"])),
            "recall": dict(zip(names, prf["recall"])),
            "f1": dict(zip(names, prf["f1"])),
            "auroc": dict(zip(names, auc["per_class"])),
            "accuracy": dict(zip(names, prf["recall"])),  # per-class accuracy == recall
            "support": dict(zip(names, prf["support"])),
        },
        "confusion_matrix": cm,
    }
    return _jsonable(out)


# --------------------------------------------------------------------------- fold summaries
def scalar_metrics(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Flatten the scalar entries of a ``classification_metrics`` dict.

    Per-class values become ``"per_class.<metric>.<class>"``; ``n``, ``num_classes``,
    ``class_names``, supports and the confusion matrix are left out. ``None`` becomes NaN.
    """
    flat: dict[str, float] = {}
    skip = {"n", "num_classes", "class_names", "confusion_matrix", "support"}
    for key, value in metrics.items():
        if key in skip:
            continue
        if isinstance(value, dict):
            flat.update(scalar_metrics(value, prefix=f"{prefix}{key}."))
        elif value is None or isinstance(value, (int, float, np.integer, np.floating)):
            if isinstance(value, bool):
                continue
            flat[f"{prefix}{key}"] = math.nan if value is None else float(value)
    return flat


def summarize_folds(per_fold: Sequence[dict], ddof: int = 1) -> dict[str, dict[str, float | int | None]]:
    """Mean ± std over folds of every scalar metric.

    ``std`` is the sample standard deviation (``ddof=1``, the papers' convention; pass
    ``ddof=0`` for the population value). Folds where a metric is undefined (NaN/None) are left
    out of that metric; ``n`` says how many folds were used. Returns
    ``{metric: {"mean", "std", "n"}}`` with ``None`` for undefined values.
    """
    if len(per_fold) == 0:
        raise DataError("per_fold: expected at least one fold's metrics; got 0")
    flats = [scalar_metrics(m) for m in per_fold]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    out: dict[str, dict[str, float | int | None]] = {}
    for key in keys:
        vals = np.array([f.get(key, math.nan) for f in flats], dtype=np.float64)
        vals = vals[~np.isnan(vals)]
        mean = float(vals.mean()) if vals.size else math.nan
        std = float(vals.std(ddof=ddof)) if vals.size > ddof else math.nan
        out[key] = {"mean": mean, "std": std, "n": int(vals.size)}
    return _jsonable(out)
