"""Hyperparameter search and sensitivity analysis, nested in the study's protocol.

For every searched (dataset, model) run and every point of ``search:`` (a grid, or seeded random
draws), a *search run* ``out/search/<dataset>/<model>/<point>/`` is the run's experiment at that
point with ``protocol.inner_val``: fold i trains on its training portion minus an inner
validation part carved from that portion (:func:`hqmed.train.runner.inner_splits`) and is scored
on that inner part only. The selection metric of fold i at a point is the fold's ``best_value``
(its ``selection.metric`` at the best epoch, on the inner part).

Selection is nested: fold i takes the point with the best selection metric on *its own* inner
part, so neither fold i's scored part nor the test split reaches its choice. The study's run is
then trained under the study's protocol with each fold at its own chosen point (recorded as
``hparams`` in the fold's result). The *chosen configuration* reported is the point most folds
chose (ties: the best mean); the sensitivity plots vary one hyperparameter around it.

Search runs are ordinary run directories, so they resume, run on any executor, and stay the
source of truth; ``search.json`` (also ``study.json["search"]``) is derived from them::

    {"metric", "direction": "min" | "max", "inner_val", "keys", "points": [{"id", "values"}],
     "runs": [{"dataset", "model", "scores": {point id: {"per_fold", "mean", "std"}},
               "chosen_per_fold": [point id per fold], "chosen": point id, "chosen_values"}]}
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from hqmed.study.config import SEARCH_KEYS, SearchSpec, StudyConfig
from hqmed.train.config import ExperimentConfig, parse_config
from hqmed.train.executor import Job
from hqmed.train.rundir import RunDir

__all__ = ["apply_point", "choose", "search_jobs", "search_points", "summarize_search"]


def search_points(spec: SearchSpec) -> list[dict[str, Any]]:
    """The points of ``spec``: the grid's combinations (first key varying slowest), or
    ``n_trials`` seeded draws (lr log-uniform, 3 significant digits)."""
    if spec.grid:
        keys = [k for k in SEARCH_KEYS if k in spec.grid]
        return [dict(zip(keys, vals)) for vals in itertools.product(*(spec.grid[k] for k in keys))]
    rng = np.random.default_rng(spec.seed)
    keys = [k for k in SEARCH_KEYS if k in spec.ranges]
    points = []
    for _ in range(spec.n_trials or 0):
        point: dict[str, Any] = {}
        for k in keys:
            v = spec.ranges[k]
            if k == "batch_size":
                point[k] = int(v[int(rng.integers(len(v)))])
            elif k == "optim.lr":
                point[k] = float(f"{10 ** rng.uniform(math.log10(v[0]), math.log10(v[1])):.3g}")
            else:
                point[k] = float(f"{rng.uniform(v[0], v[1]):.3g}")
        points.append(point)
    return points


def point_id(i: int) -> str:
    return f"p{i:02d}"


def apply_point(cfg: ExperimentConfig, point: dict[str, Any], **extra: Any) -> ExperimentConfig:
    """``cfg`` with the point's dotted keys (and ``extra`` dotted keys, ``__`` for dots) set."""
    d = cfg.model_dump(mode="json")
    for key, value in [*point.items(), *((k.replace("__", "."), v) for k, v in extra.items())]:
        *head, last = key.split(".")
        node = d
        for h in head:
            node = node[h]
        node[last] = value
    return parse_config(d, source=f"{cfg.name} at {point}")


def in_scope(spec: SearchSpec, run: dict) -> bool:
    return ((spec.datasets is None or run["dataset"] in spec.datasets)
            and (spec.models is None or run["model"] in spec.models))


def metric_of(spec: SearchSpec, cfg: ExperimentConfig) -> str:
    return spec.metric or cfg.selection.metric


def search_jobs(cfg: StudyConfig, runs: list[dict], out: Path) -> list[Job]:
    """One search run per (searched run, point)."""
    spec = cfg.search
    jobs = []
    for r in runs:
        if not in_scope(spec, r):
            continue
        conf = r["config"]
        for i, point in enumerate(search_points(spec)):
            pid = point_id(i)
            sconf = apply_point(conf, point, protocol__inner_val=spec.inner_val,
                                selection__metric=metric_of(spec, conf),
                                name=f"{conf.name}-search-{pid}")
            jobs.append(Job(f"search {r['dataset']} · {r['model']} · {pid}", sconf,
                            out / "search" / r["dataset"] / r["model"] / pid))
    return jobs


def choose(scores: dict[str, list[float]], direction: str) -> tuple[list[str], str]:
    """(best point per fold, the point most folds chose; ties: best mean, then first)."""
    ids = list(scores)
    n = len(next(iter(scores.values())))
    sign = 1.0 if direction == "min" else -1.0
    per_fold = [min(ids, key=lambda p: (sign * scores[p][f], ids.index(p))) for f in range(n)]
    counts = {p: per_fold.count(p) for p in ids}
    best = min(ids, key=lambda p: (-counts[p], sign * float(np.mean(scores[p])), ids.index(p)))
    return per_fold, best


def summarize_search(cfg: StudyConfig, runs: list[dict], out: Path,
                     finished: set[str]) -> dict:
    """search.json from the finished search runs (``finished``: their Job names)."""
    spec = cfg.search
    points = search_points(spec)
    metric = metric_of(spec, runs[0]["config"]) if runs else spec.metric
    direction = "min" if metric == "val_loss" else "max"
    doc: dict[str, Any] = {
        "metric": metric, "direction": direction, "inner_val": spec.inner_val,
        "keys": [k for k in SEARCH_KEYS if k in (spec.grid or spec.ranges)],
        "points": [{"id": point_id(i), "values": p} for i, p in enumerate(points)], "runs": []}
    for r in runs:
        if not in_scope(spec, r):
            continue
        base = out / "search" / r["dataset"] / r["model"]
        names = [f"search {r['dataset']} · {r['model']} · {point_id(i)}" for i in range(len(points))]
        if not all(n in finished for n in names):
            continue  # its dataset was skipped
        scores = {point_id(i): [float(f["best_value"]) for f in
                                RunDir(base / point_id(i)).metrics()["folds"]]
                  for i in range(len(points))}
        per_fold, chosen = choose(scores, direction)
        doc["runs"].append({
            "dataset": r["dataset"], "model": r["model"],
            "scores": {p: {"per_fold": v, "mean": float(np.mean(v)),
                           "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}
                       for p, v in scores.items()},
            "chosen_per_fold": per_fold, "chosen": chosen,
            "chosen_values": points[int(chosen[1:])]})
    return doc


def chosen_jobs(doc: dict, runs: list[dict], out: Path) -> dict[tuple[str, str], Job]:
    """The study's run of every searched (dataset, model): its config at the chosen point, and
    each fold at the point that fold chose."""
    values = {p["id"]: p["values"] for p in doc["points"]}
    jobs = {}
    by_key = {(r["dataset"], r["model"]): r for r in runs}
    for s in doc["runs"]:
        r = by_key[(s["dataset"], s["model"])]
        conf = r["config"]
        folds = {f: (apply_point(conf, values[p]), values[p])
                 for f, p in enumerate(s["chosen_per_fold"])}
        jobs[(s["dataset"], s["model"])] = Job(
            f"{s['dataset']} · {s['model']}", apply_point(conf, s["chosen_values"]),
            out / "runs" / s["dataset"] / s["model"], folds)
    return jobs
