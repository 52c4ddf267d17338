"""Every pairwise statistic of the LiteSpineNet paper for two finished runs on the same data.

A run here is anything with ``dataset``, ``model``, ``path``, ``class_names``, ``metrics`` (the
run's metrics.json) and ``indexed_scores(split) -> (index, y_true, y_score) | None``, such as
:class:`hqmed.report.results.RunResult`. Samples are paired by their index in the experiment's data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hqmed.errors import HqmedError
from hqmed.eval import dca, statistics

__all__ = ["FOLD_TTEST_METRICS", "compare_runs", "paired_scores"]

# Overall metrics compared fold by fold with the paired t-test.
FOLD_TTEST_METRICS = ["accuracy", "precision_weighted", "recall_weighted", "f1_weighted",
                      "f1_macro", "auroc_macro", "auroc_micro"]


class ScoredRun(Protocol):
    dataset: str
    model: str
    path: Path
    metrics: dict

    @property
    def class_names(self) -> list[str]: ...

    def indexed_scores(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None: ...


def paired_scores(a: ScoredRun, b: ScoredRun, split: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(y_true, score_a, score_b) on the ``split`` samples of both runs, paired by index.

    None when either run has no ``split``; HqmedError when the runs scored different samples or
    disagree on their labels (not the same data and splits).
    """
    sa, sb = a.indexed_scores(split), b.indexed_scores(split)
    if sa is None or sb is None:
        return None
    (ia, ya, score_a), (ib, yb, score_b) = sa, sb
    if not np.array_equal(ia, ib):
        differ = len(set(ia.tolist()) ^ set(ib.tolist()))
        raise HqmedError(f"runs {a.path} and {b.path}: expected the same {split} samples for a "
                         f"paired comparison; got {len(ia)} vs {len(ib)} ({differ} differ)")
    if not np.array_equal(ya, yb):
        raise HqmedError(f"runs {a.path} and {b.path}: expected the same labels on the paired "
                         f"{split} samples; got different labels")
    return ya, score_a, score_b


def positive_index(run: ScoredRun) -> int:
    """The positive class of a two-class run (its metrics' ``binary`` block; default 1)."""
    binary = (run.metrics.get("oof") or {}).get("binary") or {}
    return int(binary.get("positive_index", 1))


def compare_runs(a: ScoredRun, b: ScoredRun, alpha: float = 0.01, ci_level: float = 0.99,
                 n_boot: int = 1000, seed: int = 0,
                 dca_thresholds: list[float] | None = None) -> dict:
    """Runs A (reference) and B: fold t-tests (B − A), McNemar, overall intervals (plain
    bootstrap + Wilson, ``overall_ci``), class-wise stratified bootstrap CIs, decision curves.

    The paired split is "test" (the fold ensemble) when both runs have one, else "val"
    (out-of-fold). The t-test over folds needs two CV runs with the same number of folds.
    """
    split = ("test" if a.indexed_scores("test") is not None and b.indexed_scores("test") is not None
             else "val")
    paired = paired_scores(a, b, split)
    if paired is None:
        raise HqmedError(f"runs {a.path} and {b.path}: expected predictions on the '{split}' split; "
                         "got none")
    y, sa, sb = paired
    names = a.class_names
    doc: dict[str, Any] = {"dataset": a.dataset, "a": a.model, "b": b.model, "alpha": alpha,
                           "split": split, "ttest": None}
    fa, fb = a.metrics.get("per_fold") or [], b.metrics.get("per_fold") or []
    if len(fa) >= 2 and len(fa) == len(fb):
        doc["ttest"] = statistics.compare_fold_metrics(fa, fb, alpha=alpha,
                                                       metrics=FOLD_TTEST_METRICS)
    doc["mcnemar"] = statistics.mcnemar(y, sa.argmax(1), sb.argmax(1)).to_dict() | {"split": split}
    doc["ci"] = {"split": split, "level": ci_level, **{
        side: statistics.bootstrap_classwise_ci(y, s, level=ci_level, n_boot=n_boot, seed=seed,
                                                class_names=names)
        for side, s in (("a", sa), ("b", sb))}}
    pos = positive_index(a) if len(names) == 2 else None
    doc["overall_ci"] = {"split": split, "level": ci_level, **{
        side: statistics.bootstrap_overall_ci(y, s, level=ci_level, n_boot=n_boot, seed=seed,
                                              positive_class=pos)
        for side, s in (("a", sa), ("b", sb))}}
    doc["dca"] = {"split": split,
                  "a": dca.decision_curve(y, sa, dca_thresholds, class_names=names),
                  "b": dca.decision_curve(y, sb, dca_thresholds, class_names=names),
                  "compare": dca.compare_decision_curves(y, sb, sa, dca_thresholds,
                                                         class_names=names, names=("b", "a"))}
    return doc
