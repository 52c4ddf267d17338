"""Calibration: expected calibration error and reliability-curve data.

Bins are ``n_bins`` equal-width intervals of [0, 1], right-closed: (0, 1/n], (1/n, 2/n], ...,
with a confidence of exactly 0 in the first bin (the same binning as
``sklearn.calibration.calibration_curve(strategy="uniform")``).

- Top-label (default, ``class_index=None``): confidence = ``max_k y_score``, outcome = whether
  ``argmax`` is right. ECE = sum over bins of (n_b / N) * |accuracy_b - confidence_b|
  (Guo et al. 2017).
- One class (``class_index=k``): confidence = ``y_score[:, k]``, outcome = ``y_true == k``
  (for K = 2 and k = 1 this is sklearn's binary reliability curve).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hqmed.errors import DataError
from hqmed.eval.metrics import check_predictions, jsonable


def _confidence_outcome(y_true, y_score, class_index):
    y, scores = check_predictions(y_true, y_score)
    if class_index is None:
        return scores.max(axis=1), (scores.argmax(axis=1) == y).astype(np.float64)
    if not 0 <= int(class_index) < scores.shape[1]:
        raise DataError(f"class_index: expected a class in [0, {scores.shape[1] - 1}]; "
                        f"got {class_index}")
    return scores[:, class_index], (y == class_index).astype(np.float64)


def reliability_curve(y_true: Sequence[int], y_score: np.ndarray, n_bins: int = 10,
                      class_index: int | None = None) -> dict:
    """Per-bin data for a reliability diagram.

    Returns ``{"n_bins", "edges": (n_bins + 1,), "bins": [{"low", "high", "count",
    "confidence", "accuracy"}]}`` where confidence/accuracy are the bin's mean confidence and
    observed frequency (None for empty bins).
    """
    if int(n_bins) < 1:
        raise DataError(f"n_bins: expected >= 1; got {n_bins}")
    conf, outcome = _confidence_outcome(y_true, y_score, class_index)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], conf, side="left")  # right-closed bins
    count = np.bincount(ids, minlength=n_bins)
    sum_conf = np.bincount(ids, weights=conf, minlength=n_bins)
    sum_out = np.bincount(ids, weights=outcome, minlength=n_bins)
    bins = []
    for b in range(n_bins):
        nb = int(count[b])
        bins.append({"low": edges[b], "high": edges[b + 1], "count": nb,
                     "confidence": sum_conf[b] / nb if nb else None,
                     "accuracy": sum_out[b] / nb if nb else None})
    return jsonable({"n_bins": int(n_bins), "edges": edges, "bins": bins})


def expected_calibration_error(y_true: Sequence[int], y_score: np.ndarray, n_bins: int = 15,
                               class_index: int | None = None) -> float:
    """ECE in [0, 1]: count-weighted mean |accuracy - confidence| over equal-width bins."""
    curve = reliability_curve(y_true, y_score, n_bins=n_bins, class_index=class_index)
    total = sum(b["count"] for b in curve["bins"])
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"])
                     for b in curve["bins"] if b["count"]) / total)
