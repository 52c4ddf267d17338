"""Classification metrics: scikit-learn's, with its defaults, behind one validated entry point.

Arguments everywhere: ``y_true`` (N,) integer labels in ``[0, K)``, ``y_score`` (N, K) class
probabilities (rows sum to 1), ``y_pred`` (N,) integer labels (by default ``argmax(y_score)``).
Inputs are validated once, at the public functions, and raise :class:`~hqmed.errors.ShapeError`
or :class:`~hqmed.errors.DataError` with "expected X; got Y".

One implementation of each metric, scikit-learn's, each called in ONE place in hqmed:
:func:`confusion_matrix` (``sklearn.metrics.confusion_matrix``), :func:`precision_recall_f1`
(``precision_recall_fscore_support``), :func:`binary_auc` (``roc_auc_score``) and
:func:`_roc_curve` (``roc_curve``). Statistics, the trainer and the report call these.

Conventions (all documented in docs/eval.md):

- **scikit-learn's defaults.** Precision, recall and F1 use ``zero_division=0`` (what
  scikit-learn's default ``"warn"`` returns): a class that is never predicted has precision 0.
  Macro and weighted averages are over the classes present in ``y_true`` or ``y_pred``
  (scikit-learn's default ``labels=None``); a class that is neither present nor predicted gets
  ``None`` per class. ``never_predicted`` lists the classes present in ``y_true`` that the model
  never predicts, so a 0 precision is never silent.
- **Per-class accuracy** (the LCNet paper's "per-class accuracy", computed from the confusion
  matrix) is the fraction of the samples of class k that are classified as k, i.e. the diagonal
  of the row-normalised confusion matrix = recall of class k.
- **AUROC** per class is one-vs-rest (``roc_auc_score(y_true == k, y_score[:, k])``), NaN when
  class k is absent or alone. Macro = mean of the defined per-class values; micro = AUROC of the
  flattened one-hot labels against the flattened scores. For K = 2 the macro value is the binary
  AUROC of the positive class, ``roc_auc_score(y_true == pos, y_score[:, pos])`` (never the
  mean of the two columns' AUROCs, which differ under float32 ties).
- **Binary tasks** (K = 2) also get ``binary``: positive class, AUROC, sensitivity, specificity,
  PPV and NPV at the argmax threshold (``y_score[:, pos] > 0.5``; ties go to class 0).
- ``classification_metrics`` returns plain Python types; NaN becomes ``None`` so that the dict
  is valid JSON.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

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


def resolve_class_names(class_names: Sequence[str] | None, k: int) -> list[str]:
    """``class_names`` as K strings (checked against K), or "0" ... "K-1" when None."""
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
    return skm.confusion_matrix(y_true, y_pred, labels=np.arange(num_classes)).astype(np.int64)


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray,
                        num_classes: int) -> dict[str, np.ndarray | float]:
    """Per-class, macro and weighted precision/recall/F1 with scikit-learn's defaults.

    ``zero_division=0`` and averages over the classes present in ``y_true`` or ``y_pred``
    (scikit-learn's ``labels=None``); per-class values of the other classes are NaN.
    """
    used = np.union1d(y_true, y_pred)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=used, average=None, zero_division=0)
    out: dict[str, np.ndarray | float] = {
        "support": np.bincount(y_true, minlength=num_classes).astype(np.int64)}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        full = np.full(num_classes, np.nan)
        full[used] = values
        out[name] = full
        out[f"{name}_macro"] = float(np.mean(values))
        out[f"{name}_weighted"] = float(np.average(values, weights=support))
    return out


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values[~np.isnan(values)])) if np.any(~np.isnan(values)) else math.nan


def binary_auc(is_pos: np.ndarray, score: np.ndarray) -> float:
    """``roc_auc_score(is_pos, score)``; NaN when only one outcome is present.

    The one place hqmed computes an AUROC (metrics, trainer, report); bootstrap replicates use a
    vectorised equivalent (see ``hqmed.eval.statistics``).
    """
    is_pos = np.asarray(is_pos, dtype=bool)
    if is_pos.all() or not is_pos.any():
        return math.nan
    return float(skm.roc_auc_score(is_pos, score))


def auroc(y_true: np.ndarray, y_score: np.ndarray,
          positive_class: int | None = None) -> dict[str, np.ndarray | float]:
    """One-vs-rest AUROC: ``{"per_class": (K,), "macro": float, "micro": float}``.

    For K = 2, ``macro`` is the binary AUROC of ``positive_class`` (default 1).
    """
    y_true, y_score = check_predictions(y_true, y_score)
    k = y_score.shape[1]
    onehot = y_true[:, None] == np.arange(k)[None, :]
    per_class = np.array([binary_auc(onehot[:, c], y_score[:, c]) for c in range(k)])
    macro = (per_class[positive_index(positive_class, k)] if k == 2 else _nanmean(per_class))
    return {"per_class": per_class, "macro": float(macro),
            "micro": binary_auc(onehot.ravel(), y_score.ravel())}


def positive_index(positive_class: int | None, k: int) -> int:
    """The column of the positive class of a two-class task (scikit-learn's pos_label: 1 if None)."""
    pos = 1 if positive_class is None else int(positive_class)
    if k != 2 or pos not in (0, 1):
        raise DataError(f"positive_class: expected 0 or 1 for a two-class task; got {positive_class} "
                        f"with {k} classes")
    return pos


def _roc_curve(is_pos: np.ndarray, score: np.ndarray) -> dict[str, list[float]]:
    """fpr, tpr at every distinct score (``sklearn.metrics.roc_curve(drop_intermediate=False)``)."""
    with warnings.catch_warnings():  # one class only: sklearn warns and returns NaN fpr or tpr
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, thresholds = skm.roc_curve(is_pos, score, drop_intermediate=False)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thresholds.tolist()}


def roc_curves(y_true: np.ndarray, y_score: np.ndarray,
               class_names: Sequence[str] | None = None) -> dict[str, dict[str, list[float]]]:
    """ROC curve per class (one-vs-rest) and ``"micro"``: ``{name: {fpr, tpr, thresholds}}``.

    Points are at every distinct score, highest first, starting at (0, 0) with threshold +inf;
    a class absent from ``y_true`` gets NaN tpr (and a class present everywhere NaN fpr).
    """
    y_true, y_score = check_predictions(y_true, y_score)
    k = y_score.shape[1]
    names = resolve_class_names(class_names, k)
    onehot = y_true[:, None] == np.arange(k)[None, :]
    curves = {names[c]: _roc_curve(onehot[:, c], y_score[:, c]) for c in range(k)}
    curves["micro"] = _roc_curve(onehot.ravel(), y_score.ravel())
    return curves


def jsonable(x: object) -> object:
    """NaN -> None, numpy scalars/arrays -> Python floats/ints/lists (recursively)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.integer, bool, np.bool_)):
        return x.item() if hasattr(x, "item") else x
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(float(x)) else float(x)
    return x


def classification_metrics(y_true: object, y_score: object,
                           class_names: Sequence[str] | None = None,
                           y_pred: object | None = None,
                           positive_class: int | None = None) -> dict:
    """Every classification metric of both papers, as a JSON-serialisable dict.

    Args:
        y_true: (N,) int labels in [0, K).
        y_score: (N, K) probabilities (rows sum to 1 within ``ROW_SUM_ATOL``).
        class_names: K names used as keys of the per-class dicts (default "0".."K-1").
        y_pred: (N,) predicted labels; default ``argmax(y_score, axis=1)``.
        positive_class: for K = 2, the index of the positive class (default 1, scikit-learn's
            ``pos_label``); ignored otherwise.

    Returns:
        ``{"n", "num_classes", "class_names", "accuracy", "precision_macro",
        "precision_weighted", "recall_macro", "recall_weighted", "f1_macro", "f1_weighted",
        "auroc_macro", "auroc_micro", "never_predicted": [class], "per_class":
        {"precision"|"recall"|"f1"|"auroc"|"accuracy"|"support": {name: value}},
        "confusion_matrix": K x K list, "binary": {...} | None}``; undefined values are ``None``.
        ``binary`` (K = 2): ``positive_class`` (name), ``positive_index``, ``auroc``,
        ``sensitivity``, ``specificity``, ``ppv``, ``npv``, ``prevalence``.
    """
    labels, scores = check_predictions(y_true, y_score)
    k = scores.shape[1]
    names = resolve_class_names(class_names, k)
    pred = (np.argmax(scores, axis=1) if y_pred is None
            else check_labels(y_pred, "y_pred", num_classes=k))
    if pred.shape != labels.shape:
        raise ShapeError(f"y_pred: expected shape {labels.shape}; got {pred.shape}")
    cm = confusion_matrix(labels, pred, k)
    prf = precision_recall_f1(labels, pred, k)
    pos = positive_index(positive_class, k) if k == 2 else None
    auc = auroc(labels, scores, positive_class=pos)
    out = {
        "n": int(labels.size),
        "num_classes": k,
        "class_names": names,
        "accuracy": float(np.trace(cm) / cm.sum()),
        **{f"{m}_{avg}": prf[f"{m}_{avg}"] for m in ("precision", "recall", "f1")
           for avg in ("macro", "weighted")},
        "auroc_macro": auc["macro"],
        "auroc_micro": auc["micro"],
        "never_predicted": [names[c] for c in range(k) if cm[c].sum() > 0 and cm[:, c].sum() == 0],
        "per_class": {
            "precision": dict(zip(names, prf["precision"])),
            "recall": dict(zip(names, prf["recall"])),
            "f1": dict(zip(names, prf["f1"])),
            "auroc": dict(zip(names, auc["per_class"])),
            "accuracy": dict(zip(names, prf["recall"])),  # per-class accuracy == recall
            "support": dict(zip(names, prf["support"])),
        },
        "confusion_matrix": cm,
        "binary": None if pos is None else _binary(cm, prf, pos, names, auc["macro"]),
    }
    return jsonable(out)


def _binary(cm: np.ndarray, prf: dict, pos: int, names: list[str], auc: float) -> dict:
    """Positive-class metrics: sensitivity = recall, PPV = precision of the positive class;
    specificity and NPV the same of the negative class (scikit-learn's conventions)."""
    neg = 1 - pos
    return {"positive_class": names[pos], "positive_index": pos, "auroc": auc,
            "sensitivity": prf["recall"][pos], "specificity": prf["recall"][neg],
            "ppv": prf["precision"][pos], "npv": prf["precision"][neg],
            "prevalence": float(cm[pos].sum() / cm.sum()),
            "tp": int(cm[pos, pos]), "fn": int(cm[pos, neg]), "fp": int(cm[neg, pos]),
            "tn": int(cm[neg, neg])}


def majority_baseline(y_train: object, y_true: object, num_classes: int,
                      class_names: Sequence[str] | None = None,
                      positive_class: int | None = None) -> dict:
    """Metrics of always predicting the most frequent class of ``y_train`` (ties: lowest index).

    The constant prediction is a one-hot score, so its AUROC is 0.5 (all scores tied).
    Returns :func:`classification_metrics` plus ``"majority_class"`` (its name).
    """
    y_train = check_labels(y_train, "y_train", num_classes)
    labels = check_labels(y_true, "y_true", num_classes)
    majority = int(np.argmax(np.bincount(y_train, minlength=num_classes)))
    scores = np.zeros((labels.size, num_classes))
    scores[:, majority] = 1.0
    out = classification_metrics(labels, scores, class_names, positive_class=positive_class)
    out["majority_class"] = resolve_class_names(class_names, num_classes)[majority]
    return out


# --------------------------------------------------------------------------- fold summaries
def scalar_metrics(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Flatten the scalar entries of a ``classification_metrics`` dict.

    Per-class values become ``"per_class.<metric>.<class>"``; ``n``, ``num_classes``,
    ``class_names``, supports and the confusion matrix are left out. ``None`` becomes NaN.
    """
    flat: dict[str, float] = {}
    skip = {"n", "num_classes", "class_names", "confusion_matrix", "support", "never_predicted",
            "positive_index", "tp", "fn", "fp", "tn"}
    for key, value in metrics.items():
        if key in skip or (key == "binary" and value is None):
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
    return jsonable(out)
