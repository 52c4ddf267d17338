"""Trainability diagnostics of trained runs: ``hqmed diagnose RUN`` and the study report's
"Inside the quantum block" section (one JSON per hybrid run under ``diagnostics/``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from hqmed.data.folders import load_image_files
from hqmed.eval.trainability import diagnose_model, quantum_blocks
from hqmed.report.results import load_run
from hqmed.report.tables import metric
from hqmed.train.rundir import RunDir
from hqmed.train.runner import load_experiment_data
from hqmed.utils.io import atomic_write_json

__all__ = ["diagnose_run", "diagnose_study", "normalised_batches", "has_quantum_block", "lag_hint"]


def normalised_batches(images: np.ndarray, norm=None, batch_size: int = 64) -> list[torch.Tensor]:
    """Prepared images ``(N, C, H, W)`` as model-input batches (normalised when ``norm``)."""
    out = []
    for start in range(0, len(images), batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        out.append(norm(xb) if norm is not None else xb)
    return out


def diagnose_run(run_dir: str | Path, fold: int | None = None, files: list[str] | None = None,
                 max_samples: int = 256, **kwargs) -> dict:
    """Diagnostics of a finished run's fold model (default: its first fold) on its own data
    (its test split, else all its data) or on ``files``; ``kwargs`` go to ``diagnose_model``."""
    run = RunDir(run_dir)
    predictor = run.predictor(fold=run.fold_numbers()[0] if fold is None else fold, device="cpu")
    fold = predictor.folds[0]
    model, norm = predictor.models[0]
    if files:
        ds = load_image_files(files, channels=predictor.source_channels,
                              size=predictor.input_shape[1:])
        images, source = predictor.prepare(ds).images, f"{len(files)} --data files"
    else:
        data = load_experiment_data(predictor.cfg)
        idx = data.role("test")
        source = "the run's test split" if len(idx) else "all the run's data"
        idx = idx if len(idx) else np.arange(len(data.full))
        images = data.full.images[idx]
    images = images[:max_samples]
    blocks = diagnose_model(model, batches=normalised_batches(images, norm), **kwargs)
    return {"target": str(run_dir), "fold": fold, "source": f"{source}, fold {fold} weights",
            "blocks": blocks}


def diagnose_study(cfg, out: Path, runs: list[dict], finished: dict,
                   say: Callable[[str], None]) -> list[dict]:
    """One ``diagnostics/<dataset>/<run>.json`` per finished run with a quantum block (reused
    when present, so a resumed study does not recompute them)."""
    spec = cfg.diagnostics
    entries = []
    for r in runs:
        res = finished.get((r["dataset"], r["model"]))
        if res is None:
            continue
        run_dir = out / "runs" / r["dataset"] / r["model"]
        path = out / "diagnostics" / r["dataset"] / f"{r['model']}.json"
        entry = {"dataset": r["dataset"], "model": r["model"], "label": res.label,
                 "path": str(path.relative_to(out))}
        if path.is_file():
            entries.append(entry)
            continue
        if not has_quantum_block(run_dir):
            continue
        say(f"diagnostics {r['dataset']} · {r['model']}: quantum block trainability ...")
        doc = diagnose_run(run_dir, max_samples=spec.max_samples, n_inits=spec.inits,
                           n_inputs=spec.inputs, qubits=spec.qubits, layers=spec.layers,
                           expressibility_pairs=spec.pairs, seed=spec.seed)
        atomic_write_json(path, doc)
        for block in doc["blocks"]:
            say(f"diagnostics {r['model']}: {block['interpretation']}")
        entries.append(entry)
    return entries


def has_quantum_block(run_dir: str | Path) -> bool:
    """True when a finished run's model holds a quantum block."""
    run = RunDir(run_dir)
    model, _ = run.load_fold_model(run.fold_numbers()[0])
    return bool(quantum_blocks(model))


def lag_hint(run_a: str | Path, run_b: str | Path) -> str | None:
    """For ``hqmed compare``: a pointer to ``hqmed diagnose`` when a hybrid scores below the other
    run (pooled out-of-fold accuracy, else test accuracy); None otherwise."""
    ra, rb = load_run(run_a), load_run(run_b)

    def acc(r) -> float | None:
        v = metric(r.metrics.get("oof"), "accuracy")
        return float(v) if v is not None else metric(r.metrics.get("test"), "accuracy")

    acc_a, acc_b = acc(ra), acc(rb)
    if acc_a is None or acc_b is None or acc_a == acc_b:
        return None
    (low, low_acc), (high, high_acc) = sorted([(run_a, acc_a), (run_b, acc_b)], key=lambda t: t[1])
    if not has_quantum_block(low):
        return None
    return (f"note: the hybrid {low} lags {high} (accuracy {low_acc:.3f} against {high_acc:.3f}); "
            f"`hqmed diagnose {low}` shows whether its quantum block concentrates, sits on a "
            "barren plateau or gets inputs that barely vary")
