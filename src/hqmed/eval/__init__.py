"""hqmed.eval: metrics, statistics, decision curves, calibration, external summaries and cost.

Argument names follow scikit-learn: ``y_true`` (N,) int labels, ``y_score`` (N, K)
probabilities, ``y_pred`` (N,) int labels. See docs/eval.md for every convention.
"""

from hqmed.eval.calibration import expected_calibration_error, reliability_curve
from hqmed.eval.compare import compare_runs, paired_scores
from hqmed.eval.dca import compare_decision_curves, decision_curve, net_benefit
from hqmed.eval.external import external_summary, format_external_table
from hqmed.eval.metrics import (
    auroc,
    classification_metrics,
    confusion_matrix,
    majority_baseline,
    roc_curves,
    scalar_metrics,
    summarize_folds,
)
from hqmed.eval.statistics import (
    bootstrap_classwise_ci,
    bootstrap_overall_ci,
    compare_fold_metrics,
    mcnemar,
    paired_ttest,
    wilson_interval,
)

__all__ = [
    "auroc", "bootstrap_classwise_ci", "bootstrap_overall_ci", "classification_metrics", "compare_decision_curves",
    "compare_fold_metrics", "compare_runs", "confusion_matrix", "decision_curve", "expected_calibration_error",
    "external_summary", "format_external_table", "majority_baseline", "mcnemar", "net_benefit", "paired_scores", "paired_ttest",
    "reliability_curve", "roc_curves", "scalar_metrics", "summarize_folds", "wilson_interval",
]
