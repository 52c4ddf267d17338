"""Run an experiment (holdout or K-fold CV) into a resumable run directory.

``run_experiment(config, run_dir)`` writes a run directory (layout and reading:
:mod:`hqmed.train.rundir`).

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
sizes. compare/McNemar/bootstrap use the ensemble test predictions (:func:`hqmed.train.rundir.split_scores`).

**Resume.** Finished folds (``fold_i/DONE``) are loaded, an unfinished fold continues from its
last epoch checkpoint (bit-identical to an uninterrupted run), and a finished run (``DONE``) is
returned at once. Resuming with a config that changes results is refused (ConfigError).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, KFold

from hqmed.data.splits import holdout_split, stratified_kfold
from hqmed.errors import ConfigError, DataError
from hqmed.eval.metrics import classification_metrics, summarize_folds
from hqmed.eval.statistics import bootstrap_overall_ci, wilson_interval
from hqmed.train.config import ExperimentConfig
from hqmed.train.prepare import (
    balance,
    build_augment,
    build_model,
    fit_normalizer,
    load_datasets,
    prepare_split,
    subsample,
)
from hqmed.train.progress import RunProgress
from hqmed.train.rundir import (
    RunDir,
    data_fingerprint,
    prediction_frame,
    prob_columns,
    split_scores,
)
from hqmed.train.trainer import Trainer, fold_seed
from hqmed.utils.runtime import torch_threads

__all__ = ["ExperimentData", "finish_run", "run_summary_lines", "load_experiment_data", "make_splits", "prepare_run",
           "run_experiment", "run_unit"]

log = logging.getLogger(__name__)

ROLES = ("train", "val", "test")


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
        if role == "train":
            _check_classes(ds)
        ds = prepare_split(ds, cfg)
        parts.append(ds)
        ranges[role] = (start, start + len(ds))
        sources[role] = {"split": roles[role], "n": len(ds),
                         "kept": None if kept is None else [int(k) for k in kept]}
        start += len(ds)
    full = parts[0].concat(*parts[1:], name=f"{cfg.data.source}") if len(parts) > 1 else parts[0]
    return ExperimentData(full=full, ranges=ranges, sources=sources)


def _check_classes(ds) -> None:
    """A classifier needs at least two classes with images in its training data (before training)."""
    present = np.unique(ds.labels)
    if len(present) < 2:
        names = [ds.class_names[k] for k in present]
        raise DataError(f"{ds.name}: expected images of at least 2 classes to train a classifier; got "
                        f"{len(ds)} image(s), all of class {names} (classes declared: {ds.class_names})")


def _groups(data: ExperimentData, idx: np.ndarray, group_aware: bool) -> np.ndarray | None:
    """Group ids of ``idx`` when grouping matters (some group holds several images)."""
    if not group_aware:
        return None
    g = data.full.meta["group"].to_numpy()[idx]
    return g if len(pd.unique(g)) < len(g) else None


def make_splits(cfg: ExperimentConfig, data: ExperimentData) -> dict:
    """``{"protocol", "folds": [(train_idx, val_idx)], "test": idx | None, "inner": [idx | None]}``
    (global indices).

    With ``protocol.inner_val`` the folds are :func:`inner_splits` of the protocol's folds (a
    search scores its points on them). ``inner[i]``: the inner validation split carved from fold
    i's training portion for best-epoch selection (``selection.source: inner``), stratified and
    group-aware, seeded per fold; None when the fold selects on its own validation split (holdout
    with a test split, which is what gets scored) or does not select (``selection.source: none``).
    """
    splits = _protocol_splits(cfg, data)
    p = cfg.protocol
    if p.inner_val is not None:
        splits = inner_splits(splits, data, p.inner_val, cfg.seed, p.group_aware)
    return splits | {"inner": _selection_splits(cfg, data, splits)}


def _selection_splits(cfg: ExperimentConfig, data: ExperimentData, splits: dict
                      ) -> list[np.ndarray | None]:
    """Per fold, the part of its training portion that best-epoch selection looks at (or None)."""
    sel = cfg.selection
    carve = sel.source == "inner" and (splits["protocol"] != "holdout" or splits["test"] is None)
    y = data.full.labels
    inner = []
    for fold, (tr, _) in enumerate(splits["folds"]):
        if not carve:
            inner.append(None)
            continue
        # at least one image per class present, so the stratified split exists on small data
        fraction = max(sel.inner_fraction, len(np.unique(y[tr])) / len(tr))
        if fraction >= 0.5:
            raise DataError(f"selection.inner_fraction: expected a training portion large enough "
                            f"to hold out one image per class; got {len(tr)} images for "
                            f"{len(np.unique(y[tr]))} classes in fold {fold} (use selection.source"
                            "=none or more data)")
        _, part = carve_inner(data, tr, fraction, fold_seed(cfg.seed, fold, 6),
                              cfg.protocol.group_aware)
        inner.append(np.sort(part))
    return inner


def inner_splits(splits: dict, data: ExperimentData, fraction: float, seed: int,
                 group_aware: bool = True) -> dict:
    """Fold i becomes (its training portion minus an inner validation part, that inner part).

    The inner part is a stratified (group-aware) ``fraction`` of fold i's training portion,
    seeded per fold; only the training portion's labels are read, so neither fold i's own
    validation part nor the test split (dropped: ``test`` is None) can reach what is selected on
    the inner parts.
    """
    folds = [carve_inner(data, tr, fraction, fold_seed(seed, i, 5), group_aware)
             for i, (tr, _) in enumerate(splits["folds"])]
    return {"protocol": f"{splits['protocol']}+inner", "folds": folds, "test": None}


def carve_inner(data: ExperimentData, train_idx: np.ndarray, fraction: float, seed: int,
                group_aware: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(rest, inner part) of a training portion: a stratified, group-aware ``fraction`` of it,
    drawn from its labels only. One carve for both uses: a search's inner folds
    (:func:`inner_splits`) and best-epoch selection (``selection.source: inner``)."""
    y = data.full.labels
    a, b, _ = holdout_split(y[train_idx], val_fraction=fraction, test_fraction=0.0, seed=seed,
                            groups=_groups(data, train_idx, group_aware))
    return train_idx[a], train_idx[b]


def _protocol_splits(cfg: ExperimentConfig, data: ExperimentData) -> dict:
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
        "folds": [{"fold": i, "train": tr.tolist(), "val": va.tolist(),
                   "inner_val": None if inner is None else inner.tolist()}
                  for i, ((tr, va), inner) in enumerate(zip(splits["folds"], splits["inner"]))],
        "test": None if splits["test"] is None else splits["test"].tolist(),
        "sources": {role: dict(src, start=data.ranges[role][0], stop=data.ranges[role][1])
                    for role, src in data.sources.items()},
        "fingerprint": data_fingerprint(data.full.images, data.full.labels, data.ranges,
                                        data.class_names),
    }


# ---------------------------------------------------------------------------------------------
# One fold


def _selection_data(cfg: ExperimentConfig, train_idx: np.ndarray, val_idx: np.ndarray,
                    inner_idx: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(indices the model is fitted on, indices best-epoch selection looks at or None)."""
    if cfg.selection.source == "none":
        return train_idx, None
    if inner_idx is None:  # holdout with a test split: select on its validation split
        return train_idx, val_idx
    return np.setdiff1d(train_idx, inner_idx), inner_idx


def _run_fold(cfg: ExperimentConfig, data: ExperimentData, fold: int, train_idx: np.ndarray,
              val_idx: np.ndarray, test_idx: np.ndarray | None, run: RunDir, resume: bool,
              progress: RunProgress | bool | None, callbacks, hparams: dict | None = None,
              inner_idx: np.ndarray | None = None) -> tuple[pd.DataFrame, dict]:
    """Train fold ``fold`` and predict its scored split (and the test split).

    The labels of ``val_idx`` (CV) and ``test_idx`` are never read before the predictions are
    made: selection uses ``inner_idx`` (or, in holdout with a test split, ``val_idx``).
    """
    if resume and run.fold_is_done(fold):
        log.info("fold %d: already finished, loading its results", fold)
        if isinstance(progress, RunProgress):
            progress.fold(fold, cfg.epochs)
        return run.read_fold(fold)
    fold_dir = run.fold_dir(fold)
    full = data.full
    k = full.num_classes
    fit_idx, sel_idx = _selection_data(cfg, train_idx, val_idx, inner_idx)
    x_tr, y_tr = full.images[fit_idx], full.labels[fit_idx]
    x_sel = None if sel_idx is None else full.images[sel_idx]
    y_sel = None if sel_idx is None else full.labels[sel_idx]
    normalizer = fit_normalizer(x_tr)  # training portion only, before any oversampling
    run.write_normalizer(fold, normalizer)
    bal = balance(x_tr, y_tr, k, cfg, seed=fold_seed(cfg.seed, fold, 4))
    model = build_model(cfg, num_classes=k, in_chans=full.image_shape[0],
                        seed=fold_seed(cfg.seed, fold, 0))
    trainer = Trainer(model, cfg, fold_dir / "checkpoint", fold=fold,
                      class_weights=bal.class_weights, sample_weights=bal.sample_weights,
                      augment=build_augment(cfg.augmentation), normalize=normalizer,
                      log_dir=fold_dir, callbacks=callbacks, progress=progress)
    result = trainer.fit(bal.x, bal.y, x_sel, y_sel, resume=resume)
    frames = [prediction_frame(val_idx, fold, "val", full.labels[val_idx],
                               trainer.predict_proba(full.images[val_idx]))]
    if test_idx is not None and len(test_idx):
        frames.append(prediction_frame(test_idx, fold, "test", full.labels[test_idx],
                                       trainer.predict_proba(full.images[test_idx])))
    preds = pd.concat(frames, ignore_index=True)
    info = {"fold": fold, "best_epoch": result.best_epoch, "best_value": result.best_value,
            "selection_metric": cfg.selection.metric, "epochs_run": len(result.history),
            "selection_source": ("none" if sel_idx is None else
                                 "inner" if inner_idx is not None else "holdout val"),
            "n_selection": 0 if sel_idx is None else int(len(sel_idx)),
            "majority_index": int(np.bincount(y_tr, minlength=k).argmax()),  # of the fitted data
            "stopped_early": result.stopped_early, "n_train": int(len(fit_idx)),
            "n_train_balanced": int(len(bal.y)), "n_val": int(len(val_idx)),
            "n_test": 0 if test_idx is None else int(len(test_idx)), "history": result.history}
    if hparams is not None:  # this fold's own hyperparameters (chosen for it by a search)
        info["hparams"] = hparams
    run.write_fold(fold, preds, info)
    return preds, info


# ---------------------------------------------------------------------------------------------
# The experiment


def positive_class_index(value: str | int | None, class_names: list[str]) -> int | None:
    """``data.positive_class`` as an index (two-class data only; None = index 1 there)."""
    k = len(class_names)
    if value is None:
        return 1 if k == 2 else None
    if k != 2:
        raise ConfigError(f"data.positive_class: expected it only for two-class data; got "
                          f"'{value}' with {k} classes {class_names}")
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return value
    if str(value) in class_names:
        return class_names.index(str(value))
    raise ConfigError(f"data.positive_class: expected one of {class_names} or 0/1; got {value!r}")


#: Level, resamples and seed of the overall-metric intervals stored in metrics.json.
INTERVAL_LEVEL, INTERVAL_N_BOOT, INTERVAL_SEED = 0.99, 1000, 0


def _baseline(y_true: np.ndarray, scores: np.ndarray, majority: np.ndarray, class_names: list[str],
              pos: int | None) -> dict:
    """The majority-class row beside a model's metrics on the same samples.

    ``majority``: (N,) the majority class of the training portion that produced each row.
    ``beats_majority``: the model's accuracy is above the baseline's; ``clearly_beats_majority``:
    the lower end of its 99% Wilson interval is (so chance alone does not explain the gap).
    """
    k = len(class_names)
    base = classification_metrics(y_true, np.eye(k)[majority], class_names, positive_class=pos)
    base["majority_class"] = [class_names[c] for c in np.unique(majority)]
    acc = float(np.mean(scores.argmax(1) == y_true))
    low, _ = wilson_interval(int(round(acc * len(y_true))), len(y_true), INTERVAL_LEVEL)
    return {"metrics": base, "accuracy_minus_majority": acc - base["accuracy"],
            "beats_majority": bool(acc > base["accuracy"]),
            "clearly_beats_majority": bool(low > base["accuracy"])}


def run_summary_lines(metrics: dict) -> list[str]:
    """CLI lines for a finished run: its positive class (two-class data) and how it compares with
    always predicting the majority class, flagged when it does not clearly beat it."""
    lines = [f"fold {i}: never predicts {', '.join(f['never_predicted'])}"
             for i, f in enumerate(metrics.get("per_fold") or []) if f.get("never_predicted")]
    for key, name in (("oof", "OoF"), ("test", "test")):
        doc, base = metrics.get(key) or {}, (metrics.get("baselines") or {}).get(key)
        b = doc.get("binary")
        if b:
            lines.append(f"{name} positive class '{b['positive_class']}': sensitivity "
                         f"{_num(b['sensitivity'])}, specificity {_num(b['specificity'])}, PPV "
                         f"{_num(b['ppv'])}, NPV {_num(b['npv'])}, AUROC {_num(b['auroc'])}")
        if doc.get("never_predicted"):
            lines.append(f"{name}: never predicts {', '.join(doc['never_predicted'])}")
        if base:
            m = base["metrics"]
            verdict = ("" if base["clearly_beats_majority"] else
                       " -- WARNING: does not clearly beat it (99% Wilson interval of the accuracy "
                       "reaches the baseline)")
            lines.append(f"{name} majority-class baseline (always "
                         f"{' / '.join(m['majority_class'])}): accuracy {_num(m['accuracy'])}"
                         f"{verdict}")
    return lines


def _num(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def _metrics(preds: pd.DataFrame, infos: list[dict], class_names: list[str],
             input_shape: tuple[int, ...], pos: int | None = None) -> dict:
    cols = prob_columns(preds)

    def metrics_of(df: pd.DataFrame) -> dict:
        return classification_metrics(df["y_true"].to_numpy(np.int64), df[cols].to_numpy(np.float64),
                                      class_names=class_names, positive_class=pos)

    def intervals(y: np.ndarray, p: np.ndarray) -> dict:
        return bootstrap_overall_ci(y, p, level=INTERVAL_LEVEL, n_boot=INTERVAL_N_BOOT,
                                    seed=INTERVAL_SEED, positive_class=pos)

    majority_of = {i["fold"]: i["majority_index"] for i in infos if "majority_index" in i}

    val = preds[preds["split"] == "val"]
    per_fold = [metrics_of(val[val["fold"] == i["fold"]]) for i in infos]
    test = preds[preds["split"] == "test"]
    per_fold_test = [metrics_of(test[test["fold"] == i["fold"]]) for i in infos] if len(test) else None
    ens = split_scores(preds, "test")
    y_oof, p_oof = val["y_true"].to_numpy(np.int64), val[cols].to_numpy(np.float64)
    baselines = None
    if len(majority_of) == len(infos):
        test_majority = int(np.bincount(list(majority_of.values())).argmax())  # folds agree (stratified)
        baselines = {"oof": _baseline(y_oof, p_oof, val["fold"].map(majority_of).to_numpy(np.int64),
                                      class_names, pos),
                     "test": None if ens is None else _baseline(
                         ens[1], ens[2], np.full(len(ens[1]), test_majority), class_names, pos)}
    return {
        "class_names": class_names,
        "input_shape": [int(v) for v in input_shape],  # (C, H, W) the models were trained on
        "folds": [{k: v for k, v in i.items() if k != "history"} for i in infos],
        "per_fold": per_fold,
        "summary": summarize_folds(per_fold),
        "oof": metrics_of(val),
        "per_fold_test": per_fold_test,
        "test_summary": summarize_folds(per_fold_test) if per_fold_test else None,
        "test": None if ens is None else classification_metrics(ens[1], ens[2], class_names=class_names,
                                                                positive_class=pos),
        "test_method": None if ens is None else ("single model" if len(infos) == 1 else
                                                 f"ensemble: mean probability of {len(infos)} fold models"),
        "positive_class": None if pos is None else class_names[pos],
        "intervals": {"oof": intervals(y_oof, p_oof),
                      "test": None if ens is None else intervals(ens[1], ens[2])},
        "baselines": baselines,
    }


def prepare_run(cfg: ExperimentConfig, run_dir: str | Path, resume: bool = True,
                datasets: dict | None = None) -> tuple[ExperimentData, dict]:
    """Load the data and write config.yaml, environment.json and splits.json; (data, splits).

    A resumed run must have the same results-relevant config and the same splits. The caller
    holds the run's lock (:meth:`RunDir.lock`) until the run is finished.
    """
    run = RunDir(run_dir)
    run.check_resume(cfg, resume)
    with torch_threads(cfg.num_threads):  # resizing in another thread count differs in the last bits
        data = load_experiment_data(cfg, datasets)
        positive_class_index(cfg.data.positive_class, data.class_names)  # refuse a bad name early
        splits = make_splits(cfg, data)
    run.start(cfg, _splits_json(splits, data), resume)
    return data, splits


def run_unit(cfg: ExperimentConfig, run_dir: str | Path, fold: int, *,
             data: ExperimentData | None = None, splits: dict | None = None,
             resume: bool = True, progress: RunProgress | bool | None = None, callbacks=(),
             hparams: dict | None = None) -> Path:
    """Train and score one fold of a prepared run (:func:`prepare_run`); return ``fold_<i>/``.

    The unit of work of every executor (``hqmed.train.executor``): its files depend only on
    (config, seed, data), and it writes them atomically into ``fold_<fold>/`` (``DONE`` last; a
    finished fold is not repeated). Without ``data``/``splits`` it loads the data itself (from the
    data root) and checks the splits against the run's splits.json, as a worker process does.
    ``hparams`` (dotted key -> value) is recorded in the fold's result when ``cfg`` is this fold's
    own config (a search chose it), not the run's config.yaml.
    """
    run = RunDir(run_dir)
    with torch_threads(cfg.num_threads):
        if data is None or splits is None:
            data = load_experiment_data(cfg)
            splits = make_splits(cfg, data)
            if run.splits() != _splits_json(splits, data):
                raise DataError(f"{run.path / 'splits.json'}: expected the splits this unit's data "
                                "gives (prepare_run first, with the same data); got other or none")
        if not 0 <= fold < len(splits["folds"]):
            raise ConfigError(f"fold: expected 0..{len(splits['folds']) - 1}; got {fold}")
        tr, va = splits["folds"][fold]
        log.info("fold %d/%d: %d train, %d val", fold + 1, len(splits["folds"]), len(tr), len(va))
        _run_fold(cfg, data, fold, tr, va, splits["test"], run, resume, progress, callbacks,
                  hparams, inner_idx=splits["inner"][fold])
    return run.fold_dir(fold)


def finish_run(run_dir: str | Path, n_folds: int, class_names: list[str],
               input_shape: tuple[int, ...]) -> Path:
    """Pool the finished folds into history.csv, predictions.csv, metrics.json and DONE.

    Reads every fold back from disk, so the result is the same whichever process (or order)
    trained the folds.
    """
    run = RunDir(run_dir)
    for fold in range(n_folds):
        if not run.fold_is_done(fold):
            raise DataError(f"{run.fold_dir(fold)}: expected a finished fold (DONE); got none")
    frames, infos = zip(*(run.read_fold(fold) for fold in range(n_folds)))
    preds = pd.concat(frames, ignore_index=True)
    history = [row for info in infos for row in info["history"]]
    pos = positive_class_index(run.config().data.positive_class, class_names)
    run.finish(history, preds, _metrics(preds, list(infos), class_names, input_shape, pos))
    return run.path


def run_experiment(config: ExperimentConfig, run_dir: str | Path, resume: bool = True, *,
                   datasets: dict | None = None, progress: bool | None = None,
                   callbacks=(), fold_configs: dict | None = None) -> Path:
    """Run ``config`` into ``run_dir`` (see the module docstring) and return ``run_dir``.

    :func:`prepare_run`, then :func:`run_unit` for every fold in order, then :func:`finish_run`
    (``hqmed.train.executor`` runs the same units on Ray).

    Args:
        config: a validated :class:`ExperimentConfig`.
        run_dir: output folder; created if missing.
        resume: continue a previous run in ``run_dir`` (finished folds/epochs are not redone);
            False deletes that run's files first.
        datasets: ``{split: ImageDataset}`` to use instead of ``load_source`` (programmatic use).
        progress: :class:`~hqmed.train.progress.RunProgress`: True = a bar on a terminal, one
            line per epoch elsewhere; None = the bar on a terminal only; False = silent.
        callbacks: ``f(row)`` after every epoch (row = one history.csv row).
        fold_configs: ``{fold: (config, hparams)}`` for folds trained with their own
            hyperparameters (a nested search's choice per fold); other folds use ``config``.
    """
    cfg = config
    run = RunDir(run_dir)
    if resume and run.is_complete():
        log.info("%s: run already complete (DONE present); not repeated", run.path)
        return run.path
    n_folds = cfg.protocol.folds if cfg.protocol.kind == "cv" else 1
    bar = RunProgress(f"{run.path.parent.name}/{run.path.name}", n_folds, cfg.epochs, progress)
    with run.lock():  # one writer per run directory, from the resume check to DONE
        try:
            bar.note("loading and preparing the data")
            data, splits = prepare_run(cfg, run_dir, resume, datasets)
            for fold in range(len(splits["folds"])):
                fold_cfg, hparams = (fold_configs or {}).get(fold, (cfg, None))
                run_unit(fold_cfg, run_dir, fold, data=data, splits=splits, resume=resume,
                         progress=bar, callbacks=callbacks, hparams=hparams)
        finally:
            bar.close()
        return finish_run(run_dir, len(splits["folds"]), data.class_names, data.full.image_shape)
