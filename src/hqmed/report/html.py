"""One self-contained HTML report: inline CSS, figures as base64 PNG, no external assets.

``build_report(study_dir)`` reads a study directory (:func:`hqmed.report.results.load_study`) and
writes ``report.html`` atomically; ``render(study)`` returns the HTML text. Every section has a
stable ``id`` (see :data:`SECTIONS`) so tests and links can find it; a section with nothing to show
in a given study still appears, with a one-line note saying why.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from hqmed.report import plots, tables
from hqmed.report.results import RunResult, StudyResults, load_run, load_study
from hqmed.utils.io import atomic_write_text

# (id, title) in page order. Tests check that every id is present in a rendered report.
SECTIONS: list[tuple[str, str]] = [
    ("header", "Study"),
    ("at-a-glance", "At a glance"),
    ("datasets", "Datasets and skipped datasets"),
    ("overall", "Overall metrics (LiteSpineNet Table 3)"),
    ("per-fold", "Per-fold accuracy and AUC"),
    ("ttest", "Paired t-tests and McNemar (Table 4)"),
    ("classwise-ci", "Class-wise confidence intervals (Table 5)"),
    ("dca", "Decision-curve analysis (Table 6)"),
    ("external", "External validation (Table 7)"),
    ("cost", "Computational cost (Table 8)"),
    ("width-sweep", "LCNet width sweep (LCNet Tables 1-4)"),
    ("per-class", "Per-class accuracy"),
    ("curves", "Training and validation curves"),
    ("confusion", "Confusion matrices"),
    ("roc", "ROC curves"),
    ("calibration", "Reliability diagrams"),
    ("methods", "Methods and reproduction"),
]

CSS = """
:root{--fg:#1d2430;--muted:#5b6675;--line:#dde2ea;--bg:#fff;--soft:#f5f7fa;--acc:#0b62a4;
--pos:#137333;--neg:#b3261e}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:24px 28px 80px}
h1{font-size:28px;margin:8px 0 4px}h2{font-size:21px;margin:44px 0 8px;padding-top:12px;
border-top:2px solid var(--line)}h3{font-size:16px;margin:22px 0 6px}
p.lead{color:var(--muted);margin:0 0 14px}
.banner{background:#fff4d6;border:1px solid #e6b94a;border-left:6px solid #e0a100;padding:10px 14px;
border-radius:6px;margin:12px 0}
.meta{display:grid;grid-template-columns:170px 1fr;gap:4px 14px;background:var(--soft);
padding:12px 16px;border-radius:8px;font-size:13.5px}
.meta dt{color:var(--muted)}.meta dd{margin:0;word-break:break-word}
code,.cmd{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.cmd{display:block;background:#0f1720;color:#e6edf3;padding:8px 12px;border-radius:6px;
white-space:pre-wrap}
nav#toc{background:var(--soft);border-radius:8px;padding:10px 16px;margin:18px 0}
nav#toc ol{columns:2;margin:4px 0;padding-left:20px;font-size:14px}
nav#toc a{color:var(--acc);text-decoration:none}nav#toc a:hover{text-decoration:underline}
.table-wrap{overflow-x:auto;margin:10px 0 18px}
table{border-collapse:collapse;font-size:13px;min-width:50%}
caption{caption-side:top;text-align:left;color:var(--muted);font-size:13px;padding:0 0 6px;
max-width:1100px}
th,td{border-bottom:1px solid var(--line);padding:5px 9px;vertical-align:top;white-space:nowrap}
th{background:var(--soft);text-align:left;font-weight:600;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.pos{color:var(--pos);font-weight:700}td.neg{color:var(--neg)}
td.best{font-weight:700}td.muted{color:var(--muted)}
p.note{font-size:12.5px;color:var(--muted);margin:4px 0}
.empty{color:var(--muted);font-style:italic;background:var(--soft);padding:8px 12px;border-radius:6px}
.figs{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
figure{margin:8px 0;max-width:100%}figure img{max-width:100%;height:auto;border:1px solid var(--line);
border-radius:6px;background:#fff}
figcaption{font-size:13px;color:var(--muted);max-width:760px;margin-top:4px}
ul.glance li{margin:3px 0}
.tag{display:inline-block;background:#e8f0fb;color:var(--acc);border-radius:4px;padding:0 6px;
font-size:12px;margin-right:4px}
footer{margin-top:50px;color:var(--muted);font-size:12.5px}
"""


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">')


def _figure(fid: str, png: bytes, caption: str) -> str:
    return (f'<figure id="{fid}">{_img(png, caption)}<figcaption>{html.escape(caption)}'
            "</figcaption></figure>")


def _empty(text: str) -> str:
    return f'<p class="empty">{html.escape(text)}</p>'


def _table(t: tables.Table, empty: str) -> str:
    return tables.to_html(t) if t else _empty(empty)


def _split_for_figures(r: RunResult) -> str:
    return "test" if r.scores("test") is not None else "val"


def _split_name(split: str) -> str:
    return "test split" if split == "test" else "out-of-fold validation predictions"


def _safe_id(*parts: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else "-" for ch in p) for p in parts).lower()


# ------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------

def _header(s: StudyResults) -> str:
    meta = s.meta
    env = meta.get("environment") or (s.runs[0].environment if s.runs else {})
    pk = env.get("packages") or {}
    versions = ", ".join(f"{k} {v}" for k, v in pk.items() if v) or "–"
    seeds = sorted({str(r.config.get("seed")) for r in s.runs if r.config.get("seed") is not None})
    machine = (f"{env.get('cpu', '?')} · {env.get('cpu_count', '?')} logical CPUs · torch threads "
               f"{env.get('torch_threads', '?')} · GPU: {env.get('cuda') or 'none'} · "
               f"{env.get('platform', '')}")
    date = meta.get("finished") or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    rows = [
        ("Study", f"{meta.get('name', s.root.name)}"),
        ("Description", meta.get("description") or "–"),
        ("Date (UTC)", date),
        ("Machine", machine),
        ("Python / packages", f"Python {env.get('python', '?')}; {versions}"),
        ("Git commit", env.get("git_commit") or "– (not a git checkout)"),
        ("Seeds", ", ".join(seeds) or "–"),
        ("Runs", f"{len(s.runs)} finished ({len(s.comparisons)} comparisons)"),
    ]
    dl = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in rows)
    command = meta.get("command") or env.get("command") or "–"
    banner = ""
    if meta.get("synthetic"):
        banner = ('<div class="banner" id="synthetic-banner"><strong>Synthetic data.</strong> The '
                  "images in this study are procedurally generated spine phantoms "
                  "(hqmed.data.phantoms), not patient radiographs. The numbers show that the "
                  "pipeline works end to end; they say nothing about clinical performance.</div>")
    return (f'<header id="header"><h1>{html.escape(meta.get("title") or "hqmed study report")}</h1>'
            f'<p class="lead">Classical against hybrid quantum-classical image classifiers: '
            f"metrics, statistics and cost, laid out like the LiteSpineNet and LCNet papers.</p>"
            f'{banner}<dl class="meta">{dl}</dl><h3>Exact command</h3>'
            f'<code class="cmd">{html.escape(command)}</code></header>')


def _toc() -> str:
    items = "".join(f'<li><a href="#{sid}">{html.escape(title)}</a></li>'
                    for sid, title in SECTIONS[1:])
    return f'<nav id="toc"><strong>Contents</strong><ol>{items}</ol></nav>'


def _section(sid: str, body: str, lead: str = "") -> str:
    title = dict(SECTIONS)[sid]
    lead_html = f'<p class="lead">{html.escape(lead)}</p>' if lead else ""
    return f'<section id="{sid}"><h2>{html.escape(title)}</h2>{lead_html}{body}</section>'


def _glance(s: StudyResults) -> str:
    items = []
    for c in s.comparisons:
        tt = (c.get("ttest") or {}).get("accuracy") or {}
        a, b = s.run(c["dataset"], c["a"]), s.run(c["dataset"], c["b"])
        if a is None or b is None:
            continue
        acc_a = tables.metric(a.metrics.get("oof"), "accuracy")
        acc_b = tables.metric(b.metrics.get("oof"), "accuracy")
        auc_a = tables.metric(a.metrics.get("oof"), "auroc_macro")
        auc_b = tables.metric(b.metrics.get("oof"), "auroc_macro")
        txt = (f"<span class='tag'>{html.escape(c['dataset'])}</span>"
               f"<b>{html.escape(c['label_b'])}</b> vs <b>{html.escape(c['label_a'])}</b>: "
               f"OoF accuracy {tables.fmt(acc_b)} vs {tables.fmt(acc_a)}")
        if acc_a is not None and acc_b is not None:
            txt += f" (Δ {float(acc_b) - float(acc_a):+.4f})"
        txt += f", macro AUC {tables.fmt(auc_b)} vs {tables.fmt(auc_a)}"
        if tt.get("p") is not None:
            verdict = "significant" if tt.get("significant") else "not significant"
            txt += (f"; paired t-test on fold accuracy p = {tables.fmt(tt['p'])} ({verdict} at "
                    f"α = {c.get('alpha', 0.01)})")
        items.append(f"<li>{txt}.</li>")
    if not items:
        items = [f"<li>{html.escape(r.dataset)} · {html.escape(r.label)}: OoF accuracy "
                 f"{tables.fmt(tables.metric(r.metrics.get('oof'), 'accuracy'))}</li>" for r in s.runs]
    body = f'<ul class="glance">{"".join(items)}</ul>' if items else _empty("No finished runs yet.")
    return _section("at-a-glance", body, "Each line: the second (usually hybrid) model against the "
                    "first (usually classical) on pooled out-of-fold predictions. Δ > 0 favours the "
                    "second model.")


def _datasets(s: StudyResults) -> str:
    by_ds: dict[str, list[RunResult]] = {}
    for r in s.runs:
        by_ds.setdefault(r.dataset, []).append(r)
    rows = []
    for ds, rs in by_ds.items():
        n = len(rs[0].scores("val")[0]) if rs[0].scores("val") is not None else 0
        t = rs[0].scores("test")
        rows.append([tables.Cell(ds, ""), tables.Cell(str(len(rs[0].class_names))),
                     tables.Cell(str(n)), tables.Cell(str(len(t[0]) if t else 0)),
                     tables.Cell(rs[0].protocol, ""), tables.Cell(", ".join(r.label for r in rs), "")])
    t = tables.Table("tab-datasets", "Datasets used: number of classes, samples with out-of-fold (or "
                     "validation) predictions and test samples, protocol and models.",
                     ["Dataset", "Classes", "Val / OoF samples", "Test samples", "Protocol",
                      "Models"], rows)
    body = _table(t, "No dataset produced a finished run.")
    skipped = s.skipped
    if skipped:
        body += '<h3 id="skipped">Skipped datasets</h3><ul>' + "".join(
            f"<li><b>{html.escape(x['dataset'])}</b>: {html.escape(x['reason'])}</li>"
            for x in skipped) + "</ul>"
    else:
        body += '<p class="note" id="skipped">No dataset was skipped.</p>'
    return _section("datasets", body)


def _per_fold(s: StudyResults) -> str:
    figs, rows = [], []
    for ds in _datasets_of(s):
        rs = [r for r in s.runs if r.dataset == ds and r.per_fold("accuracy")]
        if not rs:
            continue
        data = {r.label: {"accuracy": r.per_fold("accuracy"), "auroc_macro": r.per_fold("auroc_macro")}
                for r in rs}
        figs.append(_figure(_safe_id("fig-per-fold", ds), plots.per_fold_metrics(data),
                            f"{ds}: accuracy and macro AUC of every validation fold (dots) with the "
                            "mean ± std (bar and whisker). Overlapping whiskers mean the fold-to-fold "
                            "spread is as large as the gap between models."))
        for r in rs:
            acc, auc = r.per_fold("accuracy"), r.per_fold("auroc_macro")
            rows.append([tables.Cell(ds, ""), tables.Cell(r.label, "")]
                        + [tables.Cell(f"{a:.4f} / {tables.fmt(u)}") for a, u in
                           zip(acc, auc + [None] * (len(acc) - len(auc)))]
                        + [tables.Cell(tables.fmt_pm(np.mean(acc), np.std(acc, ddof=1) if len(acc) > 1
                                                     else 0.0)),
                           tables.Cell(tables.fmt_pm(np.mean(auc), np.std(auc, ddof=1)) if len(auc) > 1
                                       else tables.fmt(auc[0] if auc else None))])
    k = max((len(r) - 4 for r in rows), default=0)
    t = tables.Table("tab-per-fold", "Accuracy / macro AUC per fold; mean ± std (sample std, ddof=1).",
                     ["Dataset", "Model"] + [f"Fold {i}" for i in range(k)]
                     + ["Accuracy mean ± std", "AUC mean ± std"], rows)
    body = (f'<div class="figs">{"".join(figs)}</div>' + tables.to_html(t)) if rows else \
        _empty("No run recorded per-fold metrics (holdout runs have a single split).")
    return _section("per-fold", body)


def _datasets_of(s: StudyResults) -> list[str]:
    return list(dict.fromkeys(r.dataset for r in s.runs))


def _dca_figs(s: StudyResults) -> str:
    figs = []
    for c in s.comparisons:
        d = c.get("dca") or {}
        if not d.get("a"):
            continue
        names = list(d["a"]["per_class"])
        nb = {c[f"label_{side}"]: np.array([d[side]["per_class"][n]["net_benefit"] for n in names],
                                           dtype=float).T for side in ("a", "b")}
        treat_all = np.array([d["a"]["per_class"][n]["treat_all"] for n in names], dtype=float).T
        png = plots.decision_curves(np.asarray(d["a"]["thresholds"], dtype=float), nb,
                                    treat_all, names,
                                    f"{c['dataset']}: decision curves ({d.get('split', '')})")
        figs.append(_figure(_safe_id("fig-dca", c["dataset"], c["a"], c["b"]), png,
                            f"{c['dataset']}: net benefit of {c['label_b']} and {c['label_a']} per "
                            "class against the threshold probability. A model is useful where its "
                            "curve lies above both 'treat all' (grey) and 'treat none' (zero)."))
    return "".join(figs)


def _width_sweep(s: StudyResults) -> str:
    rows = s.sweep_rows()
    if not rows:
        return _section("width-sweep", _empty("This study declares no width sweep (LCNet classical "
                                              "vs hybrid across widths)."))
    body = tables.to_html(tables.sweep_accuracy(rows)) + tables.to_html(tables.sweep_auc(rows))
    figs = []
    for (ds, sweep) in dict.fromkeys((r["dataset"], r["sweep"]) for r in rows):
        rr = [r for r in rows if r["dataset"] == ds and r["sweep"] == sweep]
        widths = [r["width"] for r in rr]
        for key, name in (("accuracy", "accuracy"), ("auroc_macro", "macro AUC")):
            series = {}
            labels = {"a": rr[0]["a"].info.get("kind"), "b": rr[0]["b"].info.get("kind")}
            if not all(labels.values()) or labels["a"] == labels["b"]:
                labels = {"a": "classical", "b": "hybrid"}
            for side, lab in labels.items():
                stats = [tables._fold_stats(r[side], key) for r in rr]
                series[lab] = ([np.nan if m is None else m for m, _ in stats],
                               [0.0 if v is None else v for _, v in stats])
            png = plots.width_sweep(widths, series, name, f"{ds} · {sweep}: {name} vs width")
            figs.append(_figure(_safe_id("fig-sweep", ds, sweep, key), png,
                                f"{ds} ({sweep}): {name} (mean ± std over folds) of the "
                                f"{labels['a']} and {labels['b']} LCNet at each width; the lower "
                                f"panel is {labels['b']} − {labels['a']}. The LCNet paper reports "
                                "hybrid gains at small widths that vanish at 1.5-2.0."))
    return _section("width-sweep", body + f'<div class="figs">{"".join(figs)}</div>')


def _run_figures(s: StudyResults, sid: str, make: Callable[[RunResult, str], tuple[bytes, str]] | None,
                 empty: str) -> str:
    figs = []
    for r in s.runs:
        split = _split_for_figures(r)
        if r.scores(split) is None:
            continue
        png, cap = make(r, split)
        figs.append(_figure(_safe_id("fig", sid, r.dataset, r.model), png, cap))
    body = f'<div class="figs">{"".join(figs)}</div>' if figs else _empty(empty)
    return _section(sid, body)


def _confusion(r: RunResult, split: str) -> tuple[bytes, str]:
    png = plots.confusion_matrix(r.confusion(split), r.class_names, f"{r.dataset} · {r.label}")
    return png, (f"{r.dataset} · {r.label}, {_split_name(split)}: counts and row percentages. The "
                 "diagonal is each class's recall; off-diagonal mass shows which classes are confused.")


def _roc(r: RunResult, split: str) -> tuple[bytes, str]:
    from sklearn.metrics import auc, roc_curve

    y_true, y_score = r.scores(split)
    curves = {}
    for k, name in enumerate(r.class_names):
        pos = y_true == k
        if pos.all() or not pos.any():
            continue
        fpr, tpr, _ = roc_curve(pos, y_score[:, k])
        curves[name] = (fpr, tpr, auc(fpr, tpr))
    onehot = np.eye(y_score.shape[1])[y_true]
    if len(np.unique(y_true)) > 1:
        fpr, tpr, _ = roc_curve(onehot.ravel(), y_score.ravel())
        curves["micro"] = (fpr, tpr, auc(fpr, tpr))
    png = plots.roc_curves(curves, f"{r.dataset} · {r.label}")
    return png, (f"{r.dataset} · {r.label}, {_split_name(split)}: one-vs-rest ROC curve per class "
                 "with its AUC; the dashed black line is the micro average. Curves hugging the "
                 "top-left corner separate that class well; the dotted diagonal is chance.")


def _calibration(s: StudyResults) -> str:
    figs = []
    for ds in _datasets_of(s):
        curves, splits = {}, set()
        for r in (r for r in s.runs if r.dataset == ds):
            split = _split_for_figures(r)
            y_true, y_score = r.scores(split)
            curves[r.label] = reliability(y_true, y_score)
            splits.add(split)
        if not curves:
            continue
        eces = ", ".join(f"{k} {v['ece']:.3f}" for k, v in curves.items())
        png = plots.reliability_diagram(curves, f"{ds}: reliability")
        figs.append(_figure(_safe_id("fig-calibration", ds), png,
                            f"{ds}, {' and '.join(_split_name(x) for x in sorted(splits))}: mean "
                            "confidence of the predicted class against its accuracy in 10 "
                            f"equal-width bins (lower panel: predictions per bin). ECE: {eces}. Points "
                            "below the diagonal are over-confident."))
    body = f'<div class="figs">{"".join(figs)}</div>' if figs else _empty("No predictions.")
    return _section("calibration", body)


def reliability(y_true: np.ndarray, y_score: np.ndarray, n_bins: int = 10) -> dict:
    """Reliability-curve data of the top-1 prediction, via :mod:`hqmed.eval.calibration`."""
    from hqmed.eval import calibration

    bins = calibration.reliability_curve(y_true, y_score, n_bins=n_bins)["bins"]
    ece = calibration.expected_calibration_error(y_true, y_score, n_bins=n_bins)
    nan = float("nan")
    return {"confidence": [nan if b["confidence"] is None else b["confidence"] for b in bins],
            "accuracy": [nan if b["accuracy"] is None else b["accuracy"] for b in bins],
            "count": [b["count"] for b in bins], "ece": float(ece)}


def _curves(s: StudyResults) -> str:
    figs = []
    for ds in _datasets_of(s):
        rs = [r for r in s.runs if r.dataset == ds and not r.history.empty]
        for r in rs:
            figs.append(_figure(_safe_id("fig-curves", ds, r.model),
                                plots.training_curves({r.label: r.history}),
                                f"{ds} · {r.label}: loss, accuracy and validation AUC per epoch. Thin "
                                "lines are folds, thick lines their mean; dashed = training, solid = "
                                "validation. A widening gap between them is over-fitting."))
    body = f'<div class="figs">{"".join(figs)}</div>' if figs else _empty("No training history.")
    return _section("curves", body)


def _methods(s: StudyResults) -> str:
    st = s.meta.get("statistics") or {}
    items = [
        "Out-of-fold (OoF) metrics pool the validation predictions of every fold, so each sample is "
        "scored exactly once by a model that never saw it.",
        f"Paired t-tests compare the two models' per-fold metric values (two-tailed, α = "
        f"{st.get('alpha', 0.01)}); the critical t is the (1 − α/2) quantile of Student's t with "
        "n − 1 degrees of freedom.",
        "McNemar's test uses the discordant pairs of the two models' predictions on the same samples.",
        f"Class-wise confidence intervals are percentile bootstrap intervals at level "
        f"{st.get('ci_level', 0.99)} over {st.get('n_boot', '?')} resamples of the scored samples "
        "(stratified by class), for precision, recall and F1 of each class one-vs-rest.",
        "Decision curves: for each class one-vs-rest, NB(pt) = TP/n − FP/n · pt / (1 − pt) with a "
        "positive call when the class probability ≥ pt; treat-all uses the class prevalence. The best "
        "threshold is the one with the largest net benefit.",
        "Test metrics of a cross-validated run average the probabilities of the K fold models "
        "(fold ensemble). External validation uses the same ensemble.",
        "Every number can be regenerated with the exact command above: runs that finished (they hold "
        "a DONE marker) are reused, everything else is recomputed.",
    ]
    return _section("methods", "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")


# ------------------------------------------------------------------------------------------------
# Assembly
# ------------------------------------------------------------------------------------------------

def render(s: StudyResults) -> str:
    """The complete HTML document of a study."""
    names = s.class_names()
    parts = [
        _header(s), _toc(), _glance(s), _datasets(s),
        _section("overall", _table(tables.overall_metrics(s.runs), "No finished runs.")),
        _per_fold(s),
        _section("ttest", _table(tables.ttests(s.comparisons), "No pairwise comparison with at "
                                 "least two folds in this study.")
                 + _table(tables.mcnemar(s.comparisons), "No McNemar test in this study.")),
        _section("classwise-ci", _table(tables.classwise_ci(s.comparisons, names),
                                        "No class-wise confidence intervals in this study.")),
        _section("dca", _table(tables.dca(s.comparisons, names), "No decision-curve analysis in this "
                               "study.") + f'<div class="figs">{_dca_figs(s)}</div>'),
        _section("external", _table(tables.external(s.external), "No external validation was declared "
                                    "in this study.")),
        _section("cost", _table(tables.cost(s.cost), "No cost measurement in this study.")),
        _width_sweep(s),
        _section("per-class", _table(tables.per_class_accuracy(s.runs), "No finished runs.")),
        _curves(s),
        _run_figures(s, "confusion", _confusion, "No predictions."),
        _run_figures(s, "roc", _roc, "No predictions."),
        _calibration(s),
        _methods(s),
    ]
    title = html.escape(s.meta.get("title") or f"hqmed report · {s.meta.get('name', '')}")
    generated = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title}</title><style>{CSS}</style></head><body><main>"
            + "".join(parts)
            + f"<footer>Generated by hqmed on {generated}. Self-contained: no network access is "
              "needed to view this file.</footer></main></body></html>\n")


def build_report(study_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render ``study_dir`` (a study directory) to ``out`` (default ``study_dir/report.html``)."""
    study = load_study(study_dir)
    out = Path(out) if out is not None else Path(study_dir) / "report.html"
    atomic_write_text(out, render(study))
    _readable(out)
    return out


def _readable(path: Path) -> None:
    """The atomic writer's temp file is private (0600); a report is meant to be shared."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def build_run_report(run_dirs: Sequence[str | Path], out: str | Path, title: str = "") -> Path:
    """A report of bare run directories (no comparisons): metrics, curves and figures only."""
    runs = [load_run(p) for p in run_dirs]
    env = runs[0].environment if runs else {}
    study = StudyResults(root=Path(out).parent, meta={"name": title or "runs", "environment": env,
                                                      "title": title or None},
                         runs=runs, comparisons=[], cost={}, external=[])
    atomic_write_text(out, render(study))
    _readable(Path(out))
    return Path(out)
