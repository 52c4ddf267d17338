"""Figures of the report, drawn with matplotlib (Agg backend) and returned as PNG bytes.

Every function takes already-computed numbers (curves, metrics, histories) and returns the PNG
encoding of one figure, so the report can embed it as base64 and a test can decode it. Nothing here
reads files or computes statistics; colours are fixed per role so that "classical" and "hybrid"
look the same in every figure of a report.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

# A colour-blind-safe palette (Okabe-Ito); models take colours in the order they are given.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
DPI = 110

plt.rcParams.update({
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
})


def to_png(fig) -> bytes:
    """Encode a matplotlib figure as PNG bytes and close it (frees its memory)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)  # layout is set by each figure (one pass, fast)
    plt.close(fig)
    return buf.getvalue()


def _colors(labels: Sequence[str]) -> dict[str, str]:
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(labels)}


def training_curves(histories: Mapping[str, object]) -> bytes:
    """Loss, accuracy and AUC per epoch for one or more models.

    histories: model label -> pandas DataFrame with the run directory's ``history.csv`` columns
    (fold, epoch, train_loss, train_acc, val_loss, val_acc, val_auc). Thin lines are folds, the thick
    line is the mean over folds; dashed is training, solid is validation.
    """
    panels = [("loss", "train_loss", "val_loss"), ("accuracy", "train_acc", "val_acc"),
              ("AUC (val, macro)", None, "val_auc")]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
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
                ax.plot(mean.index, mean.values, style, color=c, lw=2,
                        label=f"{label} ({'train' if col == tcol else 'val'})")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = axes[1].get_legend_handles_labels()
    nrows = int(np.ceil(len(labels) / 4)) if handles else 0
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)))
    fig.tight_layout(rect=(0, 0.07 * nrows + 0.02, 1, 1))
    return to_png(fig)


def confusion_matrix(cm: np.ndarray, class_names: Sequence[str], title: str) -> bytes:
    """Row-normalised confusion matrix (colour = recall of the true class), counts annotated.

    cm: (K, K) int, rows = true class, columns = predicted class.
    """
    cm = np.asarray(cm, dtype=float)
    k = cm.shape[0]
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    size = max(3.2, 0.55 * k + 1.6)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center",
                    fontsize=7 if k > 5 else 8, color="white" if norm[i, j] > 0.6 else "#222")
    short = [_short(n) for n in class_names]
    ax.set_xticks(range(k), short, rotation=45, ha="right")
    ax.set_yticks(range(k), short)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="row fraction (recall)")
    fig.tight_layout()
    return to_png(fig)


def _short(name: str, n: int = 16) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def roc_curves(curves: Mapping[str, tuple], title: str) -> bytes:
    """One-vs-rest ROC curve per class (and micro average if given), AUC in the legend.

    curves: label -> (fpr (M,), tpr (M,), auc float); label "micro" is drawn dashed black.
    """
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    colors = _colors([k for k in curves if k != "micro"])
    for label, (fpr, tpr, auc) in curves.items():
        if label == "micro":
            ax.plot(fpr, tpr, "k--", lw=1.6, label=f"micro-average (AUC {auc:.3f})")
        else:
            ax.plot(fpr, tpr, color=colors[label], lw=1.3, label=f"{_short(label)} ({auc:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="#999", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return to_png(fig)


def decision_curves(thresholds: np.ndarray, net_benefit: Mapping[str, np.ndarray],
                    treat_all: np.ndarray, class_names: Sequence[str], title: str) -> bytes:
    """Net benefit against threshold probability, one panel per class (one-vs-rest).

    thresholds: (T,); net_benefit: model label -> (T, K); treat_all: (T, K). Treat-none is 0.
    The y axis is clipped below at -0.05 so that the treat-all line does not flatten the models.
    """
    k = len(class_names)
    ncol = min(4, k)
    nrow = int(np.ceil(k / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.5 * nrow), squeeze=False)
    colors = _colors(list(net_benefit))
    for c in range(nrow * ncol):
        ax = axes[c // ncol][c % ncol]
        if c >= k:
            ax.axis("off")
            continue
        ax.plot(thresholds, treat_all[:, c], color="#888", lw=1, label="treat all")
        ax.axhline(0, color="#444", lw=0.8, ls=":", label="treat none")
        top = max(0.01, float(np.nanmax(treat_all[:, c])))
        for label, nb in net_benefit.items():
            ax.plot(thresholds, nb[:, c], color=colors[label], lw=1.6, label=label)
            top = max(top, float(np.nanmax(nb[:, c])))
        ax.set_ylim(-0.05, top * 1.1 + 0.01)
        ax.set_title(_short(class_names[c], 24))
        ax.set_xlabel("threshold probability")
        if c % ncol == 0:
            ax.set_ylabel("net benefit")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.25 / (nrow + 0.5), 1, 1))
    return to_png(fig)


def per_fold_metrics(per_fold: Mapping[str, Mapping[str, Sequence[float]]],
                     metrics: Sequence[str] = ("accuracy", "auroc_macro"),
                     titles: Sequence[str] = ("accuracy", "AUC (macro)")) -> bytes:
    """Per-fold values as dots, mean ± std as a bar with an error bar, one panel per metric.

    per_fold: model label -> metric name -> values over folds.
    """
    models = list(per_fold)
    colors = _colors(models)
    fig, axes = plt.subplots(1, len(metrics), figsize=(max(4.5, 1.1 * len(models) + 2) * len(metrics) / 1.6, 3.4),
                             squeeze=False)
    for ax, metric, title in zip(axes[0], metrics, titles):
        for i, m in enumerate(models):
            vals = np.asarray(per_fold[m].get(metric, []), dtype=float)
            vals = vals[np.isfinite(vals)]
            if vals.size == 0:
                continue
            mean, std = vals.mean(), vals.std(ddof=1) if vals.size > 1 else 0.0
            ax.bar(i, mean, color=colors[m], alpha=0.35, width=0.6)
            ax.errorbar(i, mean, yerr=std, color=colors[m], capsize=5, lw=1.5)
            jitter = np.linspace(-0.15, 0.15, vals.size) if vals.size > 1 else np.zeros(1)
            ax.scatter(i + jitter, vals, color=colors[m], s=16, zorder=3)
            ax.annotate(f"{mean:.3f}±{std:.3f}", (i, mean + std), textcoords="offset points",
                        xytext=(0, 4), ha="center", fontsize=7)
        ax.set_xticks(range(len(models)), [_short(m, 22) for m in models], rotation=30, ha="right")
        ax.set_title(f"{title} per fold")
        lo = min((min(v.get(metric, [1.0]) or [1.0]) for v in per_fold.values()), default=0.0)
        ax.set_ylim(max(0.0, float(lo) - 0.1), 1.05)
    fig.tight_layout()
    return to_png(fig)


def width_sweep(widths: Sequence[float], series: Mapping[str, tuple], metric: str,
                title: str) -> bytes:
    """LCNet width sweep: metric (mean ± std over folds) against width, and hybrid - classical.

    series: label -> (mean (W,), std (W,)); the first label is the reference (classical), the
    others are compared with it in the lower panel (Δ = other - reference).
    """
    widths = np.asarray(widths, dtype=float)
    labels = list(series)
    colors = _colors(labels)
    fig, (ax, dax) = plt.subplots(2, 1, figsize=(5.4, 4.8), sharex=True,
                                  gridspec_kw={"height_ratios": [2, 1]})
    for lab in labels:
        mean, std = (np.asarray(a, dtype=float) for a in series[lab])
        ax.errorbar(widths, mean, yerr=std, marker="o", capsize=3, color=colors[lab], label=lab)
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend()
    ref = np.asarray(series[labels[0]][0], dtype=float)
    n_other = max(1, len(labels) - 1)
    gap = np.min(np.diff(np.unique(widths))) if len(np.unique(widths)) > 1 else 0.5
    bw = min(0.8 * gap, 0.15) / n_other
    for j, lab in enumerate(labels[1:]):
        delta = np.asarray(series[lab][0], dtype=float) - ref
        x = widths + (j - (n_other - 1) / 2) * bw
        dax.bar(x, delta, width=bw, color=[colors[lab] if d >= 0 else "#bbb" for d in delta],
                edgecolor=colors[lab])
        for xi, d in zip(x, delta):
            if np.isfinite(d):
                dax.annotate(f"{d:+.3f}", (xi, d), textcoords="offset points",
                             xytext=(0, 3 if d >= 0 else -10), ha="center", fontsize=7)
    dax.axhline(0, color="#444", lw=0.8)
    lo, hi = dax.get_ylim()
    pad = 0.25 * (hi - lo)
    dax.set_ylim(lo - pad, hi + pad)
    dax.set_ylabel(f"Δ vs {_short(labels[0], 14)}")
    dax.set_xlabel("LCNet width (scale)")
    dax.set_xticks(widths, [f"{w:g}" for w in widths])
    dax.set_xlim(widths.min() - 0.25, widths.max() + 0.25)
    fig.tight_layout()
    return to_png(fig)


def reliability_diagram(curves: Mapping[str, Mapping[str, Sequence[float]]], title: str) -> bytes:
    """Confidence of the predicted class against its observed accuracy, per bin, with ECE.

    curves: model label -> {"confidence": (B,), "accuracy": (B,), "count": (B,), "ece": float}.
    Points on the diagonal are calibrated; below it the model is over-confident. The lower panel
    shows how many predictions fall in each bin.
    """
    colors = _colors(list(curves))
    fig, (ax, hax) = plt.subplots(2, 1, figsize=(4.6, 5.0), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ":", color="#999", lw=1, label="perfect calibration")
    for lab, cur in curves.items():
        conf = np.asarray(cur["confidence"], dtype=float)
        acc = np.asarray(cur["accuracy"], dtype=float)
        cnt = np.asarray(cur.get("count", np.ones_like(conf)), dtype=float)
        keep = np.isfinite(conf) & np.isfinite(acc) & (cnt > 0)
        ece = cur.get("ece")
        name = f"{lab} (ECE {ece:.3f})" if ece is not None else lab
        ax.plot(conf[keep], acc[keep], "o-", color=colors[lab], ms=4, label=name)
        hax.plot(conf[keep], cnt[keep], "o-", color=colors[lab], ms=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("observed accuracy")
    ax.set_title(title)
    ax.legend(loc="best")
    hax.set_xlabel("predicted confidence (max probability)")
    hax.set_ylabel("count")
    fig.tight_layout()
    return to_png(fig)
