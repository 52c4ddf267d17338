"""Fake-but-valid run and study directories (random predictions and histories) for report tests.

The files follow the run-directory format of the brief exactly; metrics are computed with
hqmed.eval from the fake predictions, and comparisons with hqmed.eval.compare_runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hqmed.eval.metrics import classification_metrics, summarize_folds
from hqmed.utils.io import atomic_write_json, atomic_write_text
from hqmed.utils.runtime import environment_info


def make_run(run_dir: Path, class_names: list[str], n: int = 90, folds: int = 3, n_test: int = 40,
             skill: float = 1.5, seed: int = 0, epochs: int = 3) -> Path:
    """Write a complete CV run directory with random-but-informative probabilities."""
    rng = np.random.default_rng(seed)
    label_rng = np.random.default_rng(1234)  # same labels for every model (paired comparisons)
    k = len(class_names)
    y = label_rng.integers(0, k, size=n)
    y_test = label_rng.integers(0, k, size=n_test)
    fold_of = np.arange(n) % folds

    def probs(labels: np.ndarray) -> np.ndarray:
        logits = rng.normal(size=(labels.size, k))
        logits[np.arange(labels.size), labels] += skill
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    rows, per_fold = [], []
    for f in range(folds):
        idx = np.flatnonzero(fold_of == f)
        p = probs(y[idx])
        per_fold.append(classification_metrics(y[idx], p, class_names))
        rows += [[i, f, "val", y[i], *p[j]] for j, i in enumerate(idx)]
        pt = probs(y_test)
        rows += [[n + j, f, "test", y_test[j], *pt[j]] for j in range(n_test)]
    cols = ["index", "fold", "split", "y_true"] + [f"prob_{c}" for c in range(k)]
    pred = pd.DataFrame(rows, columns=cols)
    run_dir.mkdir(parents=True, exist_ok=True)
    pred.to_csv(run_dir / "predictions.csv", index=False)
    val = pred[pred.split == "val"].sort_values("index")
    test = pred[pred.split == "test"].groupby("index").mean(numeric_only=True)
    prob_cols = cols[4:]
    metrics = {
        "class_names": class_names,
        "per_fold": per_fold,
        "summary": summarize_folds(per_fold),
        "oof": classification_metrics(val.y_true.to_numpy(), val[prob_cols].to_numpy(), class_names),
        "test": classification_metrics(test.y_true.to_numpy().astype(int),
                                       test[prob_cols].to_numpy(), class_names),
        "input_shape": [3, 32, 32],
        "folds": [{"fold": f} for f in range(folds)],
    }
    atomic_write_json(run_dir / "metrics.json", metrics)
    hist = []
    for f in range(folds):
        for e in range(epochs):
            hist.append({"fold": f, "epoch": e, "train_loss": 1.5 / (e + 1) + rng.random() * .1,
                         "train_acc": 0.5 + 0.1 * e, "val_loss": 1.6 / (e + 1) + rng.random() * .1,
                         "val_acc": 0.45 + 0.08 * e, "val_auc": 0.6 + 0.05 * e, "lr": 1e-3,
                         "seconds": 1.0 + rng.random()})
    pd.DataFrame(hist).to_csv(run_dir / "history.csv", index=False)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(
        {"name": run_dir.name, "seed": 42, "protocol": {"kind": "cv", "folds": folds}}))
    atomic_write_json(run_dir / "environment.json", environment_info())
    atomic_write_json(run_dir / "splits.json", {"protocol": "cv", "folds": [
        {"fold": f, "train": np.flatnonzero(fold_of != f).tolist(),
         "val": np.flatnonzero(fold_of == f).tolist()} for f in range(folds)],
        "test": list(range(n, n + n_test))})
    atomic_write_text(run_dir / "DONE", "done\n")
    return run_dir


SPINE = ["Disc space narrowing", "No finding", "Osteophytes", "Surgical implant"]
DERMA = ["akiec", "bcc", "bkl", "mel", "nv"]


def make_study(root: Path, synthetic: bool = True) -> Path:
    """A study directory with a spine pair, a 2-width LCNet sweep, cost, external and a skip."""
    from hqmed.eval import compare_runs
    from hqmed.report.results import load_run

    runs = [("phantoms", "litespinenet", SPINE, 1.6, None, None),
            ("phantoms", "hq_litespinenet", SPINE, 1.4, None, None),
            ("retina", "lcnet_050_tanh4", DERMA, 1.0, "plain", 0.5),
            ("retina", "hq_lcnet_050", DERMA, 1.2, "plain", 0.5),
            ("retina", "lcnet_100_tanh4", DERMA, 1.3, "plain", 1.0),
            ("retina", "hq_lcnet_100", DERMA, 1.1, "plain", 1.0)]
    meta = {"name": "fake-study", "title": "Fake study", "description": "report test fixture",
            "synthetic": synthetic, "command": "hqmed study configs/fake.yaml --out x",
            "environment": environment_info(), "finished": "2026-01-01T00:00:00+00:00",
            "statistics": {"alpha": 0.01, "ci_level": 0.99, "n_boot": 50},
            "runs": [], "comparisons": [],
            "skipped": [{"dataset": "dermamnist", "reason": "dermamnist.npz not found (offline)"}],
            "cost": "cost.json", "external": []}
    loaded = {}
    for i, (ds, model, names, skill, _, _) in enumerate(runs):
        path = make_run(root / "runs" / ds / model, names, skill=skill, seed=i)
        entry = {"dataset": ds, "model": model, "label": model, "path": f"runs/{ds}/{model}"}
        meta["runs"].append(entry)
        loaded[model] = load_run(path, ds, model)
    pairs = [("phantoms", "litespinenet", "hq_litespinenet", None, None),
             ("retina", "lcnet_050_tanh4", "hq_lcnet_050", "plain", 0.5),
             ("retina", "lcnet_100_tanh4", "hq_lcnet_100", "plain", 1.0)]
    for ds, a, b, sweep, width in pairs:
        doc = compare_runs(loaded[a], loaded[b], n_boot=50)
        rel = f"comparisons/{ds}/{a}__vs__{b}.json"
        atomic_write_json(root / rel, doc)
        meta["comparisons"].append({"dataset": ds, "a": a, "b": b, "sweep": sweep, "width": width,
                                    "path": rel})
    atomic_write_json(root / "cost.json", {
        "litespinenet": {"trainable_params": 758390, "flops": 6.0e7, "latency_ms": 1.8},
        "hq_litespinenet": {"trainable_params": 758453, "flops": 6.0e7 + 213, "latency_ms": 2.0,
                            "n_qubits": 7, "circuit_depth": 3, "qpu_latency_ms": 100.0}})
    from hqmed.eval.external import external_summary

    rng = np.random.default_rng(5)
    for model in ("litespinenet", "hq_litespinenet"):
        p = rng.dirichlet(np.ones(len(SPINE)), size=30)
        s = external_summary(p, SPINE)
        rel = f"external/ext/phantoms__{model}.json"
        atomic_write_json(root / rel, {"external": "ext", "dataset": "phantoms", "model": model,
                                       "label": model, "source": "phantom folder", "n": s["n"],
                                       "summary": s["per_class"]})
        meta["external"].append(rel)
    meta["search"] = fake_search()
    # a real (tiny) diagnostics document of the hybrid's kind: a 3-qubit block behind an input
    import torch

    from hqmed.eval.trainability import diagnose_model
    from hqmed.quantum import QuantumLayer

    block = torch.nn.Sequential(QuantumLayer(3, 1))
    blocks = diagnose_model(block, batches=[torch.rand(16, 3)], n_inits=3, n_inputs=8,
                            qubits=(2, 3), layers=(1,), expressibility_pairs=20)
    rel = "diagnostics/phantoms/hq_litespinenet.json"
    atomic_write_json(root / rel, {"target": "runs/phantoms/hq_litespinenet", "fold": 0,
                                   "source": "fake", "blocks": blocks})
    meta["diagnostics"] = [{"dataset": "phantoms", "model": "hq_litespinenet",
                            "label": "hq_litespinenet", "path": rel}]
    atomic_write_json(root / "study.json", meta)
    return root


def fake_search() -> dict:
    """A 2 x 2 search document (hqmed.study.search) for the phantoms LiteSpineNet run."""
    grid = [(lr, d) for lr in (1e-4, 1e-3) for d in (0.1, 0.5)]
    per_fold = {"p00": [1.2, 1.1, 1.3], "p01": [1.0, 1.2, 1.1], "p02": [0.9, 1.0, 1.2],
                "p03": [1.4, 1.5, 1.1]}
    return {"metric": "val_loss", "direction": "min", "inner_val": 0.2,
            "keys": ["optim.lr", "model.drop_rate"],
            "points": [{"id": f"p{i:02d}", "values": {"optim.lr": lr, "model.drop_rate": d}}
                       for i, (lr, d) in enumerate(grid)],
            "runs": [{"dataset": "phantoms", "model": "litespinenet",
                      "scores": {p: {"per_fold": v, "mean": float(np.mean(v)),
                                     "std": float(np.std(v, ddof=1))} for p, v in per_fold.items()},
                      "chosen_per_fold": ["p02", "p02", "p01"], "chosen": "p02",
                      "chosen_values": {"optim.lr": 1e-3, "model.drop_rate": 0.1}}]}
