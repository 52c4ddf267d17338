"""Read run directories and study directories into plain Python objects for the report.

A run directory is read through :class:`hqmed.train.rundir.RunDir` (its layout is documented there). A study directory (written by :mod:`hqmed.study.runner`) holds
``study.json`` plus ``runs/<dataset>/<model>/`` run directories and the comparison, cost and
external JSON documents that ``study.json`` points to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hqmed.errors import DataNotFoundError
from hqmed.eval.metrics import confusion_matrix
from hqmed.report.tables import metric
from hqmed.train.rundir import RunDir, split_scores
from hqmed.utils.io import read_json


@dataclass
class RunResult:
    """One finished run: its identity in the study and everything it wrote."""

    path: Path
    dataset: str
    model: str
    label: str
    config: dict
    environment: dict
    metrics: dict
    history: pd.DataFrame
    predictions: pd.DataFrame
    info: dict = field(default_factory=dict)  # study-level facts: kind, sweep, width, ...

    @property
    def class_names(self) -> list[str]:
        names = self.metrics.get("class_names")
        if names:
            return list(names)
        k = sum(c.startswith("prob_") for c in self.predictions.columns)
        return [str(i) for i in range(k)]

    @property
    def protocol(self) -> str:
        return str(_dig(self.config, "protocol", "kind") or _dig(self.config, "protocol") or "cv")

    def indexed_scores(self, split: str = "val") -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(index, y_true (N,), y_score (N, K)) of ``split`` sorted by index (see :func:`split_scores`)."""
        return split_scores(self.predictions, split)

    def scores(self, split: str = "val") -> tuple[np.ndarray, np.ndarray] | None:
        """(y_true (N,), y_score (N, K)) of ``split``: "val" = out-of-fold, "test" = test.

        When several folds scored the same test sample (CV + official test split), their
        probabilities are averaged (the fold ensemble). Returns None when the split is absent.
        """
        s = self.indexed_scores(split)
        return None if s is None else (s[1], s[2])

    def per_fold(self, name: str) -> list[float]:
        """The value of metric ``name`` in each fold (empty when not recorded)."""
        vals = [metric(f, name) for f in self.metrics.get("per_fold") or []]
        return [float(v) for v in vals if isinstance(v, (int, float))]

    def per_class_accuracy(self) -> list[float] | None:
        """Recall of each class on the out-of-fold predictions (from metrics.json if present)."""
        pca = metric(self.metrics.get("oof"), "per_class_accuracy")
        if isinstance(pca, Mapping):
            pca = [pca[k] for k in (self.class_names if all(n in pca for n in self.class_names)
                                    else sorted(pca))]
        if isinstance(pca, list):  # None: a class with no out-of-fold sample (small data)
            return [float("nan") if x is None else float(x) for x in pca]
        cm = self.confusion("val")
        if cm is None:
            return None
        rows = cm.sum(axis=1)
        return [float(cm[i, i] / rows[i]) if rows[i] else float("nan") for i in range(len(cm))]

    def confusion(self, split: str = "val") -> np.ndarray | None:
        """(K, K) confusion matrix of ``split``, rows = true class (argmax of the probabilities)."""
        s = self.scores(split)
        if s is None:
            return None
        y_true, y_score = s
        return confusion_matrix(y_true, y_score.argmax(axis=1), y_score.shape[1])


def _dig(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping) or k not in d:
            return None
        d = d[k]
    return d


def load_run(path: str | Path, dataset: str | None = None, model: str | None = None,
             label: str | None = None, info: Mapping[str, Any] | None = None) -> RunResult:
    """Read a finished run directory. Raises DataNotFoundError when it is incomplete."""
    run = RunDir(path)
    for name in ("metrics.json", "predictions.csv"):
        if not (run.path / name).is_file():
            raise DataNotFoundError(f"run directory {run.path}: expected {name}; got no such file "
                                    "(is the run finished? a finished run has DONE)")
    model = model or run.path.name
    return RunResult(path=run.path, dataset=dataset or run.path.parent.name, model=model,
                     label=label or model, config=run.config_dict(), environment=run.environment(),
                     metrics=run.metrics(), history=run.history(), predictions=run.predictions(),
                     info=dict(info or {}))


@dataclass
class StudyResults:
    """Everything the report shows, read back from a study directory."""

    root: Path
    meta: dict
    runs: list[RunResult]
    comparisons: list[dict]
    cost: dict
    external: list[dict]
    cost_curve: dict | None = None  # hqmed.eval.cost_curve.qubit_cost_curve (cost.qubits)
    diagnostics: list[dict] = field(default_factory=list)  # {dataset, model, label, doc}

    @property
    def skipped(self) -> list[dict]:
        return list(self.meta.get("skipped") or [])

    def run(self, dataset: str, model: str) -> RunResult | None:
        return next((r for r in self.runs if r.dataset == dataset and r.model == model), None)

    def class_names(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self.runs:
            out.setdefault(r.dataset, r.class_names)
        return out

    def sweep_rows(self) -> list[dict]:
        """Comparisons that belong to a width sweep, with their two runs, sorted by width."""
        rows = []
        for c in self.comparisons:
            if c.get("sweep") is None or c.get("width") is None:
                continue
            a, b = self.run(c["dataset"], c["a"]), self.run(c["dataset"], c["b"])
            if a is not None and b is not None:
                rows.append({"dataset": c["dataset"], "sweep": c["sweep"],
                             "width": float(c["width"]), "a": a, "b": b})
        return sorted(rows, key=lambda r: (r["dataset"], r["sweep"], r["width"]))


def load_study(root: str | Path) -> StudyResults:
    """Read ``root/study.json`` and every finished run, comparison, cost and external document."""
    root = Path(root)
    if not (root / "study.json").is_file():
        raise DataNotFoundError(f"study directory {root}: expected study.json; got no such file")
    meta = read_json(root / "study.json")
    runs = []
    for r in meta.get("runs", []):
        p = root / r["path"]
        if (p / "DONE").is_file():
            runs.append(load_run(p, r["dataset"], r["model"], r.get("label"), r))
    labels = {(r.dataset, r.model): r.label for r in runs}
    comparisons = []
    for c in meta.get("comparisons", []):
        p = root / c["path"] if c.get("path") else None
        if p is None or not p.is_file():
            continue
        doc = read_json(p)
        doc.update({k: v for k, v in c.items() if k != "path"})
        doc.setdefault("label_a", labels.get((c["dataset"], c["a"]), c["a"]))
        doc.setdefault("label_b", labels.get((c["dataset"], c["b"]), c["b"]))
        comparisons.append(doc)
    cost = read_json(root / meta["cost"]) if meta.get("cost") and (root / meta["cost"]).is_file() \
        else {}
    external = [read_json(root / p) for p in meta.get("external", []) if (root / p).is_file()]
    curve = meta.get("cost_curve")
    cost_curve = read_json(root / curve) if curve and (root / curve).is_file() else None
    diagnostics = [{**d, "doc": read_json(root / d["path"])} for d in meta.get("diagnostics") or []
                   if (root / d["path"]).is_file()]
    return StudyResults(root=root, meta=meta, runs=runs, comparisons=comparisons, cost=cost,
                        external=external, cost_curve=cost_curve, diagnostics=diagnostics)
