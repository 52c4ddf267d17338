"""External validation on unlabelled data (LiteSpineNet paper, Table 7).

Without labels only the predictions can be summarised: per predicted class, how many samples
were assigned to it, their mean confidence (the winning probability) and its standard
deviation (sample std, ddof=1; None with fewer than 2 samples, shown "-" as in the paper).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hqmed.eval.metrics import check_scores, jsonable, resolve_class_names


def external_summary(y_score: np.ndarray, class_names: Sequence[str] | None = None) -> dict:
    """Table-7 summary of (N, K) probabilities.

    Returns ``{"n", "per_class": [{"class", "count", "mean_confidence", "std_confidence"}]}``
    with one row per class in class order (count 0 -> None statistics).
    """
    scores = check_scores(y_score, "y_score")
    names = resolve_class_names(class_names, scores.shape[1])
    pred = scores.argmax(axis=1)
    conf = scores.max(axis=1)
    rows = []
    for c, name in enumerate(names):
        v = conf[pred == c]
        rows.append({
            "class": name,
            "count": int(v.size),
            "mean_confidence": float(v.mean()) if v.size else None,
            "std_confidence": float(v.std(ddof=1)) if v.size > 1 else None,
        })
    return jsonable({"n": int(scores.shape[0]), "per_class": rows})


def format_external_table(summary: dict) -> str:
    """Plain-text table: ``class  count  mean conf.  std`` ('-' where undefined)."""
    width = max([len("class")] + [len(r["class"]) for r in summary["per_class"]])
    lines = [f"{'class':<{width}}  {'count':>7}  {'mean conf.':>10}  {'std':>7}"]
    for r in summary["per_class"]:
        mean = "-" if r["mean_confidence"] is None else f"{r['mean_confidence']:.4f}"
        std = "-" if r["std_confidence"] is None else f"{r['std_confidence']:.4f}"
        lines.append(f"{r['class']:<{width}}  {r['count']:>7d}  {mean:>10}  {std:>7}")
    lines.append(f"{'total':<{width}}  {summary['n']:>7d}")
    return "\n".join(lines)
