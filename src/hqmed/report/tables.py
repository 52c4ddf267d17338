"""Tables of the report, mirroring the two papers.

LiteSpineNet paper: Table 3 (overall metrics), Table 4 (paired t-tests over folds), Table 5 (99 %
class-wise confidence intervals), Table 6 (decision-curve analysis), Table 7 (external validation),
Table 8 (computational cost). LCNet paper: Tables 1/2 (macro and micro AUC per width, classical vs
hybrid, Δ), Tables 3/4 (out-of-fold accuracy per width with Δ) and per-class accuracy.

Each builder returns a :class:`Table` (plain data: caption, column names, rows of cells); ``to_html``
renders one. Builders read the run results (:mod:`hqmed.report.results`) and the study's comparison,
cost and external JSON documents, whose formats are given in :mod:`hqmed.study.runner`.

Conventions (see :mod:`hqmed.report.format`): every difference is B − A, named; intervals are
"[lo, hi]" clipped to the metric's range; class names are written out; a column whose value is the
same in every row (e.g. a single dataset) is left out and named in the caption instead.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hqmed.report.format import (
    MINUS,
    NDASH,
    fmt,
    fmt_interval,
    fmt_p,
    fmt_pm,
    fmt_signed,
    metric_name,
    p_is,
    split_label,
)

# The overall metrics in the order of the LiteSpineNet paper's Table 3 (its precision, recall and F1
# are weighted averages: its recall equals its accuracy), plus macro F1 and AUROC.
OVERALL_METRICS = ["accuracy", "precision_weighted", "recall_weighted", "f1_weighted", "f1_macro",
                   "auroc_macro", "auroc_micro"]

# A class-wise interval from fewer positives than this is marked unreliable.
MIN_POSITIVES = 10
UNRELIABLE = "\u2020"  # dagger

# Thresholds of the net-benefit table (the decision curves themselves use the full grid).
DCA_THRESHOLDS = (0.05, 0.10, 0.20, 0.30, 0.40, 0.50)


@dataclass
class Cell:
    """One table cell: its text and optional CSS classes ("pos", "neg", "best", "num", "muted")."""

    text: str
    classes: str = "num"


@dataclass
class Table:
    """Plain table data. The caption is rendered above the table, outside its scroll container."""

    id: str
    caption: str
    columns: list[str]
    rows: list[list[Cell | str]] = field(default_factory=list)
    note: str = ""

    def __bool__(self) -> bool:  # an empty table renders as a "not in this study" note
        return bool(self.rows)

    def drop_constant(self, column: str, what: str) -> Table:
        """Remove ``column`` when every row has the same value, naming it in the caption."""
        if column not in self.columns or not self.rows:
            return self
        j = self.columns.index(column)
        values = {_text(row[j]) for row in self.rows}
        if len(values) == 1:
            self.columns.pop(j)
            for row in self.rows:
                row.pop(j)
            self.caption = f"{what}: {values.pop()}. {self.caption}"
        return self


def _text(cell: Cell | str) -> str:
    return cell.text if isinstance(cell, Cell) else str(cell)


# ------------------------------------------------------------------------------------------------
# Reading metric dictionaries
# ------------------------------------------------------------------------------------------------

def metric(d: Mapping[str, Any] | None, name: str) -> Any:
    """Look up ``name`` (e.g. "precision_weighted") in a metrics dict, flat or nested.

    Accepts ``d["precision_weighted"]``, ``d["precision"]["weighted"]`` and, for AUROC,
    ``d["auc_macro"]`` / ``d["roc_auc"]["macro"]`` spellings. Returns None when absent.
    """
    if not d:
        return None
    if name in d:
        return d[name]
    head, _, tail = name.rpartition("_")
    aliases = {"auroc": ("auroc", "auc", "roc_auc"), "precision": ("precision",),
               "recall": ("recall",), "f1": ("f1",)}
    for alias in aliases.get(head, (head,)):
        if f"{alias}_{tail}" in d:
            return d[f"{alias}_{tail}"]
        sub = d.get(alias)
        if isinstance(sub, Mapping) and tail in sub:
            return sub[tail]
    return None


def delta_cell(d: Any, digits: int = 3) -> Cell:
    """A B − A cell: positive (in favour of B) in bold green, negative in red."""
    try:
        d = float(d)
    except (TypeError, ValueError):
        return Cell(NDASH)
    if not math.isfinite(d):
        return Cell(NDASH)
    text = fmt_signed(d, digits)
    cls = "num pos" if d > 0 and text != fmt(0, digits) else "num neg" if d < 0 and \
        text != fmt(0, digits) else "num"
    return Cell(text, cls)


def b_minus_a(t: Mapping[str, Any]) -> dict[str, float | None]:
    """A paired t-test document (either direction) as B − A: diff, its CI (lo, hi) and t.

    hqmed.eval.statistics writes B − A (``direction: "B - A"``); documents written before that
    held A − B, so without ``direction`` the sign is read from the two means.
    """
    ma, mb, md = t.get("mean_a"), t.get("mean_b"), t.get("mean_diff")
    if ma is None or mb is None:
        return {"diff": None, "lo": None, "hi": None, "t": None}
    diff = float(mb) - float(ma)
    flip = t.get("direction") != "B - A" and md is not None and abs(float(md) + diff) < abs(float(md) - diff)  # md is A − B
    lo, hi, tt = t.get("ci_low"), t.get("ci_high"), t.get("t")
    if flip:
        lo, hi = (None if hi is None else -float(hi)), (None if lo is None else -float(lo))
        tt = None if tt is None else -float(tt)
    return {"diff": diff, "lo": lo, "hi": hi, "t": tt}


def comparison_title(c: Mapping[str, Any]) -> str:
    """"dataset: B vs A" with the roles named, e.g. "phantoms: HQ-LiteSpineNet (B) vs LiteSpineNet (A)"."""
    return f"{c['dataset']}: {c['label_b']} (B) vs {c['label_a']} (A)"


def _n_of(c: Mapping[str, Any]) -> int | None:
    mc = c.get("mcnemar") or {}
    return mc.get("n")


# ------------------------------------------------------------------------------------------------
# LiteSpineNet paper, Tables 3 to 8
# ------------------------------------------------------------------------------------------------

def overall_metrics(runs: Sequence, references: Mapping[str, Mapping[str, Any]] | None = None
                    ) -> Table:
    """Table 3: per run, the fold mean ± sd, the pooled out-of-fold metrics and the test metrics;
    per dataset, the majority-class baseline and the published reference (when configured)."""
    t = Table("tab-overall", "Overall metrics (mirrors LiteSpineNet Table 3). 'Folds' is the mean ± "
              "sample sd over the validation folds, 'Out-of-fold' pools every fold's validation "
              "predictions, 'Test' is the held-out test split (holdout, or the official test split "
              "scored by the fold ensemble); n is the number of images each row is computed on.",
              ["Dataset", "Model", "Data", "n"] + [metric_name(k) for k in OVERALL_METRICS])
    for r in runs:
        m = r.metrics
        summary = m.get("summary") or {}
        blocks = []
        if summary:
            k = len(m.get("per_fold") or [])
            blocks.append((f"Folds ({k})" if k else "Folds", "–",
                           lambda key, s=summary: _summary_cell(s, key)))
        if m.get("oof"):
            blocks.append(("Out-of-fold" if r.protocol == "cv" else "Validation", _n(r, "val"),
                           lambda key, d=m["oof"]: fmt(metric(d, key))))
        if m.get("test"):
            blocks.append(("Test", _n(r, "test"), lambda key, d=m["test"]: fmt(metric(d, key))))
        for name, n, get in blocks:
            t.rows.append([Cell(r.dataset, ""), Cell(r.label, ""), Cell(name, ""), Cell(str(n))]
                          + [Cell(get(k)) for k in OVERALL_METRICS])
    for ds in dict.fromkeys(r.dataset for r in runs):
        t.rows += _baseline_rows(ds, next(r for r in runs if r.dataset == ds),
                                 (references or {}).get(ds))
    return t.drop_constant("Dataset", "Dataset")


def _baseline_rows(ds: str, r, ref: Mapping[str, Any] | None) -> list[list[Cell]]:
    """The majority-class rows (from the run's metrics.json) and the published reference row."""
    rows = []
    for key, name in (("oof", "Out-of-fold" if r.protocol == "cv" else "Validation"),
                      ("test", "Test")):
        base = (r.metrics.get("baselines") or {}).get(key)
        if base:
            m = base["metrics"]
            label = f"Majority class (always {' / '.join(m.get('majority_class') or ['?'])})"
            rows.append([Cell(ds, ""), Cell(label, "muted"), Cell(name, ""), Cell(f"{m['n']:,}")]
                        + [Cell(fmt(metric(m, k)), "muted") for k in OVERALL_METRICS])
    if ref:
        vals = ref.get("metrics") or {}
        rows.append([Cell(ds, ""), Cell(f"{ref['name']} (published: {ref['source']})", "muted"),
                     Cell(str(ref.get("split", "test")).capitalize(), ""), Cell(NDASH)]
                    + [Cell(fmt(vals.get(k)), "muted") for k in OVERALL_METRICS])
    return rows


def positive_class_metrics(runs: Sequence) -> Table:
    """Two-class runs: the positive class's sensitivity, specificity, PPV, NPV and AUROC, each
    with its plain-bootstrap interval (metrics.json ``intervals``), accuracy with Wilson too."""
    t = Table("tab-positive-class", "Positive-class metrics of two-class runs at the argmax "
              "threshold, with percentile-bootstrap intervals (plain resampling, not stratified) "
              "and the Wilson interval for accuracy.",
              ["Dataset", "Model", "Data", "n", "Positive class", "Sensitivity", "Specificity",
               "PPV", "NPV", "AUROC", "Accuracy", "Accuracy (Wilson)"])
    for r in runs:
        for key, name in (("test", "Test"), ("oof", "Out-of-fold")):
            doc = r.metrics.get(key) or {}
            b = doc.get("binary")
            if not b:
                continue
            iv = ((r.metrics.get("intervals") or {}).get(key) or {}).get("metrics") or {}

            def cell(metric_key: str, value: Any, iv: Mapping = iv) -> Cell:
                i = iv.get(metric_key) or {}
                return Cell(f"{fmt(value)} {fmt_interval(i.get('low'), i.get('high'))}")

            acc = iv.get("accuracy") or {}
            wilson = acc.get("wilson") or {}
            t.rows.append([Cell(r.dataset, ""), Cell(r.label, ""), Cell(name, ""),
                           Cell(f"{doc['n']:,}"), Cell(b["positive_class"], "")]
                          + [cell(k, b.get(k)) for k in ("sensitivity", "specificity", "ppv", "npv",
                                                         "auroc")]
                          + [cell("accuracy", doc.get("accuracy")),
                             Cell(fmt_interval(wilson.get("low"), wilson.get("high")))])
    if t.rows:
        level = next((((r.metrics.get("intervals") or {}).get("oof") or {}).get("level")
                      for r in runs if r.metrics.get("intervals")), None)
        if level:
            t.note = f"Intervals at {level:.0%}."
    return t


def _n(r, split: str) -> str:
    s = r.scores(split)
    return NDASH if s is None else f"{len(s[0]):,}"


def _summary_cell(summary: Mapping[str, Any], key: str) -> str:
    s = metric(summary, key)
    if isinstance(s, Mapping):
        return fmt_pm(s.get("mean"), s.get("std"))
    return fmt(s)


def ttests(comparisons: Sequence[Mapping[str, Any]]) -> Table:
    """Table 4: paired two-tailed t-test over folds, per metric, for every declared comparison."""
    alpha = next((c.get("alpha") for c in comparisons if c.get("alpha")), 0.01)
    t = Table("tab-ttest", "Paired two-tailed t-tests over the validation folds (mirrors "
              f"LiteSpineNet Table 4). B − A is the mean over folds of B's metric minus A's, with "
              f"its {1 - alpha:.0%} confidence interval (clipped to [−1, 1]); t has the same sign. "
              f"Significant when |t| exceeds the critical t at α = {alpha:g}. With few folds (df = "
              "folds − 1) the critical t is large, so only very large differences can be detected.",
              ["Comparison", "Metric", "Folds (df)", "Mean A", "Mean B", "B − A",
               f"{1 - alpha:.0%} CI of B − A", "t", "Critical t", "p", "Significant"])
    untestable = False
    for c in comparisons:
        for name, r in (c.get("ttest") or {}).items():
            head = [Cell(comparison_title(c), ""), Cell(metric_name(name), "")]
            if "error" in r:
                untestable = True
                t.rows.append(head + [Cell(f"not testable: {r['error']}", "muted")]
                              + [Cell(NDASH)] * 8)
                continue
            d = b_minus_a(r)
            sig = r.get("significant")
            t.rows.append(head + [Cell(f"{r.get('n', NDASH)} ({r.get('df', NDASH)})"),
                                  Cell(fmt(r.get("mean_a"))), Cell(fmt(r.get("mean_b"))),
                                  delta_cell(d["diff"]),
                                  Cell(fmt_interval(d["lo"], d["hi"], (-1.0, 1.0))),
                                  Cell(fmt(d["t"], 2)), Cell(fmt(r.get("t_critical"), 2)),
                                  Cell(fmt_p(r.get("p"))),
                                  Cell("yes" if sig else "no", "best" if sig else "muted")])
    if untestable:
        t.note = ("Rows marked 'not testable' have a metric that is undefined in some fold (e.g. a "
                  "class absent from a fold), or fewer than two folds.")
    # dropped last is named first: "Comparison: ... Folds (df): ... Critical t: ..."
    return (t.drop_constant("Critical t", "Critical t").drop_constant("Folds (df)", "Folds (df)")
            .drop_constant("Comparison", "Comparison"))


def mcnemar(comparisons: Sequence[Mapping[str, Any]]) -> Table:
    """McNemar's test on paired predictions (same samples, two models)."""
    t = Table("tab-mcnemar", "McNemar's test on paired predictions of the same images: it counts "
              "the images only A classifies correctly and those only B does. A small p means the two "
              "models err on different images more often than chance allows; the direction is "
              "whichever of the two counts is larger.",
              ["Comparison", "Data", "Both right", "Only A right", "Only B right", "Both wrong",
               "Statistic", "p"])
    for c in comparisons:
        r = c.get("mcnemar")
        if not r:
            continue
        t.rows.append([Cell(comparison_title(c), ""), Cell(split_label(r.get("split", "?"),
                                                                       r.get("n")), ""),
                       Cell(str(r.get("both_correct", NDASH))), Cell(str(r.get("b", NDASH))),
                       Cell(str(r.get("c", NDASH))), Cell(str(r.get("both_wrong", NDASH))),
                       Cell(fmt(r.get("statistic"), 2)), Cell(fmt_p(r.get("p")))])
    return t.drop_constant("Comparison", "Comparison")


def overall_ci(c: Mapping[str, Any], table_id: str = "tab-overall-ci") -> Table:
    """Overall metrics of A and B on the comparison's paired split with their intervals.

    The intervals are hqmed.eval.statistics.bootstrap_overall_ci's plain percentile bootstrap
    (not stratified), with the Wilson score interval beside accuracy.
    """
    oc = c.get("overall_ci") or {}
    level = oc.get("level")
    t = Table(table_id, f"{comparison_title(c)}. Overall metrics with {fmt(level, 2) if level else ''} "
              f"confidence intervals [lo, hi] on the {split_label(oc.get('split', '?'), _n_of(c))}: "
              "percentile bootstrap over the images (not stratified), and for accuracy also the "
              "Wilson score interval. AUROC is the macro one-vs-rest average (binary: of the "
              "positive class).", ["Metric", "A", "A Wilson", "B", "B Wilson"])
    ma = (oc.get("a") or {}).get("metrics") or {}
    mb = (oc.get("b") or {}).get("metrics") or {}
    for key in ma:
        ea, eb = ma.get(key) or {}, mb.get(key) or {}
        t.rows.append([Cell(metric_name(key), ""), _interval_cell(ea), _wilson_cell(ea),
                       _interval_cell(eb), _wilson_cell(eb)])
    if not any(_text(r[2]) != NDASH for r in t.rows):  # no Wilson column without Wilson intervals
        t.columns = [col for col in t.columns if "Wilson" not in col]
        for r in t.rows:
            del r[4], r[2]
    return t


def _interval_cell(e: Mapping[str, Any]) -> Cell:
    if not e or e.get("estimate") is None:
        return Cell(NDASH)
    return Cell(f"{fmt(e['estimate'])}<br><small>{fmt_interval(e.get('low'), e.get('high'))}</small>")


def _wilson_cell(e: Mapping[str, Any]) -> Cell:
    w = (e or {}).get("wilson")
    return Cell(fmt_interval(w.get("low"), w.get("high"))) if w else Cell(NDASH)


def classwise_ci(c: Mapping[str, Any], class_names: Sequence[str],
                 positives: Mapping[str, int] | None = None, table_id: str = "tab-ci") -> Table:
    """Table 5 for one comparison: per class, precision, recall and F1 of A and B with intervals.

    ``positives``: class name -> number of images of that class in the split; intervals from fewer
    than :data:`MIN_POSITIVES` are marked unreliable (†).
    """
    ci = c.get("ci") or {}
    level = ci.get("level")
    method = (ci.get("a") or {}).get("method") or "stratified percentile bootstrap"
    t = Table(table_id, f"{comparison_title(c)}. Class-wise precision, recall and F1 with "
              f"{fmt(level, 2) if level else ''} confidence intervals [lo, hi] by {method} "
              f"(mirrors LiteSpineNet Table 5), on the {split_label(ci.get('split', '?'), _n_of(c))}"
              ". A class never predicted has precision 0 (scikit-learn's convention); a cell with "
              "no interval is undefined (the class is neither present nor predicted).",
              ["Class (positives)"] + [f"{side} {name}" for side in ("A", "B")
                                       for name in ("precision", "recall", "F1")])
    if not ci:
        return t
    unreliable = False
    for name in class_names:
        pos = None if positives is None else positives.get(name)
        flag = pos is not None and pos < MIN_POSITIVES
        unreliable |= flag
        row: list[Cell | str] = [Cell(f"{name} ({NDASH if pos is None else pos})", "")]
        for side in ("a", "b"):
            per = (ci.get(side) or {}).get("per_class") or {}
            for key in ("precision", "recall", "f1"):
                row.append(_ci_cell((per.get(key) or {}).get(name), flag))
        t.rows.append(row)
    if unreliable:
        t.note = (f"{UNRELIABLE} fewer than {MIN_POSITIVES} images of the class in this split: the "
                  "interval is unreliable (a bootstrap of so few positives can collapse to a single "
                  "value).")
    return t


def _ci_cell(e: Mapping[str, Any] | None, unreliable: bool) -> Cell:
    if not e or e.get("estimate") is None:
        return Cell(NDASH)
    mark = UNRELIABLE if unreliable else ""
    return Cell(f"{fmt(e.get('estimate'))}{mark}<br><small>"
                f"{fmt_interval(e.get('low'), e.get('high'))}</small>",
                "num muted" if unreliable else "num")


def net_benefit_at(thresholds: Sequence[float], curve: Sequence[float], t: float) -> float | None:
    """The net benefit of a decision curve at threshold ``t`` (linear between grid points)."""
    x = np.asarray(thresholds, dtype=float)
    y = np.asarray(curve, dtype=float)
    if x.size == 0 or t < x.min() - 1e-9 or t > x.max() + 1e-9:
        return None
    return float(np.interp(t, x, y))


def mean_delta(thresholds: Sequence[float], nb_b: Sequence[float], nb_a: Sequence[float],
               lo: float, hi: float) -> float | None:
    """Mean of NB(B) − NB(A) over the decision-curve grid points in [lo, hi]."""
    x = np.asarray(thresholds, dtype=float)
    keep = (x >= lo - 1e-9) & (x <= hi + 1e-9)
    if not keep.any():
        return None
    return float(np.mean(np.asarray(nb_b, dtype=float)[keep] - np.asarray(nb_a, dtype=float)[keep]))


def dca(c: Mapping[str, Any], at: Sequence[float] = DCA_THRESHOLDS, table_id: str = "tab-dca") -> Table:
    """Table 6 for one comparison: net benefit of B − A per class at the thresholds ``at``.

    Each cell is NB(B) − NB(A) with both net benefits below it; the last column is the mean of that
    difference over every threshold of the decision curve in [min(at), max(at)].
    """
    d = c.get("dca") or {}
    lo, hi = min(at), max(at)
    t = Table(table_id, f"{comparison_title(c)}. Net benefit NB = TP/n − FP/n · pt/(1 − pt) per "
              f"class (one-vs-rest) on the {split_label(d.get('split', '?'), _n_of(c))}, at "
              "clinically meaningful threshold probabilities pt: each cell is NB(B) − NB(A), with "
              "NB(B) / NB(A) below it; positive (in favour of B) in bold green. 'Mean B − A' averages "
              f"the difference over every threshold from {fmt(lo, 2)} to {fmt(hi, 2)}. Compare with "
              "treat-all and treat-none in the figure: a model only helps where it beats both.",
              ["Class"] + [f"pt = {fmt(x, 2)}" for x in at] + [f"Mean B − A, {fmt(lo, 2)}–{fmt(hi, 2)}"])
    if not d.get("a") or not d.get("b"):
        return t
    ta, tb = d["a"]["thresholds"], d["b"]["thresholds"]
    for name, ca in d["a"]["per_class"].items():
        cb = d["b"]["per_class"].get(name) or {}
        row: list[Cell | str] = [Cell(name, "")]
        for x in at:
            nb_a = net_benefit_at(ta, ca["net_benefit"], x)
            nb_b = net_benefit_at(tb, cb.get("net_benefit", []), x)
            if nb_a is None or nb_b is None:
                row.append(Cell(NDASH))
                continue
            cell = delta_cell(nb_b - nb_a)
            cell.text += f"<br><small>{fmt(nb_b)} / {fmt(nb_a)}</small>"
            row.append(cell)
        same_grid = np.allclose(ta, tb)
        row.append(delta_cell(mean_delta(ta, cb.get("net_benefit", []), ca["net_benefit"], lo, hi)
                              if same_grid else None))
        t.rows.append(row)
    return t


def external(ext: Sequence[Mapping[str, Any]]) -> Table:
    """Table 7: per predicted class, mean confidence (count) and its sd, per model and dataset."""
    cols: list[tuple[str, str]] = [(e["external"], e["label"]) for e in ext]
    classes: list[str] = []
    for e in ext:
        for row in e.get("summary", []):
            if row["class"] not in classes:
                classes.append(row["class"])
    t = Table("tab-external", "External validation on unlabelled data (mirrors LiteSpineNet Table 7): "
              "for each class, the mean confidence of the images predicted as that class, the number "
              "of such images in parentheses, and the sd of the confidence. '–' = never predicted.",
              [])
    t.columns = ["Predicted class"]
    for d, m in cols:
        t.columns += [f"{d} · {m}<br>mean confidence (n)", "sd"]
    for cname in classes:
        row: list[Cell | str] = [Cell(cname, "")]
        for e in ext:
            r = next((x for x in e.get("summary", []) if x["class"] == cname), None)
            if not r or not r.get("count"):
                row += [Cell(NDASH), Cell(NDASH)]
            else:
                row += [Cell(f"{fmt(r.get('mean_confidence'))} ({r['count']})"),
                        Cell(fmt(r.get("std_confidence")))]
        t.rows.append(row)
    sources = {e["external"]: f"{e.get('n', '?')} images from {e.get('source', '?')}" for e in ext}
    t.note = "; ".join(f"{k}: {v}" for k, v in sources.items())
    return t


COST_ROWS = [
    ("input_shape", "Input (channels × height × width)", None),
    ("trainable_params", "Trainable parameters", 0),
    ("flops", "FLOPs per image (forward: layers counted, circuit estimated)", 0),
    ("latency_ms", "Inference latency, batch 1 (ms, median)", 3),
    ("train_step_ms", "Training step (ms, median, at batch {train_batch_size})", 1),
    ("train_epoch_s", "Training time per epoch, measured in the run (s)", 2),
    ("train_total_s", "Training time, whole run, all folds (s)", 1),
    ("train_memory_mb", "Training memory estimate (MB)", 1),
    ("quantum_layers", "Quantum layers", 0),
    ("n_qubits", "Qubits", 0),
    ("circuit_depth", "Circuit depth", 0),
    ("variational_layers", "Variational layers", 0),
    ("encoding_gates", "Encoding gates", 0),
    ("parameterized_gates", "Parameterised gates", 0),
    ("circuit_params", "Circuit parameters", 0),
    ("cnot_gates", "Two-qubit (CNOT) gates", 0),
    ("gradient_evals", "Gradient circuit evaluations (parameter shift)", 0),
    ("state_vector_size", "State-vector size (simulation)", 0),
    ("circuit_evals_per_sample", "Circuit evaluations per image", 0),
    ("circuit_flops", "Circuit FLOPs estimate", 0),
    ("qpu_latency_ms", "QPU latency estimate per image (ms)", 2),
]
_COST_FOLDED = {"train_batch_size"}  # shown inside another row's title


def cost(cost_doc: Mapping[str, Mapping[str, Any]] | None) -> Table:
    """Table 8: computational cost per model; rows that no model reports are left out."""
    models = list(cost_doc or {})
    t = Table("tab-cost", "Computational cost (mirrors LiteSpineNet Table 8), measured on this "
              "machine with hqmed's exact state-vector simulator. '–' = not applicable (no quantum "
              "layer). The QPU latency is an estimate from stated gate times and shots, not a "
              "measurement.", ["Metric"] + models)
    for key, title, digits in COST_ROWS:
        docs = [(cost_doc[m] or {}) for m in models]
        vals = [d.get(key) for d in docs]
        if all(v is None for v in vals):
            continue
        if "{train_batch_size}" in title:
            sizes = sorted({str(d.get("train_batch_size")) for d in docs
                            if d.get("train_batch_size") is not None})
            title = title.replace(" at batch {train_batch_size}", "" if not sizes else
                                  f" at batch {' / '.join(sizes)}")
        t.rows.append([Cell(title, "")] + [Cell(_cost_value(v, digits)) for v in vals])
    known = {r[0] for r in COST_ROWS} | _COST_FOLDED
    extra = sorted({k for m in models for k, v in (cost_doc[m] or {}).items()
                    if k not in known and isinstance(v, (int, float, str))})
    for key in extra:
        vals = [(cost_doc[m] or {}).get(key) for m in models]
        t.rows.append([Cell(key.replace("_", " "), "muted")]
                      + [Cell(fmt(v) if isinstance(v, float) else
                              (NDASH if v is None else str(v))) for v in vals])
    return t


def _cost_value(v: Any, digits: int | None) -> str:
    if digits is None:
        if isinstance(v, (list, tuple)):
            return " × ".join(str(x) for x in v)
        return NDASH if v is None else str(v).replace("x", " × ")
    return _fmt_int(v) if digits == 0 else fmt(v, digits)


def _fmt_int(v: Any) -> str:
    if v is None:
        return NDASH
    try:
        return f"{int(round(float(v))):,}".replace("-", MINUS)
    except (TypeError, ValueError):
        return str(v)


# ------------------------------------------------------------------------------------------------
# LCNet paper, Tables 1 to 4
# ------------------------------------------------------------------------------------------------

def _fold_stats(run, key: str) -> tuple[float | None, float | None]:
    s = metric(run.metrics.get("summary") or {}, key)
    if isinstance(s, Mapping):
        return s.get("mean"), s.get("std")
    return None, None


def sweep_auc(sweep_rows: Sequence[Mapping[str, Any]]) -> Table:
    """LCNet Tables 1/2: macro and micro AUC (mean ± sd over folds) per width; B − A."""
    t = Table("tab-sweep-auc", "Macro- and micro-averaged AUROC per LCNet width, mean ± sd over the "
              "validation folds (mirrors LCNet Tables 1 and 2). A = classical (or an ablation of the "
              "quantum block, when the sweep name says so), B = hybrid; B − A is the difference of "
              "the fold means; positive in bold green.",
              ["Dataset", "Sweep", "Width", "A macro", "B macro", "B − A macro",
               "A micro", "B micro", "B − A micro"])
    for r in sweep_rows:
        cm, cs = _fold_stats(r["a"], "auroc_macro")
        hm, hs = _fold_stats(r["b"], "auroc_macro")
        ci, cis = _fold_stats(r["a"], "auroc_micro")
        hi, his = _fold_stats(r["b"], "auroc_micro")
        t.rows.append([Cell(r["dataset"], ""), Cell(r["sweep"], ""), Cell(f"{r['width']:g}"),
                       Cell(fmt_pm(cm, cs)), Cell(fmt_pm(hm, hs)), delta_cell(_diff(hm, cm)),
                       Cell(fmt_pm(ci, cis)), Cell(fmt_pm(hi, his)), delta_cell(_diff(hi, ci))])
    return t.drop_constant("Dataset", "Dataset").drop_constant("Sweep", "Sweep")


def sweep_accuracy(sweep_rows: Sequence[Mapping[str, Any]]) -> Table:
    """LCNet Tables 3/4: out-of-fold accuracy per width, with B − A of the mean and of the sd."""
    t = Table("tab-sweep-acc", "Out-of-fold accuracy per LCNet width, mean ± sd over folds and pooled "
              "out-of-fold (mirrors LCNet Tables 3 and 4). A = classical (or an ablation), B = "
              "hybrid; B − A of the mean and of the sd (a negative sd difference means B is more "
              "stable across folds).",
              ["Dataset", "Sweep", "Width", "A", "B", "B − A mean", "B − A sd",
               "A out-of-fold", "B out-of-fold", "B − A out-of-fold"])
    for r in sweep_rows:
        cm, cs = _fold_stats(r["a"], "accuracy")
        hm, hs = _fold_stats(r["b"], "accuracy")
        co = metric(r["a"].metrics.get("oof"), "accuracy")
        ho = metric(r["b"].metrics.get("oof"), "accuracy")
        t.rows.append([Cell(r["dataset"], ""), Cell(r["sweep"], ""), Cell(f"{r['width']:g}"),
                       Cell(fmt_pm(cm, cs)), Cell(fmt_pm(hm, hs)), delta_cell(_diff(hm, cm)),
                       Cell(fmt_signed(_diff(hs, cs))), Cell(fmt(co)), Cell(fmt(ho)),
                       delta_cell(_diff(ho, co))])
    return t.drop_constant("Dataset", "Dataset").drop_constant("Sweep", "Sweep")


def _diff(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    return float(a) - float(b)


def per_class_accuracy(runs: Sequence, table_id: str = "tab-per-class") -> Table:
    """Per-class accuracy (recall of each class) on the pooled out-of-fold predictions.

    ``runs`` share one dataset: one row per class (its full name and number of images), one column
    per model; the best model per class is in bold.
    """
    names = list(runs[0].class_names) if runs else []
    first = runs[0] if runs else None
    y = first.scores("val") if first is not None else None
    counts = np.bincount(y[0], minlength=len(names)) if y is not None else None
    n = NDASH if y is None else f"{len(y[0]):,}"
    t = Table(table_id, f"{first.dataset if first else ''}: per-class accuracy (= recall of the "
              f"class) on the pooled out-of-fold validation predictions, n = {n}, as in the LCNet "
              "paper's per-class analysis; the best model per class is in bold.",
              ["Class (images)"] + [r.label for r in runs])
    vals = [r.per_class_accuracy() for r in runs]
    for k, name in enumerate(names):
        xs = [v[k] if v is not None and k < len(v) else None for v in vals]
        finite = [x for x in xs if x is not None and math.isfinite(x)]
        best = max(finite) if finite else None
        if best is not None and finite.count(best) == len(runs):
            best = None  # a tie of every model has no best
        label = f"{name} ({counts[k]})" if counts is not None else name
        t.rows.append([Cell(label, "")] + [
            Cell(fmt(x), "num best" if best is not None and x == best and len(runs) > 1 else "num")
            for x in xs])
    return t


def summary_markdown(runs: Sequence, comparisons: Sequence[Mapping[str, Any]] = ()) -> str:
    """A Markdown table of every run (fold mean ± sd, OoF and test accuracy / macro AUC) and one
    line per comparison (paired t-test on fold accuracy, B − A), e.g. for a README."""
    lines = ["| dataset | model | acc. folds (mean ± sd) | AUC folds (mean ± sd) | OoF acc. | "
             "OoF AUC | test acc. | test AUC |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        m = r.metrics
        s = m.get("summary") or {}
        acc, auc = metric(s, "accuracy") or {}, metric(s, "auroc_macro") or {}
        lines.append(f"| {r.dataset} | {r.label} | {fmt_pm(acc.get('mean'), acc.get('std'))} | "
                     f"{fmt_pm(auc.get('mean'), auc.get('std'))} | "
                     f"{fmt(metric(m.get('oof'), 'accuracy'))} | "
                     f"{fmt(metric(m.get('oof'), 'auroc_macro'))} | "
                     f"{fmt(metric(m.get('test'), 'accuracy'))} | "
                     f"{fmt(metric(m.get('test'), 'auroc_macro'))} |")
    bullets = []
    for c in comparisons:
        t = (c.get("ttest") or {}).get("accuracy") or {}
        mc = c.get("mcnemar") or {}
        if t.get("p") is not None or mc.get("p") is not None:
            d = b_minus_a(t)
            bullets.append(f"- {c['dataset']}: {c.get('label_b', c['b'])} (B) vs "
                           f"{c.get('label_a', c['a'])} (A): fold accuracy B − A "
                           f"{fmt_signed(d['diff'])}, paired t-test t = {fmt(d['t'], 2)} "
                           f"(df = {t.get('df', '?')}), {p_is(t.get('p'))}; McNemar "
                           f"({mc.get('split', '?')}, n = {mc.get('n', '?')}) {p_is(mc.get('p'))}")
    return "\n".join(lines + ([""] + bullets if bullets else []))


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------

_ALLOWED = (("&lt;br&gt;", "<br>"), ("&lt;small&gt;", "<small>"), ("&lt;/small&gt;", "</small>"))


def _safe(text: str) -> str:
    """HTML-escape ``text`` but keep the <br>/<small> markup that table builders use."""
    out = html.escape(text, quote=False)
    for esc, tag in _ALLOWED:
        out = out.replace(esc, tag)
    return out


def to_html(t: Table) -> str:
    """A table with its caption above and its note below, both outside the horizontal scroll box
    (so they stay readable on a narrow screen while a wide table scrolls)."""
    head = "".join(f"<th>{_safe(c)}</th>" for c in t.columns)
    body = []
    for row in t.rows:
        cells = []
        for cell in row:
            c = cell if isinstance(cell, Cell) else Cell(str(cell), "")
            cls = f' class="{c.classes}"' if c.classes else ""
            cells.append(f"<td{cls}>{_safe(c.text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{_safe(t.note)}</p>' if t.note else ""
    return (f'<div class="tbl"><p class="caption" id="{t.id}-caption">{_safe(t.caption)}</p>'
            f'<div class="table-wrap"><table id="{t.id}" aria-describedby="{t.id}-caption">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}</div>")


def quantum_blocks(diagnostics: Sequence[Mapping[str, Any]]) -> list[Table]:
    """"Inside the quantum block": each hybrid's block at random initialisation and trained."""
    rand = Table("tab-quantum-random",
                 "At random initialisation (hqmed diagnose): the block's own ansatz and init "
                 "scheme, inputs uniform in [−π, π]. The RY embedding alone gives an output std of "
                 "0.707; a decay rate near 1 per qubit is a barren plateau.",
                 ["Model", "Qubits × layers", "Init", "Output std", "Gradient mean square",
                  "Decay rate per qubit", "Meyer–Wallach", "Expressibility (KL)"])
    trained = Table("tab-quantum-trained",
                    "Trained (first-fold weights) on the run's test split: what really reaches "
                    "the circuit and what it hands the head.",
                    ["Model", "Images", "Angle std (rad)", "Distinct angles", "Saturated angles",
                     "Output std", "Effective rank", "Meyer–Wallach"])
    for d in diagnostics:
        for b in d["doc"]["blocks"]:
            r, data = b["random_init"], b.get("data")
            name = d["label"] if len(d["doc"]["blocks"]) == 1 else f"{d['label']} · {b['block']}"
            rand.rows.append([
                Cell(name, ""), Cell(f"{b['n_qubits']} × {b['n_layers']}", ""),
                Cell(b["init"], ""), Cell(fmt(r["output_std_mean"])),
                Cell(_sci(r["gradient"]["mean_square"])),
                Cell(fmt(r["barren_plateau"].get("mean_square_decay_per_qubit"), 2)),
                Cell(fmt(r["meyer_wallach"])), Cell(fmt(r["expressibility_kl"]))])
            if data:
                angle_std = sum(data["angles"]["std"]) / len(data["angles"]["std"])
                trained.rows.append([
                    Cell(name, ""), Cell(str(data["n_samples"])), Cell(_sci(angle_std)),
                    Cell(f"{data['angles'].get('distinct', NDASH)} of {b['n_qubits']}"),
                    Cell(f"{data['angles']['saturated_fraction']:.0%}"),
                    Cell(_sci(data["output_std_mean"])),
                    Cell(f"{fmt(data['effective_rank'], 2)} of {b['n_qubits']}"),
                    Cell(fmt(data["meyer_wallach"]))])
    return [rand, trained]


def _sci(x: float) -> str:
    """3 significant digits with a true minus sign (values spanning many decades)."""
    return f"{x:.3g}".replace("-", MINUS)
