"""How the report writes numbers and names: one place, so every table and sentence agrees.

- 3 decimals by default (``fmt``), true minus signs (U+2212) everywhere, never an ASCII hyphen;
- p-values as "< 0.001" or 3 significant digits (``fmt_p``);
- differences with an explicit sign (``fmt_signed``), always B − A in the report;
- intervals as "[lo, hi]" clipped to the metric's range (``fmt_interval``, a no-break space after
  the comma), never "x ± h";
- metric keys ("precision_weighted") as human names ("Precision (weighted)", ``metric_name``);
- which data a number comes from ("test split, n = 100", ``split_label``).
"""

from __future__ import annotations

import math
from typing import Any

MINUS = "\u2212"
NDASH = "\u2013"  # shown for a missing value

# metric key -> human name; the keys are the ones hqmed.eval.metrics writes
METRIC_NAMES = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "precision_weighted": "Precision (weighted)",
    "recall_weighted": "Recall (weighted)",
    "f1_weighted": "F1 (weighted)",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "f1_macro": "F1 (macro)",
    "auroc_macro": "AUROC (macro)",
    "auroc_micro": "AUROC (micro)",
    "auroc": "AUROC",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "per_class_accuracy": "Per-class accuracy",
    "loss": "Loss",
}

SPLIT_NAMES = {
    "test": "test split",
    "val": "pooled out-of-fold validation predictions",
    "oof": "pooled out-of-fold validation predictions",
    "folds": "validation folds",
}


def metric_name(key: str) -> str:
    """Human name of a metric key: "auroc_macro" -> "AUROC (macro)"; unknown keys are de-underscored."""
    if key in METRIC_NAMES:
        return METRIC_NAMES[key]
    head, _, tail = key.rpartition("_")
    if head in METRIC_NAMES and tail in ("macro", "micro", "weighted"):
        return f"{METRIC_NAMES[head]} ({tail})"
    return key.replace("_", " ").capitalize()


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return None
    return xf if math.isfinite(xf) else None


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def fmt(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals and a true minus sign; "–" for missing or non-finite.

    Magnitudes >= 1e6 use 3 significant digits in scientific notation; values that round to zero
    show as zero without a sign. Non-numbers are returned as text.
    """
    if x is None:
        return NDASH
    xf = _finite(x)
    if xf is None:
        try:
            float(x)
        except (TypeError, ValueError):
            return str(x)
        return NDASH
    if abs(xf) >= 1e6:
        return _minus(f"{xf:.2e}")
    out = f"{xf:.{digits}f}"
    if float(out) == 0:  # "-0.000" is zero
        out = out.lstrip("-")
    return _minus(out)


def fmt_signed(x: Any, digits: int = 3) -> str:
    """A difference with its sign: "+0.120", "−0.046", "0.000"."""
    xf = _finite(x)
    if xf is None:
        return NDASH
    out = fmt(xf, digits)
    return out if out.startswith(MINUS) or float(f"{xf:.{digits}f}") == 0 else "+" + out


def fmt_p(p: Any) -> str:
    """A p-value: "< 0.001", else 3 significant digits ("0.0184", "0.500", "1.00")."""
    pf = _finite(p)
    if pf is None:
        return NDASH
    if pf < 0.001:
        return "< 0.001"
    return f"{min(pf, 1.0):#.3g}"


def p_is(p: Any) -> str:
    """"p = 0.0184" or "p < 0.001" for running text."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def fmt_pm(mean: Any, std: Any, digits: int = 3) -> str:
    """A fold summary "mean ± sd"; the non-breaking space keeps "± sd" together when a cell wraps."""
    if _finite(mean) is None:
        return NDASH
    return f"{fmt(mean, digits)} ±\u00a0{fmt(std, digits)}"


def bounded(lo: Any, hi: Any, bounds: tuple[float, float] = (0.0, 1.0)
            ) -> tuple[float | None, float | None]:
    """(lo, hi) clipped to ``bounds`` (the metric's range); None stays None."""
    lo_f, hi_f = _finite(lo), _finite(hi)
    b_lo, b_hi = bounds
    return (None if lo_f is None else min(max(lo_f, b_lo), b_hi),
            None if hi_f is None else min(max(hi_f, b_lo), b_hi))


def fmt_interval(lo: Any, hi: Any, bounds: tuple[float, float] = (0.0, 1.0), digits: int = 3) -> str:
    """An interval "[lo, hi]" clipped to ``bounds``; "–" when either end is missing."""
    lo_b, hi_b = bounded(lo, hi, bounds)
    if lo_b is None or hi_b is None:
        return NDASH
    return f"[{fmt(lo_b, digits)},\u00a0{fmt(hi_b, digits)}]"  # no line break inside


def split_label(split: str, n: int | None = None, folds: int | None = None) -> str:
    """Which data a number comes from: "test split, n = 100" / "... (3 folds), n = 300"."""
    name = SPLIT_NAMES.get(split, split)
    if folds and split in ("val", "oof", "folds"):
        name += f" ({folds} folds)"
    return f"{name}, n = {n:,}" if n is not None else name
