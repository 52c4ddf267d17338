"""Figures of the report, drawn with matplotlib (Agg backend) and returned as PNG bytes.

Every function takes already-computed numbers (curves, metrics, histories) and returns the PNG
encoding of one figure, so the report can embed it as base64 and a test can decode it. Nothing here
reads files or computes statistics.

Style: one colour-blind-safe palette (Okabe–Ito) everywhere; models take colours (and line styles)
in the order they are given, so model A is always blue and solid, model B vermillion and dashed;
classes take a colour *and* a line style so neighbours never depend on hue alone. Figures are at
most :data:`GRID_WIDTH_IN` inches wide (``WIDE_WIDTH_IN`` for full-row figures) at :data:`DPI`, with
no text smaller than :data:`MIN_FONT_PT`, so that text stays >= 9 px when the report shows two
figures per row at 1280 px or one per row at 800 px. :func:`to_png` records the smallest font it
drew (``PNG.min_font_px``) so the report and its browser test can check that.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, PercentFormatter

# Okabe & Ito (2008), without yellow (too faint on white) and black (kept for reference lines).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00"]
LINESTYLES = ["-", "--", "-.", ":"]
REFERENCE = "#555555"  # chance, treat-all and other reference lines
DPI = 100
MIN_FONT_PT = 9.5
GRID_WIDTH_IN = 6.6  # two per row at 1280 px
WIDE_WIDTH_IN = 10.0  # one per row

# The report's style, applied around each figure (rc_context): matplotlib's global settings, its
# backend and pyplot's figure list are never touched, so importing or using hqmed changes nothing.
STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "font.size": 10.5,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT + 0.5,
    "legend.frameon": False,
    "figure.titlesize": 12,
}


def _styled(draw: Callable[..., bytes]) -> Callable[..., bytes]:
    """Draw (and encode) the figure inside ``rc_context(STYLE)``."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> bytes:
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)
    return wrapper


def _subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kwargs):
    """(Figure, axes) like ``plt.subplots``, but a stand-alone Figure (Agg renders it on save)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


class PNG(bytes):
    """PNG bytes that also carry the smallest font drawn, in image pixels (``min_font_px``)."""

    min_font_px: float | None = None


def to_png(fig) -> PNG:
    """Encode a matplotlib figure as PNG bytes."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)  # layout is set by each figure (one pass, fast)
    png = PNG(buf.getvalue())
    png.min_font_px = min(sizes) * DPI / 72.0 if sizes else None
    return png


def _colors(labels: Sequence[str]) -> dict[str, str]:
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(labels)}


def _styles(labels: Sequence[str]) -> dict[str, str]:
    return {lab: LINESTYLES[i % len(LINESTYLES)] for i, lab in enumerate(labels)}


def class_styles(n: int) -> list[tuple[str, str]]:
    """(colour, line style) of n classes: colours cycle through the palette, the style changes
    every 3 classes, so the two similar hue pairs of the palette (blue / sky blue, vermillion /
    orange: entries 0 / 4 and 1 / 5) never share a line style, nor does a repeated colour."""
    return [(PALETTE[i % len(PALETTE)], LINESTYLES[(i // 3) % len(LINESTYLES)]) for i in range(n)]


@_styled
def training_curves(histories: Mapping[str, object]) -> PNG:
    """Loss, accuracy and AUROC per epoch of one or more models on shared axes.

    histories: model label -> pandas DataFrame with the run directory's ``history.csv`` columns
    (fold, epoch, train_loss, train_acc, val_loss, val_acc, val_auc). One colour per model; thin
    lines are folds, the thick line is the mean over folds; dashed is training, solid validation.
    """
    panels = [("loss", "train_loss", "val_loss"), ("accuracy", "train_acc", "val_acc"),
              ("AUROC (validation, macro)", None, "val_auc")]
    fig, axes = _subplots(1, 3, figsize=(WIDE_WIDTH_IN, 3.8))
    colors = _colors(list(histories))
    for label, hist in histories.items():
        c = colors[label]
        for ax, (title, tcol, vcol) in zip(axes, panels):
            for col, style in ((tcol, "--"), (vcol, "-")):
                if col is None or col not in hist or hist[col].isna().all():
                    continue
                for _, fold in hist.groupby("fold"):
                    ax.plot(fold["epoch"], fold[col], style, color=c, alpha=0.25, lw=0.8)
                mean = hist.groupby("epoch")[col].mean()
                ax.plot(mean.index, mean.values, style, color=c, lw=2.2,
                        marker="o" if len(mean) <= 12 else None, ms=3.5,
                        label=f"{label}, {'training' if col == tcol else 'validation'}")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            epochs = hist["epoch"].dropna()
            if len(epochs):
                ax.set_xlim(epochs.min() - 0.5, epochs.max() + 0.5)
    for ax in axes[1:]:
        ax.set_ylim(0, 1.02)
    handles, labels = axes[0].get_legend_handles_labels()
    ncol = min(4, len(labels)) if labels else 1
    nrows = int(np.ceil(len(labels) / ncol)) if labels else 0
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=ncol)
    fig.tight_layout(rect=(0, 0.075 * nrows + 0.02, 1, 1))
    return to_png(fig)


@_styled
def confusion_matrix(cm: np.ndarray, class_names: Sequence[str], title: str) -> PNG:
    """Confusion matrix: counts with row percentages (share of the true class), zero cells blank.

    cm: (K, K) int, rows = true class, columns = predicted class. The colour is the row share.
    """
    cm = np.asarray(cm, dtype=float)
    k = cm.shape[0]
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    size = min(GRID_WIDTH_IN, max(4.2, 0.62 * k + 2.6))
    fig, ax = _subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    font = MIN_FONT_PT if k > 5 else 10.5
    for i in range(k):
        for j in range(k):
            if cm[i, j] == 0:
                continue
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center",
                    fontsize=font, linespacing=1.0,
                    color="white" if norm[i, j] > 0.55 else "#1d2430")
    ax.set_xticks(range(k), list(class_names), rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), list(class_names))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.grid(False)
    ax.set_title(title)
    fig.tight_layout()
    return to_png(fig)


@_styled
def roc_curves(curves: Mapping[str, tuple], title: str) -> PNG:
    """One-vs-rest ROC curve per class (and micro average if given), AUROC in the legend.

    curves: label -> (fpr (M,), tpr (M,), auc float); label "micro" is drawn thick grey.
    """
    classes = [k for k in curves if k != "micro"]
    rows = int(np.ceil((len(classes) + ("micro" in curves)) / 2))
    fig, ax = _subplots(figsize=(GRID_WIDTH_IN * 0.8, 4.4 + 0.26 * rows))
    styles = dict(zip(classes, class_styles(len(classes))))
    for label in classes:
        fpr, tpr, auc = curves[label]
        color, ls = styles[label]
        ax.plot(fpr, tpr, color=color, ls=ls, lw=1.6, label=f"{label} ({auc:.3f})")
    if "micro" in curves:
        fpr, tpr, auc = curves["micro"]
        ax.plot(fpr, tpr, color="#888888", lw=3.2, alpha=0.8, label=f"micro average ({auc:.3f})")
    ax.plot([0, 1], [0, 1], ":", color=REFERENCE, lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, title="class (AUROC)",
              title_fontsize=MIN_FONT_PT + 0.5)
    fig.tight_layout()
    return to_png(fig)


@_styled
def decision_curves(thresholds: np.ndarray, net_benefit: Mapping[str, np.ndarray],
                    treat_all: np.ndarray, class_names: Sequence[str], title: str,
                    shade: tuple[float, float] | None = None) -> PNG:
    """Net benefit against threshold probability, one panel per class (one-vs-rest).

    thresholds: (T,); net_benefit: model label -> (T, K); treat_all: (T, K). Treat-none is 0.
    ``shade``: a threshold range to shade (the one the report's table averages over). The y axis
    is clipped below at -0.05 so that the treat-all line does not flatten the models.
    """
    k = len(class_names)
    ncol = min(4, k)
    nrow = int(np.ceil(k / ncol))
    fig, axes = _subplots(nrow, ncol, figsize=(WIDE_WIDTH_IN, 2.55 * nrow + 0.9), squeeze=False)
    colors, styles = _colors(list(net_benefit)), _styles(list(net_benefit))
    for c in range(nrow * ncol):
        ax = axes[c // ncol][c % ncol]
        if c >= k:
            ax.axis("off")
            continue
        if shade is not None:
            ax.axvspan(*shade, color="#e8eef6", lw=0, zorder=0)
        ax.plot(thresholds, treat_all[:, c], color="#999999", lw=1.2, label="treat all")
        ax.axhline(0, color=REFERENCE, lw=0.9, ls=":", label="treat none")
        top = max(0.01, float(np.nanmax(treat_all[:, c])))
        for label, nb in net_benefit.items():
            ax.plot(thresholds, nb[:, c], color=colors[label], ls=styles[label], lw=1.8, label=label)
            top = max(top, float(np.nanmax(nb[:, c])))
        ax.set_ylim(-0.05, top * 1.1 + 0.01)
        ax.set_xlim(0, 1)
        ax.set_title(class_names[c], fontsize=10.5)
        if c // ncol == nrow - 1:
            ax.set_xlabel("threshold probability")
        if c % ncol == 0:
            ax.set_ylabel("net benefit")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.45 / (2.55 * nrow + 0.9), 1, 1))
    return to_png(fig)


@_styled
def per_fold_metrics(per_fold: Mapping[str, Mapping[str, Sequence[float]]],
                     metrics: Sequence[str] = ("accuracy", "auroc_macro"),
                     titles: Sequence[str] = ("accuracy", "AUROC (macro)")) -> PNG:
    """Per-fold values as dots, mean as a bar from 0 with the value at its foot, ± sd whisker.

    per_fold: model label -> metric name -> values over folds. The y axis always starts at 0.
    """
    models = list(per_fold)
    colors = _colors(models)
    fig, axes = _subplots(1, len(metrics), figsize=(GRID_WIDTH_IN, 3.6), squeeze=False)
    for ax, metric, title in zip(axes[0], metrics, titles):
        for i, m in enumerate(models):
            vals = np.asarray(per_fold[m].get(metric, []), dtype=float)
            vals = vals[np.isfinite(vals)]
            if vals.size == 0:
                continue
            mean, std = vals.mean(), vals.std(ddof=1) if vals.size > 1 else 0.0
            ax.bar(i, mean, color=colors[m], alpha=0.3, width=0.62)
            ax.errorbar(i, mean, yerr=std, color=colors[m], capsize=6, lw=1.6)
            jitter = np.linspace(-0.16, 0.16, vals.size) if vals.size > 1 else np.zeros(1)
            ax.scatter(i + jitter, vals, color=colors[m], s=18, zorder=3)
            ax.text(i, 0.025, f"{mean:.3f}", ha="center", va="bottom", fontsize=MIN_FONT_PT,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
        ax.set_xticks(range(len(models)), [f"{m} ({chr(65 + i)})" for i, m in enumerate(models)]
                      if len(models) == 2 else models, rotation=15 if len(models) > 2 else 0,
                      ha="right" if len(models) > 2 else "center")
        ax.set_title(f"{title} per fold")
        ax.set_ylim(0, 1.05)
    fig.tight_layout()
    return to_png(fig)


@_styled
def width_sweep(widths: Sequence[float], series: Mapping[str, tuple], metric: str,
                title: str) -> PNG:
    """LCNet width sweep: metric (mean ± sd over folds) against width, and B − A below.

    series: label -> (mean (W,), std (W,)); the first label is the reference (A), the others are
    compared with it in the lower panel (difference = other − reference).
    """
    widths = np.asarray(widths, dtype=float)
    labels = list(series)
    colors, styles = _colors(labels), _styles(labels)
    fig, (ax, dax) = _subplots(2, 1, figsize=(GRID_WIDTH_IN * 0.85, 5.2), sharex=True,
                                  gridspec_kw={"height_ratios": [2, 1]})
    for lab in labels:
        mean, std = (np.asarray(a, dtype=float) for a in series[lab])
        ax.errorbar(widths, mean, yerr=std, marker="o", capsize=3, color=colors[lab],
                    ls=styles[lab], label=lab)
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend()
    ref = np.asarray(series[labels[0]][0], dtype=float)
    n_other = max(1, len(labels) - 1)
    gap = np.min(np.diff(np.unique(widths))) if len(np.unique(widths)) > 1 else 0.5
    bw = min(0.8 * gap, 0.15) / n_other
    for j, lab in enumerate(labels[1:]):
        delta = np.asarray(series[lab][0], dtype=float) - ref
        x = widths + (j - (n_other - 1) / 2) * bw
        dax.bar(x, delta, width=bw, color=[colors[lab] if d >= 0 else "#bbbbbb" for d in delta],
                edgecolor=colors[lab])
        for xi, d in zip(x, delta):
            if np.isfinite(d):
                dax.annotate(f"{d:+.3f}".replace("-", "\u2212"), (xi, d), textcoords="offset points",
                             xytext=(0, 3 if d >= 0 else -12), ha="center", fontsize=MIN_FONT_PT)
    dax.axhline(0, color=REFERENCE, lw=0.8)
    lo, hi = dax.get_ylim()
    pad = 0.3 * (hi - lo)
    dax.set_ylim(lo - pad, hi + pad)
    dax.set_ylabel("B \u2212 A")
    dax.set_xlabel("LCNet width (scale)")
    dax.set_xticks(widths, [f"{w:g}" for w in widths])
    dax.set_xlim(widths.min() - 0.25, widths.max() + 0.25)
    fig.tight_layout()
    return to_png(fig)


@_styled
def reliability_diagram(curves: Mapping[str, Mapping[str, Sequence[float]]], title: str) -> PNG:
    """Confidence of the predicted class against its observed accuracy, per bin, with ECE.

    curves: model label -> {"confidence": (B,), "accuracy": (B,), "count": (B,), "ece": float}.
    Points on the diagonal are calibrated; below it the model is over-confident, above it
    under-confident. The lower panel shows how many predictions fall in each bin.
    """
    colors, styles = _colors(list(curves)), _styles(list(curves))
    fig, (ax, hax) = _subplots(2, 1, figsize=(GRID_WIDTH_IN * 0.8, 5.6), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ":", color=REFERENCE, lw=1, label="perfect calibration")
    for lab, cur in curves.items():
        conf = np.asarray(cur["confidence"], dtype=float)
        acc = np.asarray(cur["accuracy"], dtype=float)
        cnt = np.asarray(cur.get("count", np.ones_like(conf)), dtype=float)
        keep = np.isfinite(conf) & np.isfinite(acc) & (cnt > 0)
        ece = cur.get("ece")
        name = f"{lab} (ECE {ece:.3f})" if ece is not None else lab
        ax.plot(conf[keep], acc[keep], marker="o", ls=styles[lab], color=colors[lab], ms=4,
                label=name)
        hax.plot(conf[keep], cnt[keep], marker="o", ls=styles[lab], color=colors[lab], ms=3)
    ax.text(0.97, 0.04, "below the diagonal:\nover-confident", ha="right", va="bottom",
            fontsize=MIN_FONT_PT, color=REFERENCE, transform=ax.transAxes)
    ax.text(0.03, 0.96, "above: under-confident", ha="left", va="top", fontsize=MIN_FONT_PT,
            color=REFERENCE, transform=ax.transAxes)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("observed accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9))
    hax.set_xlabel("predicted confidence (max probability)")
    hax.set_ylabel("count")
    fig.tight_layout()
    return to_png(fig)


@_styled
def cost_curve(curve: Mapping) -> bytes:
    """Simulated time (measured) and QPU time (estimated) of one batch against qubits, log scale,
    with the fitted ``2^(alpha n)`` line; peak memory on the right panel.
    ``curve``: :func:`hqmed.eval.cost_curve.qubit_cost_curve`."""
    batch = curve["batch"]
    pts = [p for p in curve["simulated"]["points"] if "skipped" not in p]
    fig, (ax, axm) = _subplots(1, 2, figsize=(WIDE_WIDTH_IN, 3.8))
    ns = np.array([p["n"] for p in pts], dtype=float)
    for (key, label), color, ls in zip((("train_s", "simulated, forward+backward"),
                                        ("inference_s", "simulated, inference")),
                                       PALETTE, LINESTYLES):
        ax.plot(ns, [p[key]["mean"] for p in pts], marker="o", ls=ls, color=color, label=label)
    fit = curve["simulated"]["fit"]["train"]
    if fit["alpha"] is not None:
        xs = np.array(fit["ns"], dtype=float)
        ax.plot(xs, 2 ** (fit["alpha"] * xs + fit["b"]), ":", color=REFERENCE, lw=1.2,
                label=f"fit 2^({fit['alpha']:.2f} n)")
    hw = curve["hardware"]
    ax.plot([h["n"] for h in hw], [h["seconds_per_evaluation"] * batch for h in hw],
            marker="s", ls="-.", color=PALETTE[2],
            label=f"QPU estimate ({curve['qpu_timing']['shots']} shots)")
    ax.set_yscale("log")
    ax.set_xlabel("qubits n")
    ax.set_ylabel(f"seconds per batch of {batch}")
    ax.legend()
    base = curve["simulated"]["baseline_rss_bytes"]
    axm.plot(ns, [(p["peak_rss_bytes"] - base) / 2**20 for p in pts], marker="o", color=PALETTE[0],
             label="peak RSS above baseline")
    axm.set_xlabel("qubits n")
    axm.set_ylabel("MiB")
    axm.legend()
    fig.tight_layout()
    return to_png(fig)


@_styled
def sensitivity(values: Sequence[float], mean: Sequence[float], std: Sequence[float],
                key: str, metric: str, title: str, chosen: float | None = None,
                log_x: bool = False) -> PNG:
    """Hyperparameter sensitivity: the selection metric (mean ± sd over folds) against one
    hyperparameter's value; the chosen value is marked."""
    x = np.asarray(values, dtype=float)
    fig, ax = _subplots(figsize=(GRID_WIDTH_IN * 0.85, 3.6))
    ax.errorbar(x, np.asarray(mean, dtype=float), yerr=np.asarray(std, dtype=float), marker="o",
                capsize=3, color=PALETTE[0], ls="-" if len(x) > 1 else "none")
    if chosen is not None:
        ax.axvline(chosen, color=REFERENCE, lw=0.8, ls=":", label="chosen")
        ax.legend()
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(key)
    ax.set_ylabel(metric)
    ax.set_title(title)
    fig.tight_layout()
    return to_png(fig)


@_styled
def barren_plateau(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], title: str) -> PNG:
    """Gradient mean square against qubits (log scale), one line per hybrid block."""
    fig, ax = _subplots(figsize=(GRID_WIDTH_IN * 0.85, 3.6))
    colors, styles = _colors(list(curves)), _styles(list(curves))
    for label, (qubits, values) in curves.items():
        v = np.maximum(np.asarray(values, dtype=float), 1e-300)
        ax.semilogy(qubits, v, styles[label], marker="o", ms=4, color=colors[label], label=label)
    ax.set_xlabel("qubits")
    ax.set_ylabel("E[(∂C/∂w)²] at random init")
    ax.set_title(title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    fig.tight_layout()
    return to_png(fig)
