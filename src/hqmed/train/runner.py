"""Run an experiment (holdout or K-fold CV) into a resumable run directory.

``run_experiment(config, run_dir)`` writes::

    run_dir/
      config.yaml          the resolved config (every default filled in)
      environment.json     environment_info(): versions, git commit, CPU, command (+ resumes)
      splits.json          {"protocol", "folds": [{"fold", "train", "val"}], "test", "sources"}
      history.csv          fold, epoch, train_loss, train_acc, val_loss, val_acc, val_auc, lr, seconds
      fold_<i>/            checkpoint/{last,best}.safetensors + last.json, log.jsonl, history.csv,
                           normalizer.json, predictions.csv, result.json, DONE
      predictions.csv      index, fold, split, y_true, prob_0 .. prob_{K-1}
      metrics.json         class_names, input_shape, folds, per_fold, summary, oof, per_fold_test, test_summary,
                           test, test_method
      DONE                 written last

**Indices.** The experiment's data is the concatenation of the source's splits used, in the order
train, val, test (each after the optional ``max_samples`` subsample). Every index in splits.json
and predictions.csv is a position in that concatenation; ``splits.json["sources"]`` says which
range came from which source split (and which source rows were kept when subsampled), so the
data can be rebuilt exactly.

**Protocols.**

- holdout: one "fold" 0. Official val/test splits are used when the source has them and
  ``protocol.use_official_splits``; whatever is missing is split off the training data
  (stratified, group-aware) with ``val_fraction``/``test_fraction`` (fractions of the pooled data).
- cv: stratified K-fold (group-aware when ``meta.group`` has repeated ids and
  ``protocol.group_aware``) over the train split (+ the val split when ``cv_include_val``). The
  validation part of fold i gives the out-of-fold (OoF) predictions (split "val"). When the source
  has a test split and ``evaluate_test``, every fold's best model also predicts it (split "test",
  one row per fold and sample).

**Metrics** (``metrics.json``, all from ``hqmed.eval.metrics.classification_metrics``):
``per_fold[i]`` = metrics of fold i's validation predictions, ``summary`` = mean ± std (sample std)
over folds, ``oof`` = metrics of all OoF predictions pooled, ``per_fold_test[i]`` / ``test_summary``
= each fold model on the test split, and ``test`` = the fold ENSEMBLE on the test split (mean of
the fold models' probabilities; for holdout simply the model's). ``folds[i]`` holds best epoch and
sizes. compare/McNemar/bootstrap use the ensemble test predictions (:func:`ensemble_test_predictions`).

**Resume.** Finished folds (``fold_i/DONE``) are loaded, an unfinished fold continues from its
last epoch checkpoint (bit-identical to an uninterrupted run), and a finished run (``DONE``) is
returned at once. Resuming with a config that changes results is refused (ConfigError).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from hqmed.errors import ConfigError, DataError
from hqmed.train.checkpoint import load_weights
from hqmed.train.config import ExperimentConfig, dump_config, parse_config
from hqmed.train.logging import HISTORY_COLUMNS, history_to_csv
from hqmed.train.prepare import (
    balance,
    build_augment,
    build_model,
    fit_normalizer,
    load_datasets,
    prepare_split,
    subsample,
)
from hqmed.train.trainer import Trainer, fold_seed
from hqmed.utils.io import atomic_write_json, atomic_write_text, read_json
from hqmed.utils.runtime import environment_info

__all__ = [
    "ExperimentData",
    "is_complete",
    "load_experiment_data",
    "load_fold_model",
    "load_predictions",
    "load_run_config",
    "make_splits",
    "run_experiment",
    "ensemble_test_predictions",
]

log = logging.getLogger(__name__)

ROLES = ("train", "val", "test")
# Config keys that may change between a run and its resumption (they do not change results).
_RESUME_FREE = {"name", "device", "num_threads", "tensorboard", "eval_batch_size"}


# ---------------------------------------------------------------------------------------------
# Data


@dataclass
class ExperimentData:
    """The experiment's data: one dataset (train, val, test concatenated) and where each came from."""

    full: Any  # hqmed.data.base.ImageDataset, prepared (resized, channels, quanvolution)
    ranges: dict[str, tuple[int, int]]  # role -> [start, stop) in ``full``
    sources: dict[str, dict] = field(default_factory=dict)  # role -> {"split", "n", "kept"}

    @property
    def class_names(self) -> list[str]:
        return list(self.full.class_names)

    def role(self, name: str) -> np.ndarray:
        start, stop = self.ranges.get(name, (0, 0))
        return np.arange(start, stop, dtype=np.int64)


def _pick_roles(cfg: ExperimentConfig, datasets: dict) -> dict[str, str]:
    """role -> source split name, for the roles that exist."""
    d = cfg.data
    roles: dict[str, str] = {}
    if d.train_split in datasets:
        roles["train"] = d.train_split
    elif "all" in datasets:
        roles["train"] = "all"
    else:
        raise ConfigError(f"data.train_split: expected one of the source's splits {sorted(datasets)}; "
                          f"got '{d.train_split}'")
    for role, name in (("val", d.val_split), ("test", d.test_split)):
        if name is not None and name in datasets and name != roles["train"]:
            roles[role] = name
    return roles


def load_experiment_data(cfg: ExperimentConfig, datasets: dict | None = None) -> ExperimentData:
    """Load (or take) the source's splits, subsample, prepare, and concatenate train/val/test."""
    if datasets is None:
        datasets = load_datasets(cfg)
    roles = _pick_roles(cfg, datasets)
    parts, ranges, sources, start = [], {}, {}, 0
    for i, role in enumerate(ROLES):
        if role not in roles:
            continue
        ds = datasets[roles[role]]
        if len(ds) and (ds.labels < 0).any():
            raise DataError(f"{ds.name}: expected labelled images for training/evaluation; got "
                            f"{int((ds.labels < 0).sum())} unlabelled (-1) labels")
        ds, kept = subsample(ds, cfg.data.max_samples, seed=fold_seed(cfg.seed, i, 3))
        ds = prepare_split(ds, cfg)
        parts.append(ds)
        ranges[role] = (start, start + len(ds))
        sources[role] = {"split": roles[role], "n": len(ds),
                         "kept": None if kept is None else [int(k) for k in kept]}
        start += len(ds)
    full = parts[0].concat(*parts[1:], name=f"{cfg.data.source}") if len(parts) > 1 else parts[0]
    return ExperimentData(full=full, ranges=ranges, sources=sources)


def _groups(data: ExperimentData, idx: np.ndarray, group_aware: bool) -> np.ndarray | None:
    """Group ids of ``idx`` when grouping matters (some group holds several images)."""
    if not group_aware:
        return None
    g = data.full.meta["group"].to_numpy()[idx]
    return g if len(pd.unique(g)) < len(g) else None


def make_splits(cfg: ExperimentConfig, data: ExperimentData) -> dict:
    """``{"protocol", "folds": [(train_idx, val_idx)], "test": idx | None}`` (global indices)."""
    from hqmed.data.splits import holdout_split, stratified_kfold

    p = cfg.protocol
    y = data.full.labels
    has_val, has_test = "val" in data.ranges, "test" in data.ranges
    if p.kind == "holdout":
        use_val = has_val and p.use_official_splits
        use_test = has_test and p.use_official_splits
        pool = [data.role("train")]
        if has_val and not use_val:
            pool.append(data.role("val"))
        if has_test and not use_test:
            pool.append(data.role("test"))
        pool = np.concatenate(pool)
        tr, va, te = holdout_split(y[pool], val_fraction=0.0 if use_val else p.val_fraction,
                                   test_fraction=0.0 if use_test else p.test_fraction,
                                   seed=cfg.seed, groups=_groups(data, pool, p.group_aware))
        train = pool[tr]
        val = data.role("val") if use_val else pool[va]
        test = data.role("test") if use_test else (pool[te] if len(te) else None)
        return {"protocol": "holdout", "folds": [(np.sort(train), np.sort(val))],
                "test": None if test is None else np.sort(test)}
    pool = [data.role("train")]
    if has_val and p.cv_include_val:
        pool.append(data.role("val"))
    pool = np.concatenate(pool)
    if p.stratified:
        folds = stratified_kfold(y[pool], k=p.folds, seed=cfg.seed,
                                 groups=_groups(data, pool, p.group_aware))
    else:
        from sklearn.model_selection import GroupKFold, KFold

        groups = _groups(data, pool, p.group_aware)
        if len(pool) < p.folds:
            raise DataError(f"protocol.folds: expected at least {p.folds} images; got {len(pool)}")
        splitter = (GroupKFold(n_splits=p.folds) if groups is not None
                    else KFold(n_splits=p.folds, shuffle=True, random_state=cfg.seed))
        folds = [(np.sort(a), np.sort(b)) for a, b in splitter.split(pool, y[pool], groups)]
    test = data.role("test") if has_test and p.evaluate_test else None
    return {"protocol": "cv", "folds": [(pool[a], pool[b]) for a, b in folds], "test": test}


def _splits_json(splits: dict, data: ExperimentData) -> dict:
    return {
        "protocol": splits["protocol"],
        "folds": [{"fold": i, "train": tr.tolist(), "val": va.tolist()}
                  for i, (tr, va) in enumerate(splits["folds"])],
        "test": None if splits["test"] is None else splits["test"].tolist(),
        "sources": {role: dict(src, start=data.ranges[role][0], stop=data.ranges[role][1])
                    for role, src in data.sources.items()},
    }


# ---------------------------------------------------------------------------------------------
# Run directory helpers


def is_complete(run_dir: str | Path) -> bool:
    return (Path(run_dir) / "DONE").is_file()


def load_run_config(run_dir: str | Path) -> ExperimentConfig:
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise DataError(f"run directory {run_dir}: expected config.yaml (an hqmed run); got no such file")
    return parse_config(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path))


def load_predictions(run_dir: str | Path) -> pd.DataFrame:
    """predictions.csv of a finished run (exact float64 round trip)."""
    path = Path(run_dir) / "predictions.csv"
    if not path.is_file():
        raise DataError(f"run directory {run_dir}: expected predictions.csv (a finished run); got no such file")
    return pd.read_csv(path, float_precision="round_trip")


def _prob_columns(df: pd.DataFrame) -> list[str]:
    return sorted((c for c in df.columns if c.startswith("prob_")), key=lambda c: int(c[5:]))


def ensemble_test_predictions(preds: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(index, y_true, probabilities) of the fold ensemble on the test split, or None without one.

    The ensemble probability of a test image is the mean over the folds' models (holdout: the
    single model's probability).
    """
    test = preds[preds["split"] == "test"]
    if test.empty:
        return None
    cols = _prob_columns(preds)
    agg = test.groupby("index", sort=True).agg({"y_true": "first", **{c: "mean" for c in cols}})
    return agg.index.to_numpy(), agg["y_true"].to_numpy(np.int64), agg[cols].to_numpy(np.float64)


def _prediction_frame(index: np.ndarray, fold: int, split: str, y: np.ndarray,
                      prob: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({"index": index, "fold": fold, "split": split, "y_true": y})
    for k in range(prob.shape[1]):
        df[f"prob_{k}"] = prob[:, k]
    return df


def _result_config(cfg: ExperimentConfig) -> dict:
    d = cfg.model_dump(mode="json", exclude=_RESUME_FREE)
    d["data"].pop("data_root", None)
    return d


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [f"{prefix[:-1]} (run: {a!r}, now: {b!r})"]


def _prepare_run_dir(cfg: ExperimentConfig, run_dir: Path, resume: bool) -> None:
    cfg_path = run_dir / "config.yaml"
    if run_dir.exists() and any(run_dir.iterdir()):
        if not cfg_path.is_file():
            raise ConfigError(f"run directory {run_dir}: expected an empty folder or an hqmed run; "
                              "got a folder without config.yaml (choose another --out)")
        if resume:
            old = load_run_config(run_dir)
            diff = _diff(_result_config(old), _result_config(cfg))
            if diff:
                raise ConfigError(
                    f"run directory {run_dir}: expected the same config to resume; got changes in "
                    f"{'; '.join(diff[:5])}. Use --no-resume to start again or another --out")
        else:
            for child in run_dir.iterdir():
                if child.is_dir() and child.name.startswith("fold_"):
                    shutil.rmtree(child)
                elif child.name in {"config.yaml", "environment.json", "splits.json", "history.csv",
                                    "predictions.csv", "metrics.json", "DONE", "compare.json"}:
                    child.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg_path, dump_config(cfg))
    env = environment_info()
    env["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env_path = run_dir / "environment.json"
    if resume and env_path.is_file():
        first = read_json(env_path)
        first.setdefault("resumes", []).append({"started": env["started"], "command": env["command"],
                                                "git_commit": env["git_commit"]})
        env = first
    atomic_write_json(env_path, env)


# ---------------------------------------------------------------------------------------------
# One fold


def _run_fold(cfg: ExperimentConfig, data: ExperimentData, fold: int, train_idx: np.ndarray,
              val_idx: np.ndarray, test_idx: np.ndarray | None, run_dir: Path, resume: bool,
              progress: bool | None, callbacks) -> tuple[pd.DataFrame, dict]:
    fold_dir = run_dir / f"fold_{fold}"
    if resume and (fold_dir / "DONE").is_file():
        log.info("fold %d: already finished, loading its results", fold)
        return (pd.read_csv(fold_dir / "predictions.csv", float_precision="round_trip"),
                read_json(fold_dir / "result.json"))
    full = data.full
    k = full.num_classes
    x_tr, y_tr = full.images[train_idx], full.labels[train_idx]
    x_va, y_va = full.images[val_idx], full.labels[val_idx]
    normalizer = fit_normalizer(x_tr)  # training portion only, before any oversampling
    atomic_write_json(fold_dir / "normalizer.json", normalizer.to_dict())
    bal = balance(x_tr, y_tr, k, cfg, seed=fold_seed(cfg.seed, fold, 4))
    model = build_model(cfg, num_classes=k, in_chans=full.image_shape[0],
                        seed=fold_seed(cfg.seed, fold, 0))
    trainer = Trainer(model, cfg, fold_dir / "checkpoint", fold=fold,
                      class_weights=bal.class_weights, sample_weights=bal.sample_weights,
                      augment=build_augment(cfg.augmentation), normalize=normalizer,
                      log_dir=fold_dir, callbacks=callbacks, progress=progress)
    result = trainer.fit(bal.x, bal.y, x_va, y_va, resume=resume)
    frames = [_prediction_frame(val_idx, fold, "val", y_va, trainer.predict_proba(x_va))]
    if test_idx is not None and len(test_idx):
        frames.append(_prediction_frame(test_idx, fold, "test", full.labels[test_idx],
                                        trainer.predict_proba(full.images[test_idx])))
    preds = pd.concat(frames, ignore_index=True)
    info = {"fold": fold, "best_epoch": result.best_epoch, "best_value": result.best_value,
            "selection_metric": cfg.selection.metric, "epochs_run": len(result.history),
            "stopped_early": result.stopped_early, "n_train": int(len(train_idx)),
            "n_train_balanced": int(len(bal.y)), "n_val": int(len(val_idx)),
            "n_test": 0 if test_idx is None else int(len(test_idx)), "history": result.history}
    atomic_write_text(fold_dir / "predictions.csv", preds.to_csv(index=False))
    atomic_write_json(fold_dir / "result.json", info)
    atomic_write_text(fold_dir / "DONE", "")
    return preds, info


# ---------------------------------------------------------------------------------------------
# The experiment


def _metrics(preds: pd.DataFrame, infos: list[dict], class_names: list[str],
             input_shape: tuple[int, ...]) -> dict:
    from hqmed.eval.metrics import classification_metrics, summarize_folds

    cols = _prob_columns(preds)

    def metrics_of(df: pd.DataFrame) -> dict:
        return classification_metrics(df["y_true"].to_numpy(np.int64), df[cols].to_numpy(np.float64),
                                      class_names=class_names)

    val = preds[preds["split"] == "val"]
    per_fold = [metrics_of(val[val["fold"] == i["fold"]]) for i in infos]
    test = preds[preds["split"] == "test"]
    per_fold_test = [metrics_of(test[test["fold"] == i["fold"]]) for i in infos] if len(test) else None
    ens = ensemble_test_predictions(preds)
    return {
        "class_names": class_names,
        "input_shape": [int(v) for v in input_shape],  # (C, H, W) the models were trained on
        "folds": [{k: v for k, v in i.items() if k != "history"} for i in infos],
        "per_fold": per_fold,
        "summary": summarize_folds(per_fold),
        "oof": metrics_of(val),
        "per_fold_test": per_fold_test,
        "test_summary": summarize_folds(per_fold_test) if per_fold_test else None,
        "test": None if ens is None else classification_metrics(ens[1], ens[2], class_names=class_names),
        "test_method": None if ens is None else ("single model" if len(infos) == 1 else
                                                 f"ensemble: mean probability of {len(infos)} fold models"),
    }


def run_experiment(config: ExperimentConfig, run_dir: str | Path, resume: bool = True, *,
                   datasets: dict | None = None, progress: bool | None = None,
                   callbacks=()) -> Path:
    """Run ``config`` into ``run_dir`` (see the module docstring) and return ``run_dir``.

    Args:
        config: a validated :class:`ExperimentConfig`.
        run_dir: output folder; created if missing.
        resume: continue a previous run in ``run_dir`` (finished folds/epochs are not redone);
            False deletes that run's files first.
        datasets: ``{split: ImageDataset}`` to use instead of ``load_source`` (programmatic use).
        progress: tqdm bars (None = when stderr is a terminal).
        callbacks: ``f(row)`` after every epoch (row = one history.csv row).
    """
    cfg = config
    run_dir = Path(run_dir)
    if resume and is_complete(run_dir):
        log.info("%s: run already complete (DONE present); not repeated", run_dir)
        return run_dir
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    _prepare_run_dir(cfg, run_dir, resume)
    data = load_experiment_data(cfg, datasets)
    splits = make_splits(cfg, data)
    sj = _splits_json(splits, data)
    sj_path = run_dir / "splits.json"
    if resume and sj_path.is_file() and read_json(sj_path) != sj:
        raise DataError(f"{sj_path}: expected the same splits to resume; got different data or "
                        "indices (the data changed). Use --no-resume to start again")
    atomic_write_json(sj_path, sj, indent=None)

    frames, infos = [], []
    for fold, (tr, va) in enumerate(splits["folds"]):
        log.info("fold %d/%d: %d train, %d val", fold + 1, len(splits["folds"]), len(tr), len(va))
        preds, info = _run_fold(cfg, data, fold, tr, va, splits["test"], run_dir, resume, progress,
                                callbacks)
        frames.append(preds)
        infos.append(info)
    preds = pd.concat(frames, ignore_index=True)
    history = [row for info in infos for row in info["history"]]
    atomic_write_text(run_dir / "history.csv", history_to_csv(history, HISTORY_COLUMNS))
    atomic_write_text(run_dir / "predictions.csv", preds.to_csv(index=False))
    atomic_write_json(run_dir / "metrics.json", _metrics(preds, infos, data.class_names,
                                                         data.full.image_shape))
    atomic_write_text(run_dir / "DONE", time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    return run_dir


# ---------------------------------------------------------------------------------------------
# Reloading trained models (evaluate / predict / external)


def load_fold_model(run_dir: str | Path, fold: int, cfg: ExperimentConfig | None = None,
                    metrics: dict | None = None):
    """(model in eval mode with fold ``fold``'s best weights, its Normalizer) from a finished run."""
    from hqmed.data.transforms import Normalizer

    run_dir = Path(run_dir)
    cfg = cfg or load_run_config(run_dir)
    metrics = metrics or read_json(run_dir / "metrics.json")
    fold_dir = run_dir / f"fold_{fold}"
    norm = Normalizer.from_dict(read_json(fold_dir / "normalizer.json"))
    model = build_model(cfg, num_classes=len(metrics["class_names"]),
                        in_chans=int(metrics["input_shape"][0]), seed=0)
    model.load_state_dict(load_weights(fold_dir / "checkpoint" / "best.safetensors"))
    model.eval()
    return model, norm
