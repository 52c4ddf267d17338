"""Decision-curve analysis, per class one-vs-rest (LiteSpineNet paper, Table 6).

For class k the "patient" is positive when ``y_true == k`` and the model recommends treatment
when ``y_score[:, k] >= pt`` (the threshold probability). Over n samples::

    NB_model(pt)     = TP/n - FP/n * pt / (1 - pt)
    NB_treat_all(pt) = prevalence - (1 - prevalence) * pt / (1 - pt)
    NB_treat_none    = 0

(Vickers & Elkin 2006; the same formula and ``>=`` convention as the ``dcurves`` package.)
The best threshold is the ``pt`` with the largest model net benefit (the first one on ties);
the paper's Δ is ``max NB(model A) - max NB(model B)`` per class.

Thresholds default to 0.01, 0.02, ..., 0.99 (pt = 0 is excluded because every model then has
NB = prevalence; pt = 1 is undefined).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hqmed.errors import DataError
from hqmed.eval.metrics import check_predictions, jsonable, resolve_class_names

DEFAULT_THRESHOLDS = np.round(np.arange(1, 100) / 100.0, 2)


def _check_thresholds(thresholds: Sequence[float] | None) -> np.ndarray:
    pt = DEFAULT_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if pt.ndim != 1 or pt.size == 0 or np.any(pt < 0) or np.any(pt >= 1):
        raise DataError(f"thresholds: expected a non-empty 1-D list in [0, 1); got {pt!r}")
    return pt


def net_benefit(is_pos: np.ndarray, prob: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """(T,) net benefit of treating when ``prob >= pt`` for each threshold ``pt``.

    is_pos: (N,) bool outcome; prob: (N,) predicted probability of the outcome.
    """
    pt = _check_thresholds(thresholds)
    is_pos = np.asarray(is_pos, dtype=bool)
    prob = np.asarray(prob, dtype=np.float64)
    treat = prob[None, :] >= pt[:, None]  # (T, N)
    n = is_pos.size
    tp = np.sum(treat & is_pos[None, :], axis=1)
    fp = np.sum(treat & ~is_pos[None, :], axis=1)
    return tp / n - fp / n * pt / (1.0 - pt)


def decision_curve(y_true: Sequence[int], y_score: np.ndarray,
                   thresholds: Sequence[float] | None = None,
                   class_names: Sequence[str] | None = None) -> dict:
    """Decision curves per class.

    Returns ``{"thresholds": [...], "per_class": {class: {"prevalence", "net_benefit": [...],
    "treat_all": [...], "treat_none": [...], "best_threshold", "max_net_benefit",
    "max_net_benefit_over_treat_all"}}}`` where the last is the model's net benefit minus
    treat-all (or treat-none, whichever is larger) at the best threshold.
    """
    y, scores = check_predictions(y_true, y_score)
    pt = _check_thresholds(thresholds)
    names = resolve_class_names(class_names, scores.shape[1])
    per_class = {}
    for c, name in enumerate(names):
        is_pos = y == c
        prev = float(is_pos.mean())
        nb = net_benefit(is_pos, scores[:, c], pt)
        treat_all = prev - (1.0 - prev) * pt / (1.0 - pt)
        best = int(np.argmax(nb))
        per_class[name] = {
            "prevalence": prev,
            "net_benefit": nb,
            "treat_all": treat_all,
            "treat_none": np.zeros_like(pt),
            "best_threshold": float(pt[best]),
            "max_net_benefit": float(nb[best]),
            "max_net_benefit_over_treat_all": float(nb[best] - max(treat_all[best], 0.0)),
        }
    return jsonable({"thresholds": pt, "per_class": per_class})


def compare_decision_curves(y_true: Sequence[int], y_score_a: np.ndarray, y_score_b: np.ndarray,
                            thresholds: Sequence[float] | None = None,
                            class_names: Sequence[str] | None = None,
                            names: tuple[str, str] = ("a", "b")) -> dict:
    """The paper's Table 6 for two models on the same samples.

    Returns ``{"thresholds", "models": [name_a, name_b], "per_class": {class: {name_a:
    {"best_threshold", "max_net_benefit"}, name_b: {...}, "delta": max NB(a) - max NB(b),
    "delta_curve": NB_a(pt) - NB_b(pt)}}}``.
    """
    da = decision_curve(y_true, y_score_a, thresholds, class_names)
    db = decision_curve(y_true, y_score_b, thresholds, class_names)
    per_class = {}
    for cls, a in da["per_class"].items():
        b = db["per_class"][cls]
        per_class[cls] = {
            names[0]: {"best_threshold": a["best_threshold"], "max_net_benefit": a["max_net_benefit"]},
            names[1]: {"best_threshold": b["best_threshold"], "max_net_benefit": b["max_net_benefit"]},
            "delta": a["max_net_benefit"] - b["max_net_benefit"],
            "delta_curve": (np.asarray(a["net_benefit"]) - np.asarray(b["net_benefit"])).tolist(),
        }
    return jsonable({"thresholds": da["thresholds"], "models": list(names), "per_class": per_class})
