"""One self-contained HTML report: inline CSS, figures as base64 PNG, no external assets.

``build_report(study_dir)`` reads a study directory (:func:`hqmed.report.results.load_study`) and
writes ``report.html`` atomically; ``render(study)`` returns the HTML text.

Page order: the title and (for phantom studies) the synthetic-data banner, then "At a glance" (one
sentence per comparison with its verdict), the "Warnings" box, the contents, and the sections of
:data:`SECTIONS`. Every section has a stable ``id`` and is labelled with the split and number of
images its numbers come from; a section with nothing to show in a given study is left out (and
from the contents). A section is one function registered with :func:`section`: it returns its HTML
(built with :func:`_section`) or "" to be left out, so new sections are one function each.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hqmed.eval import calibration, trainability
from hqmed.eval.metrics import auroc, roc_curves
from hqmed.explain.report import where_models_look
from hqmed.report import checks, plots, tables
from hqmed.report.format import fmt, fmt_interval, fmt_signed, metric_name, p_is, split_label
from hqmed.report.results import RunResult, StudyResults, load_run, load_study
from hqmed.utils.io import atomic_write_text

# (id, title) in page order, after the header, "At a glance" and the warnings box.
SECTIONS: list[tuple[str, str]] = [
    ("header", "Study"),
    ("at-a-glance", "At a glance"),
    ("warnings", "Warnings"),
    ("datasets", "Datasets and skipped datasets"),
    ("overall", "Overall metrics (LiteSpineNet Table 3)"),
    ("per-fold", "Per-fold accuracy and AUROC"),
    ("ttest", "Paired t-tests and McNemar (Table 4)"),
    ("classwise-ci", "Class-wise confidence intervals (Table 5)"),
    ("dca", "Decision-curve analysis (Table 6)"),
    ("external", "External validation (Table 7)"),
    ("cost", "Computational cost (Table 8)"),
    ("quantum-block", "Inside the quantum block"),
    ("width-sweep", "LCNet width sweep (LCNet Tables 1–4)"),
    ("search", "Hyperparameter search and sensitivity"),
    ("per-class", "Per-class accuracy"),
    ("curves", "Training and validation curves"),
    ("confusion", "Confusion matrices"),
    ("roc", "ROC curves"),
    ("calibration", "Reliability diagrams"),
    ("where-models-look", "Where the models look"),
    ("methods", "Methods and reproduction"),
]


@dataclass(frozen=True)
class ReportOptions:
    """How to present a study. ``dca_thresholds``: threshold probabilities of the net-benefit table."""

    dca_thresholds: tuple[float, ...] = tables.DCA_THRESHOLDS


Builder = Callable[[StudyResults, ReportOptions], str]
_BUILDERS: dict[str, Builder] = {}


def section(sid: str) -> Callable[[Builder], Builder]:
    """Register the builder of section ``sid`` (which must be listed in :data:`SECTIONS`)."""
    if sid not in dict(SECTIONS):
        raise KeyError(f"section id: expected one of {[s for s, _ in SECTIONS]}; got {sid!r}")

    def register(fn: Builder) -> Builder:
        _BUILDERS[sid] = fn
        return fn

    return register


CSS = """
:root{--fg:#1d2430;--muted:#556070;--line:#dde2ea;--bg:#fff;--soft:#f5f7fa;--acc:#0b62a4;
--pos:#137333;--neg:#b3261e;--warn:#8a5a00}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:16px 28px 80px}
h1{font-size:26px;line-height:1.25;margin:6px 0 8px}
h2{font-size:21px;margin:40px 0 6px;padding-top:12px;border-top:2px solid var(--line)}
h3{font-size:16px;margin:20px 0 6px}
#at-a-glance h2,#warnings h2{border-top:0;margin-top:14px;padding-top:0}
p.lead{color:var(--muted);margin:0 0 12px}
p.data{font-size:13.5px;color:var(--muted);margin:0 0 10px}
p.data b{color:var(--fg);font-weight:600}
.banner{background:#fff4d6;border:1px solid #e6b94a;border-left:6px solid #e0a100;padding:8px 14px;
border-radius:6px;margin:8px 0;font-size:14px}
.meta{display:grid;grid-template-columns:minmax(110px,170px) 1fr;gap:4px 14px;background:var(--soft);
padding:12px 16px;border-radius:8px;font-size:13.5px}
.meta dt{color:var(--muted)}.meta dd{margin:0;word-break:break-word}
code,.cmd{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.cmd{display:block;background:#0f1720;color:#e6edf3;padding:8px 12px;border-radius:6px;
white-space:pre-wrap;word-break:break-all}
nav#toc{background:var(--soft);border-radius:8px;padding:10px 16px;margin:18px 0}
nav#toc ol{columns:2 260px;margin:4px 0;padding-left:20px;font-size:14px}
nav#toc a{color:var(--acc);text-decoration:none}nav#toc a:hover{text-decoration:underline}
ul.glance{padding-left:20px;margin:6px 0}ul.glance li{margin:6px 0;max-width:75em}
.verdict{font-weight:700}
#warnings .box{background:#fff8e6;border:1px solid #f0d28a;border-radius:8px;padding:6px 14px}
#warnings ul{margin:4px 0;padding-left:20px}#warnings li{margin:3px 0;font-size:14px}
.ok{color:var(--pos)}
.tbl{margin:12px 0 20px;max-width:100%}
p.caption{font-size:13.5px;color:var(--muted);margin:0 0 6px;max-width:75em}
.table-wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;vertical-align:top;text-align:left}
th{background:var(--soft);font-weight:600}
tbody tr:nth-child(even){background:#fafbfc}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td:not(.num):not(.muted){white-space:nowrap}
td.num small{white-space:nowrap;color:var(--muted)}
td.pos{color:var(--pos);font-weight:700}td.neg{color:var(--neg)}
td.best{font-weight:700}td.muted{color:var(--muted)}
p.note{font-size:13px;color:var(--muted);margin:4px 0;max-width:75em}
.empty{color:var(--muted);font-style:italic;background:var(--soft);padding:8px 12px;border-radius:6px}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,460px),1fr));gap:18px;
align-items:start}
figure{margin:8px 0;min-width:0}figure.wide{grid-column:1/-1}
figure img{display:block;max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px;
background:#fff}
figcaption{font-size:13.5px;color:var(--muted);margin-top:4px}
.tag{display:inline-block;background:#e8f0fb;color:var(--acc);border-radius:4px;padding:0 6px;
font-size:12px;margin-right:4px}
footer{margin-top:50px;color:var(--muted);font-size:12.5px}
@media (max-width:900px){main{padding:12px 16px 60px}table{font-size:12px}th,td{padding:4px 5px}}
"""


def _img(png: bytes, alt: str) -> str:
    font = getattr(png, "min_font_px", None)
    data = f' data-min-font-px="{font:.1f}"' if font else ""
    return (f'<img alt="{html.escape(alt)}"{data} '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">')


def _figure(fid: str, png: bytes, caption: str, wide: bool = False) -> str:
    cls = ' class="wide"' if wide else ""
    return (f'<figure id="{fid}"{cls}>{_img(png, caption)}<figcaption>{html.escape(caption)}'
            "</figcaption></figure>")


def _figs(figs: Sequence[str]) -> str:
    return f'<div class="figs">{"".join(figs)}</div>' if figs else ""


def _empty(text: str) -> str:
    return f'<p class="empty">{html.escape(text)}</p>'


def _data(text: str) -> str:
    """The "computed on" line under a section title: which split, how many images."""
    return f'<p class="data"><b>Data:</b> {html.escape(text)}</p>'


def _split_for_figures(r: RunResult) -> str:
    return "test" if r.scores("test") is not None else "val"


def _n(r: RunResult, split: str) -> int | None:
    s = r.scores(split)
    return None if s is None else len(s[0])


def _folds(r: RunResult) -> int | None:
    return len(r.metrics.get("per_fold") or []) or None


def _run_split_label(r: RunResult, split: str) -> str:
    return split_label(split, _n(r, split), _folds(r) if split == "val" else None)


def _splits_text(runs: Sequence[RunResult], pick: Callable[[RunResult], str]) -> str:
    """"test split, n = 100" once when every run agrees, else per run."""
    labels = {r.label: _run_split_label(r, pick(r)) for r in runs}
    if len(set(labels.values())) == 1:
        return next(iter(labels.values()))
    return "; ".join(f"{k}: {v}" for k, v in labels.items())


def _safe_id(*parts: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else "-" for ch in p) for p in parts).lower()


def _datasets_of(s: StudyResults) -> list[str]:
    return list(dict.fromkeys(r.dataset for r in s.runs))


def _suffix(i: int) -> str:
    return "" if i == 0 else f"-{i + 1}"


# ------------------------------------------------------------------------------------------------
# Header, at a glance, warnings, contents
# ------------------------------------------------------------------------------------------------

def _header(s: StudyResults) -> str:
    meta = s.meta
    banner = ""
    if meta.get("synthetic"):
        banner = ('<div class="banner" id="synthetic-banner"><strong>Synthetic data.</strong> The '
                  "images in this study are procedurally generated spine phantoms "
                  "(hqmed.data.phantoms), not patient radiographs. The numbers show that the "
                  "pipeline works end to end; they say nothing about clinical performance.</div>")
    return (f'<header id="header"><h1>{html.escape(meta.get("title") or "hqmed study report")}</h1>'
            f"{banner}</header>")


def _study_details(s: StudyResults) -> str:
    """Machine, versions, seeds and the exact command (shown under "Methods and reproduction")."""
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
    return (f'<dl class="meta" id="study-details">{dl}</dl><h3>Exact command</h3>'
            f'<code class="cmd">{html.escape(command)}</code>')


def _toc(present: Sequence[str]) -> str:
    titles = dict(SECTIONS)
    items = "".join(f'<li><a href="#{sid}">{html.escape(titles[sid])}</a></li>'
                    for sid in present if sid not in ("header", "at-a-glance", "warnings"))
    return f'<nav id="toc"><strong>Contents</strong><ol>{items}</ol></nav>'


def _section(sid: str, body: str, lead: str = "", data: str = "") -> str:
    title = dict(SECTIONS)[sid]
    lead_html = f'<p class="lead">{html.escape(lead)}</p>' if lead else ""
    return (f'<section id="{sid}"><h2>{html.escape(title)}</h2>{_data(data) if data else ""}'
            f"{lead_html}{body}</section>")


def _split_accuracy(r: RunResult, split: str):
    block = r.metrics.get("test" if split == "test" else "oof")
    return tables.metric(block, "accuracy")


def glance_sentence(c: dict, a: RunResult, b: RunResult) -> str:
    """One comparison in one sentence: verdict, accuracy B − A on the paired split with McNemar,
    and the paired t-test over folds with its confidence interval and power caveat (df)."""
    alpha = float(c.get("alpha") or 0.01)
    mc = c.get("mcnemar") or {}
    split = mc.get("split") or c.get("split") or "test"
    n = mc.get("n")
    acc_a, acc_b = _split_accuracy(a, split), _split_accuracy(b, split)
    tt = (c.get("ttest") or {}).get("accuracy") or {}
    d = tables.b_minus_a(tt) if tt and "error" not in tt else None

    mc_sig = mc.get("p") is not None and float(mc["p"]) < alpha
    mc_dir = None if not mc else ("B" if mc.get("c", 0) > mc.get("b", 0) else
                                  "A" if mc.get("b", 0) > mc.get("c", 0) else None)
    t_sig = bool(tt.get("significant")) if d else False
    t_dir = None if not d or d["diff"] is None or d["diff"] == 0 else ("B" if d["diff"] > 0 else "A")
    names = {"A": c["label_a"], "B": c["label_b"]}
    winners = {w for w, sig in ((mc_dir, mc_sig), (t_dir, t_sig)) if sig and w}
    if len(winners) == 1:
        w = winners.pop()
        other = "A" if w == "B" else "B"
        verdict = f"{names[w]} ({w}) is more accurate than {names[other]} ({other})"
    elif winners:
        verdict = "The two tests disagree on which model is more accurate"
    else:
        verdict = f"No significant accuracy difference between {names['B']} (B) and {names['A']} (A)"

    parts = [f"<span class='tag'>{html.escape(c['dataset'])}</span>"
             f"<span class='verdict'>{html.escape(verdict)}</span> at α = {alpha:g}."]
    on_split = []
    if acc_a is not None and acc_b is not None:
        wilson = {side: ((((c.get("overall_ci") or {}).get(side) or {}).get("metrics") or {})
                         .get("accuracy") or {}).get("wilson") for side in ("a", "b")}
        ci = {side: f" {fmt_interval(w.get('low'), w.get('high'))}" if w else ""
              for side, w in wilson.items()}
        on_split.append(f"accuracy {fmt(acc_b)}{ci['b']} (B) vs {fmt(acc_a)}{ci['a']} (A)"
                        f"{_wilson_level(c) if wilson['a'] else ''}, B − A = "
                        f"<b>{fmt_signed(float(acc_b) - float(acc_a))}</b>")
    if mc:
        on_split.append(f"McNemar {p_is(mc.get('p'))} ({_images(mc.get('b'))} only A "
                        f"classifies correctly, {_images(mc.get('c'))} only B)")
    if on_split:
        parts.append(f"On the {html.escape(split_label(split, n))}: {'; '.join(on_split)}.")
    if d and d["diff"] is not None:
        level = f"{1 - float(tt.get('alpha', alpha)):.0%}"
        caveat = ""
        df = tt.get("df")
        if df is not None and int(df) <= 4:
            caveat = (f" With df = {df} the critical t is {fmt(tt.get('t_critical'), 2)}, so this "
                      "test has little power: \u2018not significant\u2019 here is weak evidence of no "
                      "difference.")
        parts.append(f"Over the {tt.get('n', '?')} validation folds, mean accuracy B − A = "
                     f"{fmt_signed(d['diff'])}, {level} CI {fmt_interval(d['lo'], d['hi'], (-1, 1))}; "
                     f"paired t-test t = {fmt(d['t'], 2)}, df = {df}, {p_is(tt.get('p'))}."
                     f"{caveat}")
    elif tt and "error" in tt:
        parts.append("The paired t-test over folds is not testable here "
                     f"({html.escape(str(tt['error']))}).")
    return " ".join(parts)


def _wilson_level(c: dict) -> str:
    level = (c.get("overall_ci") or {}).get("level")
    return f" ({float(level):.0%} Wilson intervals)" if level else " (Wilson intervals)"


def _images(k) -> str:
    return "? images" if k is None else f"{k} image{'' if k == 1 else 's'}"


@section("at-a-glance")
def _glance(s: StudyResults, opt: ReportOptions) -> str:
    items = []
    for c in s.comparisons:
        a, b = s.run(c["dataset"], c["a"]), s.run(c["dataset"], c["b"])
        if a is None or b is None:
            continue
        items.append(f"<li>{glance_sentence(c, a, b)}</li>")
    if items:
        return _section("at-a-glance", f'<ul class="glance">{"".join(items)}</ul>',
                        data="each sentence names its split and n; B − A > 0 favours B.")
    rows = []
    for r in s.runs:
        split = _split_for_figures(r)
        rows.append(f"<li><span class='tag'>{html.escape(r.dataset)}</span>"
                    f"<b>{html.escape(r.label)}</b>: accuracy "
                    f"{fmt(_split_accuracy(r, split))} on the "
                    f"{html.escape(_run_split_label(r, split))}.</li>")
    body = f'<ul class="glance">{"".join(rows)}</ul>' if rows else _empty("No finished runs yet.")
    return _section("at-a-glance", body, "No pairwise comparison in this study.")


@section("warnings")
def _warnings(s: StudyResults, opt: ReportOptions) -> str:
    found = checks.all_warnings(s.runs, s.comparisons)
    if not found:
        return _section("warnings", '<div class="box"><p class="ok">No run failed the checks '
                        "(convergence, classes never predicted, degenerate decision curves, "
                        "calibration).</p></div>")
    items = "".join(f"<li>{html.escape(w)}</li>" for w in found)
    return _section("warnings", f'<div class="box"><ul>{items}</ul></div>')


# ------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------

@section("datasets")
def _datasets(s: StudyResults, opt: ReportOptions) -> str:
    by_ds: dict[str, list[RunResult]] = {}
    for r in s.runs:
        by_ds.setdefault(r.dataset, []).append(r)
    rows = []
    for ds, rs in by_ds.items():
        n = _n(rs[0], "val") or 0
        rows.append([tables.Cell(ds, ""), tables.Cell(str(len(rs[0].class_names))),
                     tables.Cell(f"{n:,}"), tables.Cell(f"{_n(rs[0], 'test') or 0:,}"),
                     tables.Cell(rs[0].protocol, ""), tables.Cell(", ".join(r.label for r in rs), "")])
    t = tables.Table("tab-datasets", "Datasets used: number of classes, images with out-of-fold (or "
                     "validation) predictions and test images, protocol and models.",
                     ["Dataset", "Classes", "Validation / out-of-fold images", "Test images",
                      "Protocol", "Models"], rows)
    body = tables.to_html(t) if t else _empty("No dataset produced a finished run.")
    if s.skipped:
        body += '<h3 id="skipped">Skipped datasets</h3><ul>' + "".join(
            f"<li><b>{html.escape(x['dataset'])}</b>: {html.escape(x['reason'])}</li>"
            for x in s.skipped) + "</ul>"
    else:
        body += '<p class="note" id="skipped">No dataset was skipped.</p>'
    return _section("datasets", body)


@section("overall")
def _overall(s: StudyResults, opt: ReportOptions) -> str:
    t = tables.overall_metrics(s.runs, s.meta.get("references"))
    if not t:
        return ""
    cis = [tables.to_html(tables.overall_ci(c, f"tab-overall-ci{_suffix(i)}"))
           for i, c in enumerate(x for x in s.comparisons if x.get("overall_ci"))]
    pos = tables.positive_class_metrics(s.runs)
    return _section("overall", (tables.to_html(pos) if pos else "") + tables.to_html(t)
                    + "".join(cis),
                    data="each row names its data and n (folds: mean ± sd over the validation "
                    "folds); the interval tables use each comparison's paired split.")


@section("per-fold")
def _per_fold(s: StudyResults, opt: ReportOptions) -> str:
    figs, rows = [], []
    runs = [r for r in s.runs if r.per_fold("accuracy")]
    for ds in _datasets_of(s):
        rs = [r for r in runs if r.dataset == ds]
        if not rs:
            continue
        data = {r.label: {"accuracy": r.per_fold("accuracy"), "auroc_macro": r.per_fold("auroc_macro")}
                for r in rs}
        figs.append(_figure(_safe_id("fig-per-fold", ds), plots.per_fold_metrics(data),
                            f"{ds}: accuracy and macro AUROC of every validation fold (dots) with "
                            "the mean (bar, value at its foot) ± sd (whisker); the axes start at 0. "
                            "Overlapping whiskers mean the fold-to-fold spread is as large as the gap "
                            "between models."))
        for r in rs:
            acc, auc = r.per_fold("accuracy"), r.per_fold("auroc_macro")
            cells = [tables.Cell(f"{fmt(a)} / {fmt(u)}") for a, u in
                     zip(acc, auc + [None] * (len(acc) - len(auc)))]
            rows.append([tables.Cell(ds, ""), tables.Cell(r.label, "")] + cells
                        + [tables.Cell(tables.fmt_pm(np.mean(acc), np.std(acc, ddof=1)
                                                     if len(acc) > 1 else 0.0)),
                           tables.Cell(tables.fmt_pm(np.mean(auc), np.std(auc, ddof=1))
                                       if len(auc) > 1 else fmt(auc[0] if auc else None))])
    if not rows:
        return ""
    k = max(len(r) - 4 for r in rows)
    t = tables.Table("tab-per-fold", "Accuracy / macro AUROC of each validation fold; mean ± sd "
                     "(sample sd, ddof = 1) over folds.",
                     ["Dataset", "Model"] + [f"Fold {i}" for i in range(k)]
                     + ["Accuracy mean ± sd", "AUROC mean ± sd"], rows).drop_constant("Dataset",
                                                                                      "Dataset")
    return _section("per-fold", _figs(figs) + tables.to_html(t),
                    data=_splits_text(runs, lambda r: "val") + " (each fold scored on its own "
                    "validation images).")


@section("ttest")
def _ttest(s: StudyResults, opt: ReportOptions) -> str:
    tt, mc = tables.ttests(s.comparisons), tables.mcnemar(s.comparisons)
    if not tt and not mc:
        return ""
    body = (tables.to_html(tt) if tt else _empty("No comparison has two or more folds, so no paired "
                                                  "t-test.")) + (tables.to_html(mc) if mc else "")
    mc_split = "; ".join(sorted({split_label((c.get("mcnemar") or {}).get("split", "?"),
                                             (c.get("mcnemar") or {}).get("n"))
                                 for c in s.comparisons if c.get("mcnemar")}))
    return _section("ttest", body, data=f"t-tests: the validation folds (one value per fold); "
                    f"McNemar: {mc_split or '–'}.")


def _positives(s: StudyResults, c: dict, split: str) -> dict[str, int] | None:
    r = s.run(c["dataset"], c["a"])
    sc = r.scores(split) if r is not None else None
    if sc is None:
        return None
    counts = np.bincount(sc[0], minlength=len(r.class_names))
    return {name: int(counts[k]) for k, name in enumerate(r.class_names)}


@section("classwise-ci")
def _classwise_ci(s: StudyResults, opt: ReportOptions) -> str:
    names = s.class_names()
    out, splits = [], set()
    for i, c in enumerate(x for x in s.comparisons if x.get("ci")):
        split = c["ci"].get("split", "test")
        splits.add(split_label(split, (c.get("mcnemar") or {}).get("n")))
        out.append(tables.to_html(tables.classwise_ci(c, names.get(c["dataset"], []),
                                                      _positives(s, c, split),
                                                      table_id=f"tab-ci{_suffix(i)}")))
    if not out:
        return ""
    return _section("classwise-ci", "".join(out), data="; ".join(sorted(splits)) + "; "
                    f"{tables.UNRELIABLE} marks intervals from fewer than {tables.MIN_POSITIVES} "
                    "positives.")


@section("dca")
def _dca(s: StudyResults, opt: ReportOptions) -> str:
    out, splits = [], set()
    for i, c in enumerate(x for x in s.comparisons if (x.get("dca") or {}).get("a")):
        d = c["dca"]
        splits.add(split_label(d.get("split", "?"), (c.get("mcnemar") or {}).get("n")))
        out.append(tables.to_html(tables.dca(c, opt.dca_thresholds, table_id=f"tab-dca{_suffix(i)}")))
        names = list(d["a"]["per_class"])
        nb = {f"{c['label_a']} (A)": np.array([d["a"]["per_class"][n]["net_benefit"] for n in names],
                                              dtype=float).T,
              f"{c['label_b']} (B)": np.array([d["b"]["per_class"][n]["net_benefit"] for n in names],
                                              dtype=float).T}
        treat_all = np.array([d["a"]["per_class"][n]["treat_all"] for n in names], dtype=float).T
        png = plots.decision_curves(np.asarray(d["a"]["thresholds"], dtype=float), nb, treat_all,
                                    names, f"{c['dataset']}: decision curves",
                                    shade=(min(opt.dca_thresholds), max(opt.dca_thresholds)))
        out.append(_figs([_figure(_safe_id("fig-dca", c["dataset"], c["a"], c["b"]), png,
                                  f"{tables.comparison_title(c)}: net benefit per class against the "
                                  "threshold probability. A model is useful where its curve lies "
                                  "above both treat-all (grey) and treat-none (zero); the shaded band "
                                  "is the range the table above averages over.", wide=True)]))
    if not out:
        return ""
    return _section("dca", "".join(out), data="; ".join(sorted(splits)) + ".")


@section("external")
def _external(s: StudyResults, opt: ReportOptions) -> str:
    t = tables.external(s.external)
    if not t:
        return ""
    n = "; ".join(sorted({f"{e['external']}: n = {e.get('n', '?')} unlabelled images"
                          for e in s.external}))
    return _section("external", tables.to_html(t), data=n + " (no labels, so no accuracy).")


@section("cost")
def _cost(s: StudyResults, opt: ReportOptions) -> str:
    t = tables.cost(s.cost)
    if not t:
        return ""
    curve = ""
    if s.cost_curve:
        c = s.cost_curve
        curve = _figs([_figure("fig-cost-curve", plots.cost_curve(c),
                               f"{c.get('model', '')}: simulated time (measured here, batch {c['batch']}) "
                               "and QPU estimate (gate times and shots) against the number of qubits")])
    return _section("cost", tables.to_html(t) + curve, data="one image (batch 1) or one training batch, "
                    "measured on this machine; no data split.")


@section("quantum-block")
def _quantum_block(s: StudyResults, opt: ReportOptions) -> str:
    """Each hybrid's quantum block: two tables, the barren-plateau plot, one sentence each."""
    if not s.diagnostics:
        return ""
    curves, sentences, n_data = {}, [], set()
    for d in s.diagnostics:
        for b in d["doc"]["blocks"]:
            bp = b["random_init"]["barren_plateau"]
            curves[f"{d['label']} · {b['init']}"] = (bp["qubits"], bp["mean_square_by_qubits"])
            sentences.append(f"<li><b>{html.escape(d['label'])}</b> "
                             f"<span class='tag'>{html.escape(d['dataset'])}</span>"
                             f"{html.escape(trainability.interpret(b))}</li>")
            if b.get("data"):
                n_data.add(f"{d['dataset']}: {b['data']['n_samples']} test images")
    lags = []
    for c in s.comparisons:
        a, b = s.run(c["dataset"], c["a"]), s.run(c["dataset"], c["b"])
        acc_a = tables.metric(a.metrics.get("oof"), "accuracy") if a else None
        acc_b = tables.metric(b.metrics.get("oof"), "accuracy") if b else None
        if acc_a is not None and acc_b is not None and float(acc_b) < float(acc_a) and any(
                d["dataset"] == c["dataset"] and d["model"] == c["b"] for d in s.diagnostics):
            lags.append(f"{c['label_b']} lags {c['label_a']} on {c['dataset']} (out-of-fold "
                        f"accuracy {fmt(acc_b)} against {fmt(acc_a)})")
    lead = ("; ".join(lags) + ": the numbers below say whether its quantum block starved the head "
            "of signal.") if lags else ""
    png = plots.barren_plateau(curves, "Gradient size against qubits at random initialisation")
    body = (f'<ul class="glance">{"".join(sentences)}</ul>'
            + "".join(tables.to_html(t) for t in tables.quantum_blocks(s.diagnostics) if t)
            + _figs([_figure("fig-barren-plateau", png,
                             "Mean square of the gradient of C = mean over inputs of ⟨Z₀⟩ with "
                             "respect to the block's weights, over random initialisations of each "
                             "block's ansatz and init scheme, at more qubits than the block has: a "
                             "straight falling line on this log scale is a barren plateau.")]))
    data = ("random inputs in [−π, π] at random initialisation; trained weights on "
            + "; ".join(sorted(n_data)) if n_data else "random inputs in [−π, π] only")
    return _section("quantum-block", body, lead, data=data)


@section("width-sweep")
def _width_sweep(s: StudyResults, opt: ReportOptions) -> str:
    rows = s.sweep_rows()
    if not rows:
        return ""
    body = tables.to_html(tables.sweep_accuracy(rows)) + tables.to_html(tables.sweep_auc(rows))
    figs = []
    for (ds, sweep) in dict.fromkeys((r["dataset"], r["sweep"]) for r in rows):
        rr = [r for r in rows if r["dataset"] == ds and r["sweep"] == sweep]
        widths = [r["width"] for r in rr]
        for key in ("accuracy", "auroc_macro"):
            name = metric_name(key)
            series = {}
            labels = {"a": rr[0]["a"].info.get("kind"), "b": rr[0]["b"].info.get("kind")}
            if not all(labels.values()) or labels["a"] == labels["b"]:
                labels = {"a": "classical", "b": "hybrid"}
            for side, lab in labels.items():
                stats = [tables._fold_stats(r[side], key) for r in rr]
                series[f"{lab} ({side.upper()})"] = ([np.nan if m is None else m for m, _ in stats],
                                                    [0.0 if v is None else v for _, v in stats])
            png = plots.width_sweep(widths, series, name, f"{ds} · {sweep}: {name} vs width")
            figs.append(_figure(_safe_id("fig-sweep", ds, sweep, key), png,
                                f"{ds} ({sweep}): {name} (mean ± sd over folds) of the "
                                f"{labels['a']} (A) and {labels['b']} (B) LCNet at each width; the "
                                "lower panel is B − A. The LCNet paper reports hybrid gains at "
                                "small widths that vanish at 1.5–2.0."))
    runs = [r[side] for r in rows for side in ("a", "b")]
    return _section("width-sweep", body + _figs(figs),
                    data=_splits_text(runs, lambda r: "val") + ".")


def _g(x: float) -> str:
    """A hyperparameter value as written ("0.001", "1e−05"), with a true minus sign."""
    return f"{x:g}".replace("-", "\u2212")


@section("search")
def _search(s: StudyResults, opt: ReportOptions) -> str:
    doc = s.meta.get("search")
    if not doc or not doc.get("runs"):
        return ""
    values = {p["id"]: p["values"] for p in doc["points"]}
    keys, metric = doc["keys"], doc["metric"]
    better = "lower" if doc["direction"] == "min" else "higher"
    out = []
    for run in doc["runs"]:
        ds, model = run["dataset"], run["model"]
        scores = run["scores"]
        n_folds = len(run["chosen_per_fold"])
        rows = []
        for pid, v in values.items():
            sc = scores[pid]
            picked = [str(f) for f, c in enumerate(run["chosen_per_fold"]) if c == pid]
            rows.append([pid, *(_g(v[k]) for k in keys),
                         tables.fmt_pm(sc["mean"], sc["std"]), ", ".join(picked) or "–",
                         "✓" if pid == run["chosen"] else ""])
        out.append(tables.to_html(tables.Table(
            _safe_id("tbl-search", ds, model),
            f"{ds} · {model}: {metric} on the inner validation part of each fold's training "
            f"portion (mean ± sd over {n_folds} fold{'s' if n_folds != 1 else ''}; {better} is "
            "better)", ["point", *keys, f"{metric} (mean ± sd)", "chosen by fold", "chosen"],
            rows, note=f"Chosen configuration: {', '.join(f'{k} = {v:g}' for k, v in run['chosen_values'].items())} "
            "(the point most folds chose; each fold of the study's run was trained at the point it "
            "chose itself).")))
        figs = []
        chosen = run["chosen_values"]
        for key in keys:
            same = [pid for pid, v in values.items()
                    if all(v[k] == chosen[k] for k in keys if k != key)]
            if len(same) < 2:  # random search: no line through the chosen point
                same = list(values)
            same.sort(key=lambda pid: values[pid][key])
            png = plots.sensitivity([values[p][key] for p in same],
                                    [scores[p]["mean"] for p in same],
                                    [scores[p]["std"] for p in same], key, metric,
                                    f"{ds} · {model}: {metric} vs {key}", chosen=chosen[key],
                                    log_x=key == "optim.lr")
            figs.append(_figure(_safe_id("fig-search", ds, model, key), png,
                                f"{metric} (mean ± sd over folds, inner validation) against "
                                f"{key}, the other hyperparameters at the chosen point "
                                f"({', '.join(f'{k} = {chosen[k]:g}' for k in keys if k != key) or 'none'}); "
                                "dotted: the chosen value."))
        out.append(_figs(figs))
    return _section("search", "".join(out),
                    lead="Nested selection: every fold picks its point on an inner validation "
                    f"part ({doc['inner_val']:.0%}) of its own training portion, never on its "
                    "scored part or the test split.",
                    data="inner validation parts of the training portions only.")


@section("per-class")
def _per_class(s: StudyResults, opt: ReportOptions) -> str:
    out = []
    for i, ds in enumerate(_datasets_of(s)):
        rs = [r for r in s.runs if r.dataset == ds and r.scores("val") is not None]
        if rs:
            out.append(tables.to_html(tables.per_class_accuracy(rs, f"tab-per-class{_suffix(i)}")))
    if not out:
        return ""
    return _section("per-class", "".join(out),
                    data=_splits_text(s.runs, lambda r: "val") + " (number of images per class in "
                    "parentheses).")


@section("curves")
def _curves(s: StudyResults, opt: ReportOptions) -> str:
    figs = []
    for ds in _datasets_of(s):
        rs = [r for r in s.runs if r.dataset == ds and not r.history.empty]
        if not rs:
            continue
        figs.append(_figure(_safe_id("fig-curves", ds), plots.training_curves(
            {r.label: r.history for r in rs}),
            f"{ds}: loss, accuracy and validation AUROC per epoch of "
            f"{' and '.join(r.label for r in rs)} on shared axes, one colour per model. Thin lines "
            "are folds, thick lines their mean; dashed = training, solid = validation. A widening "
            "gap between them is over-fitting; a validation loss still falling at the end means "
            "training stopped early.", wide=True))
    if not figs:
        return ""
    return _section("curves", _figs(figs), data="training images and the validation images of each "
                    "fold, per epoch.")


def _run_figures(s: StudyResults, sid: str, make: Callable[[RunResult, str], tuple[bytes, str]]
                 ) -> str:
    figs, runs = [], []
    for r in s.runs:
        split = _split_for_figures(r)
        if r.scores(split) is None:
            continue
        runs.append(r)
        png, cap = make(r, split)
        figs.append(_figure(_safe_id("fig", sid, r.dataset, r.model), png, cap))
    if not figs:
        return ""
    return _section(sid, _figs(figs), data=_splits_text(runs, _split_for_figures)
                    + " (test: the fold models' averaged probabilities).")


def _confusion(r: RunResult, split: str) -> tuple[bytes, str]:
    png = plots.confusion_matrix(r.confusion(split), r.class_names, f"{r.dataset} · {r.label}")
    return png, (f"{r.dataset} · {r.label}, {_run_split_label(r, split)}: counts with row "
                 "percentages (share of each true class); empty cells are zero. The diagonal is "
                 "each class's recall; off-diagonal mass shows which classes are confused.")


@section("confusion")
def _confusion_section(s: StudyResults, opt: ReportOptions) -> str:
    return _run_figures(s, "confusion", _confusion)


def _roc(r: RunResult, split: str) -> tuple[bytes, str]:
    y_true, y_score = r.scores(split)
    auc = auroc(y_true, y_score)
    aucs = dict(zip(r.class_names, auc["per_class"])) | {"micro": auc["micro"]}
    curves = {name: (c["fpr"], c["tpr"], aucs[name])
              for name, c in roc_curves(y_true, y_score, r.class_names).items()
              if not np.isnan(aucs[name])}  # a class absent (or alone) has no curve
    png = plots.roc_curves(curves, f"{r.dataset} · {r.label}")
    return png, (f"{r.dataset} · {r.label}, {_run_split_label(r, split)}: one-vs-rest ROC curve "
                 "per class with its AUROC (colour and line style per class); the thick grey line is "
                 "the micro average, the thin dotted diagonal is chance. Classes absent from the "
                 "split have no curve.")


@section("roc")
def _roc_section(s: StudyResults, opt: ReportOptions) -> str:
    return _run_figures(s, "roc", _roc)


@section("calibration")
def _calibration(s: StudyResults, opt: ReportOptions) -> str:
    figs, runs = [], []
    for ds in _datasets_of(s):
        curves, words = {}, []
        for r in (r for r in s.runs if r.dataset == ds):
            split = _split_for_figures(r)
            sc = r.scores(split)
            if sc is None:
                continue
            runs.append(r)
            curves[r.label] = reliability(*sc)
            words.append(f"{r.label} is {checks.describe_confidence(checks.confidence_gap(*sc))} "
                         f"(mean confidence − accuracy = {fmt_signed(checks.confidence_gap(*sc))})")
        if not curves:
            continue
        png = plots.reliability_diagram(curves, f"{ds}: reliability")
        figs.append(_figure(_safe_id("fig-calibration", ds), png,
                            f"{ds}: mean confidence of the predicted class against its accuracy in "
                            "10 equal-width bins (lower panel: predictions per bin). Points below the "
                            "diagonal are over-confident, above it under-confident. Here "
                            + "; ".join(words) + "."))
    if not figs:
        return ""
    return _section("calibration", _figs(figs), data=_splits_text(runs, _split_for_figures) + ".")


@section("where-models-look")
def _where_models_look(s: StudyResults, opt: ReportOptions) -> str:
    body, data = where_models_look(s)
    return _section("where-models-look", body, "Grad-CAM (hqmed explain) of both models of each "
                    "comparison on the same fixed test images.", data=data) if body else ""


def reliability(y_true: np.ndarray, y_score: np.ndarray, n_bins: int = 10) -> dict:
    """Reliability-curve data of the top-1 prediction, via :mod:`hqmed.eval.calibration`."""
    bins = calibration.reliability_curve(y_true, y_score, n_bins=n_bins)["bins"]
    ece = calibration.expected_calibration_error(y_true, y_score, n_bins=n_bins)
    nan = float("nan")
    return {"confidence": [nan if b["confidence"] is None else b["confidence"] for b in bins],
            "accuracy": [nan if b["accuracy"] is None else b["accuracy"] for b in bins],
            "count": [b["count"] for b in bins], "ece": float(ece)}


@section("methods")
def _methods(s: StudyResults, opt: ReportOptions) -> str:
    st = s.meta.get("statistics") or {}
    lo, hi = min(opt.dca_thresholds), max(opt.dca_thresholds)
    items = [
        "Every difference in this report is B − A: the second model of a comparison minus the "
        "first (usually hybrid minus classical); a positive value favours B.",
        "Out-of-fold (OoF) metrics pool the validation predictions of every fold, so each image is "
        "scored exactly once by a model that never saw it.",
        f"Paired t-tests compare the two models' per-fold metric values (two-tailed, α = "
        f"{st.get('alpha', 0.01)}); the critical t is the (1 − α/2) quantile of Student's t with "
        "folds − 1 degrees of freedom, so with 3 folds (df = 2) only very large differences are "
        "detectable.",
        "McNemar's test uses the discordant pairs of the two models' predictions on the same images.",
        f"Class-wise confidence intervals are percentile bootstrap intervals at level "
        f"{st.get('ci_level', 0.99)} over {st.get('n_boot', '?')} resamples of the scored images "
        "(stratified by class), for precision, recall and F1 of each class one-vs-rest, shown as "
        f"[lo, hi] within [0, 1]; {tables.UNRELIABLE} marks classes with fewer than "
        f"{tables.MIN_POSITIVES} images in the split.",
        "Decision curves: for each class one-vs-rest, NB(pt) = TP/n − FP/n · pt / (1 − pt) with a "
        "positive call when the class probability ≥ pt; treat-all uses the class prevalence. The "
        f"table reads the curves at pt = {', '.join(fmt(x, 2) for x in opt.dca_thresholds)} and "
        f"averages B − A over {fmt(lo, 2)}–{fmt(hi, 2)}.",
        "Test metrics of a cross-validated run average the probabilities of the K fold models "
        "(fold ensemble). External validation uses the same ensemble.",
        "Numbers have 3 decimals, p-values 3 significant digits (or < 0.001).",
        "Every number can be regenerated with the exact command below: runs that finished (they "
        "hold a DONE marker) are reused, everything else is recomputed.",
    ]
    return _section("methods", "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items)
                    + "</ul>" + _study_details(s))


# ------------------------------------------------------------------------------------------------
# Assembly
# ------------------------------------------------------------------------------------------------

def options_of(s: StudyResults) -> ReportOptions:
    """The study's own presentation settings (``statistics.net_benefit_thresholds``), else defaults."""
    at = (s.meta.get("statistics") or {}).get("net_benefit_thresholds")
    return ReportOptions(dca_thresholds=tuple(at)) if at else ReportOptions()


def render(s: StudyResults, options: ReportOptions | None = None) -> str:
    """The complete HTML document of a study (``options``: default :func:`options_of` the study)."""
    opt = options or options_of(s)
    built = [(sid, _BUILDERS[sid](s, opt)) for sid, _ in SECTIONS if sid in _BUILDERS]
    built = [(sid, body) for sid, body in built if body]
    present = [sid for sid, _ in built]
    first = [body for sid, body in built if sid in ("at-a-glance", "warnings")]
    rest = [body for sid, body in built if sid not in ("at-a-glance", "warnings")]
    title = html.escape(s.meta.get("title") or f"hqmed report · {s.meta.get('name', '')}")
    generated = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title}</title><style>{CSS}</style></head><body><main>"
            + _header(s) + "".join(first) + _toc(present) + "".join(rest)
            + f"<footer>Generated by hqmed on {generated}. Self-contained: no network access is "
              "needed to view this file.</footer></main></body></html>\n")


def build_report(study_dir: str | Path, out: str | Path | None = None,
                 options: ReportOptions | None = None) -> Path:
    """Render ``study_dir`` (a study directory) to ``out`` (default ``study_dir/report.html``)."""
    study = load_study(study_dir)
    out = Path(out) if out is not None else Path(study_dir) / "report.html"
    atomic_write_text(out, render(study, options))  # same permissions as a plain open()
    return out


def build_run_report(run_dirs: Sequence[str | Path], out: str | Path, title: str = "",
                     options: ReportOptions | None = None) -> Path:
    """A report of bare run directories (no comparisons): metrics, curves and figures only."""
    runs = [load_run(p) for p in run_dirs]
    env = runs[0].environment if runs else {}
    study = StudyResults(root=Path(out).parent, meta={"name": title or "runs", "environment": env,
                                                      "title": title or None},
                         runs=runs, comparisons=[], cost={}, external=[])
    atomic_write_text(out, render(study, options))
    return Path(out)
