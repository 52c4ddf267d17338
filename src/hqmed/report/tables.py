"""Tables of the report, mirroring the two papers.

LiteSpineNet paper: Table 3 (overall metrics), Table 4 (paired t-tests over folds), Table 5 (99 %
class-wise confidence intervals), Table 6 (decision-curve analysis), Table 7 (external validation),
Table 8 (computational cost). LCNet paper: Tables 1/2 (macro and micro AUC per width, classical vs
hybrid, Δ), Tables 3/4 (out-of-fold accuracy per width with Δ) and per-class accuracy.

Each builder returns a :class:`Table` (plain data: caption, column names, rows of cells); ``to_html``
renders one. Builders read the run results (:mod:`hqmed.report.results`) and the study's comparison,
cost and external JSON documents, whose formats are given in :mod:`hqmed.study.runner`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Metric name -> column title, in the order of the LiteSpineNet paper's Table 3 (its precision,
# recall and F1 are weighted averages: its recall equals its accuracy), plus macro F1 and AUROC.
OVERALL_COLUMNS = [
    ("accuracy", "Accuracy"),
    ("precision_weighted", "Precision (w)"),
    ("recall_weighted", "Recall (w)"),
    ("f1_weighted", "F1 (w)"),
    ("f1_macro", "F1 (macro)"),
    ("auroc_macro", "AUROC (macro)"),
    ("auroc_micro", "AUROC (micro)"),
]


@dataclass
class Cell:
    """One table cell: its text and optional CSS classes ("pos", "neg", "best", "num", "muted")."""

    text: str
    classes: str = "num"


@dataclass
class Table:
    id: str
    caption: str
    columns: list[str]
    rows: list[list[Cell | str]] = field(default_factory=list)
    note: str = ""

    def __bool__(self) -> bool:  # an empty table renders as a "not in this study" note
        return bool(self.rows)


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


def fmt(x: Any, digits: int = 4) -> str:
    """A number with ``digits`` decimals; "–" for missing or non-finite values."""
    if x is None:
        return "–"
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(xf):
        return "–"
    if xf != 0 and (abs(xf) < 10 ** -digits or abs(xf) >= 1e6):
        return f"{xf:.2e}"
    return f"{xf:.{digits}f}"


def fmt_pm(mean: Any, std: Any, digits: int = 4) -> str:
    return f"{fmt(mean, digits)} ± {fmt(std, digits)}" if mean is not None else "–"


def _signed(d: Any, digits: int = 4) -> str:
    return "–" if d is None or not math.isfinite(float(d)) else f"{float(d):+.{digits}f}"


def delta_cell(d: Any, digits: int = 4) -> Cell:
    """A Δ cell: positive (in favour of the second/hybrid model) in bold green, negative in red."""
    if d is None or not math.isfinite(float(d)):
        return Cell("–")
    d = float(d)
    cls = "num pos" if d > 0 else "num neg" if d < 0 else "num"
    return Cell(f"{d:+.{digits}f}", cls)


# ------------------------------------------------------------------------------------------------
# LiteSpineNet paper, Tables 3 to 8
# ------------------------------------------------------------------------------------------------

def overall_metrics(runs: Sequence) -> Table:
    """Table 3: per run, the fold mean ± std, the pooled out-of-fold metrics and the test metrics."""
    t = Table("tab-overall", "Overall metrics (mirrors LiteSpineNet Table 3). 'Folds' is the mean ± "
              "sample std over the validation folds, 'OoF' pools all out-of-fold predictions, 'Test' is the held-"
              "out test split (holdout, or the official test split scored by the fold ensemble).",
              ["Dataset", "Model", "Data"] + [c for _, c in OVERALL_COLUMNS])
    for r in runs:
        m = r.metrics
        summary = m.get("summary") or {}
        blocks = []
        if summary:
            blocks.append(("Folds", lambda k, s=summary: _summary_cell(s, k)))
        if m.get("oof"):
            blocks.append(("OoF (val)" if r.protocol == "cv" else "Validation",
                           lambda k, d=m["oof"]: fmt(metric(d, k))))
        if m.get("test"):
            blocks.append(("Test", lambda k, d=m["test"]: fmt(metric(d, k))))
        for name, get in blocks:
            t.rows.append([Cell(r.dataset, ""), Cell(r.label, ""), Cell(name, "")]
                          + [Cell(get(k)) for k, _ in OVERALL_COLUMNS])
    return t


def _summary_cell(summary: Mapping[str, Any], key: str) -> str:
    s = metric(summary, key)
    if isinstance(s, Mapping):
        return fmt_pm(s.get("mean"), s.get("std"))
    return fmt(s)


def ttests(comparisons: Sequence[Mapping[str, Any]]) -> Table:
    """Table 4: paired two-tailed t-test over folds, per metric, for every declared comparison."""
    t = Table("tab-ttest", "Paired two-tailed t-tests over folds (mirrors LiteSpineNet Table 4). "
              "Mean difference = A − B; the difference is significant when |t| exceeds the critical t "
              "at the stated α (0.01 in the paper).",
              ["Dataset", "A", "B", "Metric", "n folds", "df", "mean A", "mean B", "mean diff (A−B)",
               "t", "critical t", "p", "significant"])
    untestable = False
    for c in comparisons:
        for name, r in (c.get("ttest") or {}).items():
            if "error" in r:
                untestable = True
                t.rows.append([Cell(c["dataset"], ""), Cell(c["label_a"], ""),
                               Cell(c["label_b"], ""), Cell(name, ""),
                               Cell(f"not testable: {r['error']}", "muted")] + [Cell("–")] * 8)
                continue
            sig = r.get("significant")
            t.rows.append([Cell(c["dataset"], ""), Cell(c["label_a"], ""), Cell(c["label_b"], ""),
                           Cell(name, ""), Cell(str(r.get("n", "–"))), Cell(str(r.get("df", "–"))),
                           Cell(fmt(r.get("mean_a"))), Cell(fmt(r.get("mean_b"))),
                           Cell(_signed(r.get("mean_diff"))), Cell(fmt(r.get("t"), 3)),
                           Cell(fmt(r.get("t_critical"), 4)), Cell(fmt(r.get("p"), 4)),
                           Cell("yes" if sig else "no", "best" if sig else "muted")])
    if untestable:
        t.note = ("Rows marked 'not testable' have a metric that is undefined in some fold (e.g. a "
                  "class absent from a fold), or fewer than two folds.")
    return t


def mcnemar(comparisons: Sequence[Mapping[str, Any]]) -> Table:
    """McNemar's test on paired predictions (same samples, two models)."""
    t = Table("tab-mcnemar", "McNemar's test on paired predictions: b = samples only A gets right, "
              "c = samples only B gets right. A small p means the two models err on different cases "
              "more often than chance allows.",
              ["Dataset", "A", "B", "Data", "n", "b (A right, B wrong)", "c (A wrong, B right)",
               "statistic", "p"])
    for c in comparisons:
        r = c.get("mcnemar")
        if not r:
            continue
        t.rows.append([Cell(c["dataset"], ""), Cell(c["label_a"], ""), Cell(c["label_b"], ""),
                       Cell(r.get("split", "–"), ""), Cell(str(r.get("n", "–"))),
                       Cell(str(r.get("b", "–"))), Cell(str(r.get("c", "–"))),
                       Cell(fmt(r.get("statistic"), 3)), Cell(fmt(r.get("p"), 4))])
    return t


def classwise_ci(comparisons: Sequence[Mapping[str, Any]], class_names: Mapping[str, Sequence[str]]
                 ) -> Table:
    """Table 5: per class precision, recall and F1 with bootstrap confidence intervals."""
    t = Table("tab-ci", "Class-wise precision (P), recall (R) and F1 with bootstrap confidence "
              "intervals (mirrors LiteSpineNet Table 5). Each cell is the point estimate ± half the "
              "interval width, as in the paper, with the percentile interval below it.", [])
    width = 0
    for c in comparisons:
        ci = c.get("ci")
        if not ci:
            continue
        names = list(class_names.get(c["dataset"], []))
        width = max(width, len(names))
        for side in ("a", "b"):
            per_metric = (ci.get(side) or {}).get("per_class") or {}
            label = c[f"label_{side}"]
            for key, short in (("precision", "P"), ("recall", "R"), ("f1", "F1")):
                per = per_metric.get(key) or {}
                cells = [_ci_cell(per.get(n)) for n in names]
                t.rows.append([Cell(c["dataset"], ""), Cell(label, ""),
                               Cell(f"{ci.get('split', '')} · {fmt(ci.get('level'), 2)}", ""),
                               Cell(short, "")] + cells)
    t.columns = ["Dataset", "Model", "Data / level", "Metric"] + [f"Class {k}" for k in range(width)]
    t.note = "; ".join(f"{d}: " + ", ".join(f"{k} = {n}" for k, n in enumerate(names))
                       for d, names in class_names.items())
    return t


def _ci_cell(e: Mapping[str, Any] | None) -> Cell:
    if not e or e.get("estimate") is None:
        return Cell("–")
    lo, hi, est = e.get("low"), e.get("high"), e.get("estimate")
    half = e.get("half_width")
    return Cell(f"{fmt(est, 3)} ± {fmt(half, 3)}<br><small>[{fmt(lo, 3)}, {fmt(hi, 3)}]</small>")


def dca(comparisons: Sequence[Mapping[str, Any]], class_names: Mapping[str, Sequence[str]]) -> Table:
    """Table 6: per class best threshold and maximum net benefit of each model, Δ = B − A."""
    t = Table("tab-dca", "Decision-curve analysis per class, one-vs-rest (mirrors LiteSpineNet Table "
              "6). Net benefit NB = TP/n − FP/n · pt/(1−pt); Δ = max NB of B − max NB of A, positive "
              "(in favour of B, usually the hybrid) in bold green.",
              ["Dataset", "Class", "B", "B best threshold", "B max NB", "A", "A best threshold",
               "A max NB", "Δ (B − A)"])
    for c in comparisons:
        d = c.get("dca")
        if not d:
            continue
        per = (d.get("compare") or {}).get("per_class") or {}
        for k, (name, row) in enumerate(per.items()):
            a, b = row.get("a") or {}, row.get("b") or {}
            t.rows.append([Cell(c["dataset"], ""), Cell(f"{k} {name}", ""), Cell(c["label_b"], ""),
                           Cell(fmt(b.get("best_threshold"), 2)), Cell(fmt(b.get("max_net_benefit"))),
                           Cell(c["label_a"], ""), Cell(fmt(a.get("best_threshold"), 2)),
                           Cell(fmt(a.get("max_net_benefit"))), delta_cell(row.get("delta"))])
    return t


def external(ext: Sequence[Mapping[str, Any]]) -> Table:
    """Table 7: per predicted class, mean confidence (count) and its std, per model and dataset."""
    cols: list[tuple[str, str]] = [(e["external"], e["label"]) for e in ext]
    classes: list[str] = []
    for e in ext:
        for row in e.get("summary", []):
            if row["class"] not in classes:
                classes.append(row["class"])
    t = Table("tab-external", "External validation on unlabelled data (mirrors LiteSpineNet Table 7): "
              "for each class, the mean confidence of the samples predicted as that class, the number "
              "of such samples in parentheses, and the std of the confidence. '–' = never predicted.",
              [])
    t.columns = ["Class"]
    for d, m in cols:
        t.columns += [f"{d} · {m}<br>avg conf (n)", "std"]
    for cname in classes:
        row: list[Cell | str] = [Cell(cname, "")]
        for e in ext:
            r = next((x for x in e.get("summary", []) if x["class"] == cname), None)
            if not r or not r.get("count"):
                row += [Cell("–"), Cell("–")]
            else:
                row += [Cell(f"{fmt(r.get('mean_confidence'))} ({r['count']})"),
                        Cell(fmt(r.get("std_confidence")))]
        t.rows.append(row)
    sources = {e["external"]: f"{e.get('n', '?')} images from {e.get('source', '?')}" for e in ext}
    t.note = "; ".join(f"{k}: {v}" for k, v in sources.items())
    return t


COST_ROWS = [
    ("input_shape", "Input (C x H x W)", None),
    ("trainable_params", "Trainable parameters", 0),
    ("flops", "FLOPs per image (forward, counted)", 0),
    ("latency_ms", "Inference latency, batch 1 (ms, median)", 3),
    ("train_step_ms", "Training step (ms, median)", 1),
    ("train_batch_size", "  at batch size", 0),
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


def cost(cost_doc: Mapping[str, Mapping[str, Any]] | None) -> Table:
    """Table 8: computational cost per model; rows that no model reports are left out."""
    models = list(cost_doc or {})
    t = Table("tab-cost", "Computational cost (mirrors LiteSpineNet Table 8), measured on this "
              "machine with hqmed's exact state-vector simulator. '–' = not applicable (no quantum "
              "layer). The QPU latency is an estimate from stated gate times and shots, not a "
              "measurement.", ["Metric"] + models)
    for key, title, digits in COST_ROWS:
        vals = [(cost_doc[m] or {}).get(key) for m in models]
        if all(v is None for v in vals):
            continue
        t.rows.append([Cell(title, "")] + [Cell(str(v) if digits is None else _fmt_int(v)
                                                if digits == 0 else fmt(v, digits)) for v in vals])
    extra = sorted({k for m in models for k, v in (cost_doc[m] or {}).items()
                    if k not in {r[0] for r in COST_ROWS} and isinstance(v, (int, float, str))})
    for key in extra:
        vals = [(cost_doc[m] or {}).get(key) for m in models]
        t.rows.append([Cell(key, "muted")] + [Cell(fmt(v, 4) if isinstance(v, float) else
                                                   ("–" if v is None else str(v))) for v in vals])
    return t


def _fmt_int(v: Any) -> str:
    if v is None:
        return "–"
    try:
        return f"{int(round(float(v))):,}"
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
    """LCNet Tables 1/2: macro and micro AUC (mean ± std over folds) per width; Δ = hybrid − classical."""
    t = Table("tab-sweep-auc", "Macro- and micro-averaged AUC per LCNet width, mean ± std over the "
              "validation folds (mirrors LCNet Tables 1 and 2). A = classical (or an ablation of the "
              "quantum block, when the sweep name says so), B = hybrid; Δ = B − A (difference of the "
              "fold means); positive Δ in bold green.",
              ["Dataset", "Sweep", "Width", "A macro", "B macro", "Δ macro",
               "A micro", "B micro", "Δ micro"])
    for r in sweep_rows:
        cm, cs = _fold_stats(r["a"], "auroc_macro")
        hm, hs = _fold_stats(r["b"], "auroc_macro")
        ci, cis = _fold_stats(r["a"], "auroc_micro")
        hi, his = _fold_stats(r["b"], "auroc_micro")
        t.rows.append([Cell(r["dataset"], ""), Cell(r["sweep"], ""), Cell(f"{r['width']:g}"),
                       Cell(fmt_pm(cm, cs)), Cell(fmt_pm(hm, hs)), delta_cell(_diff(hm, cm)),
                       Cell(fmt_pm(ci, cis)), Cell(fmt_pm(hi, his)), delta_cell(_diff(hi, ci))])
    return t


def sweep_accuracy(sweep_rows: Sequence[Mapping[str, Any]]) -> Table:
    """LCNet Tables 3/4: out-of-fold accuracy per width, with Δ of the mean and of the std."""
    t = Table("tab-sweep-acc", "Out-of-fold accuracy per LCNet width, mean ± std over folds and pooled "
              "OoF (mirrors LCNet Tables 3 and 4). A = classical (or an ablation), B = hybrid; Δ mean "
              "= B − A; Δ std < 0 means B is more stable across folds.",
              ["Dataset", "Sweep", "Width", "A", "B", "Δ mean", "Δ std",
               "A OoF", "B OoF", "Δ OoF"])
    for r in sweep_rows:
        cm, cs = _fold_stats(r["a"], "accuracy")
        hm, hs = _fold_stats(r["b"], "accuracy")
        co = metric(r["a"].metrics.get("oof"), "accuracy")
        ho = metric(r["b"].metrics.get("oof"), "accuracy")
        t.rows.append([Cell(r["dataset"], ""), Cell(r["sweep"], ""), Cell(f"{r['width']:g}"),
                       Cell(fmt_pm(cm, cs)), Cell(fmt_pm(hm, hs)), delta_cell(_diff(hm, cm)),
                       Cell(fmt(_diff(hs, cs))), Cell(fmt(co)), Cell(fmt(ho)),
                       delta_cell(_diff(ho, co))])
    return t


def _diff(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    return float(a) - float(b)


def per_class_accuracy(runs: Sequence) -> Table:
    """Per-class accuracy (recall of each class) on the pooled out-of-fold predictions."""
    width = max((len(r.class_names) for r in runs), default=0)
    t = Table("tab-per-class", "Per-class accuracy (= recall of the class) on the pooled out-of-fold "
              "predictions, as in the LCNet paper's per-class analysis; the best model per class and "
              "dataset is in bold.", ["Dataset", "Model"] + [f"Class {k}" for k in range(width)])
    by_ds: dict[str, list] = {}
    for r in runs:
        by_ds.setdefault(r.dataset, []).append(r)
    for ds, rs in by_ds.items():
        vals = [r.per_class_accuracy() for r in rs]
        best = [max((v[k] for v in vals if v is not None and k < len(v)), default=None)
                for k in range(width)]
        for r, v in zip(rs, vals):
            cells = []
            for k in range(width):
                x = v[k] if v is not None and k < len(v) else None
                cls = "num best" if x is not None and best[k] is not None and x == best[k] else "num"
                cells.append(Cell(fmt(x), cls))
            t.rows.append([Cell(ds, ""), Cell(r.label, "")] + cells)
        t.note += (f"{ds}: " + ", ".join(f"{k} = {n}" for k, n in enumerate(rs[0].class_names))
                   + ". ")
    return t


def summary_markdown(runs: Sequence, comparisons: Sequence[Mapping[str, Any]] = ()) -> str:
    """A Markdown table of every run (fold mean ± std, OoF and test accuracy / macro AUC) and one
    line per comparison (paired t-test on fold accuracy), e.g. for a README."""
    lines = ["| dataset | model | acc. folds (mean ± std) | AUC folds (mean ± std) | OoF acc. | "
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
            bullets.append(f"- {c['dataset']}: {c.get('label_b', c['b'])} vs {c.get('label_a', c['a'])}: "
                         f"paired t-test on fold accuracy t = {fmt(t.get('t'), 3)}, "
                         f"p = {fmt(t.get('p'), 4)}; McNemar ({mc.get('split', '?')}) "
                         f"p = {fmt(mc.get('p'), 4)}")
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
    """Render a table as an HTML ``<table>`` with a caption and an optional note below it."""
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
    return (f'<div class="table-wrap"><table id="{t.id}"><caption>{_safe(t.caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}</div>")
