"""The run directory: the one module that knows its layout, writes it, reads it and predicts with it.

Layout (written by :func:`hqmed.train.runner.run_experiment` through :class:`RunDir`)::

    run_dir/
      config.yaml          the resolved config (every default filled in)
      environment.json     environment_info(): versions, git commit, CPU, command (+ resumes)
      splits.json          {"protocol", "folds": [{"fold", "train", "val"}], "test", "sources",
                           "fingerprint": {"class_names", <role>: {n, shape, images_sha256,
                           labels_sha256}}}
      .hqmed.lock          while a command writes the run: pid, host, start, command
      history.csv          fold, epoch, train_loss, train_acc, val_loss, val_acc, val_auc, lr, seconds
      fold_<i>/            checkpoint/{last,best}.safetensors + last.json, log.jsonl, history.csv,
                           normalizer.json, predictions.csv, result.json, DONE
      predictions.csv      index, fold, split, y_true, prob_0 .. prob_{K-1}
      metrics.json         class_names, input_shape, folds, per_fold, summary, oof, ...
      DONE                 written last

Every file is written atomically (:mod:`hqmed.utils.io`). Nothing is written before the data are
loaded and split (:meth:`RunDir.start`), so a run refused for its data (missing files, a bad MD5)
leaves nothing that blocks the corrected rerun. Writers hold :meth:`RunDir.lock` (:class:`DirLock`,
also used for study directories); temporary files of writes interrupted by a kill are deleted under
it, and a folder holding only those counts as empty. :func:`check_same_data` is the one check that
two runs may be paired (same split indices and the same data fingerprint).

Reading: :meth:`RunDir.config`, :meth:`RunDir.metrics`, :meth:`RunDir.predictions`,
:meth:`RunDir.scores` (the fold ensemble on the test split: :func:`split_scores`, the only copy).
Predicting: :meth:`RunDir.predictor` returns a :class:`RunPredictor` (one fold or the ensemble of
all folds; new images are prepared to the run's own input shape); :func:`predict_proba` is the one
batched softmax, used by the trainer as well.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hqmed.data.store import read_rows
from hqmed.data.transforms import Normalizer
from hqmed.errors import ConfigError, DataError, LockError
from hqmed.train.checkpoint import load_model_weights
from hqmed.train.config import ExperimentConfig, dump_config, parse_config
from hqmed.train.loader import Batches, batch_loader
from hqmed.train.logging import HISTORY_COLUMNS, history_to_csv
from hqmed.train.prepare import build_model, prepare_split
from hqmed.utils.io import TEMP_SUFFIX, atomic_write_json, atomic_write_text, read_json, read_yaml
from hqmed.utils.runtime import auto_device, autocast, environment_info

__all__ = ["DirLock", "RunDir", "check_same_data", "data_fingerprint", "has_content",
           "remove_temp_files", "RunPredictor", "predict_proba", "prediction_frame", "prob_columns",
           "split_scores"]

log = logging.getLogger(__name__)

# Config keys that may change between a run and its resumption (they do not change results).
RESUME_FREE = {"name", "device", "num_threads", "tensorboard", "eval_batch_size", "num_workers",
               "log_every"}
# Files of a run (besides fold_<i>/); --no-resume deletes exactly these.
RUN_FILES = ("config.yaml", "environment.json", "splits.json", "history.csv", "predictions.csv",
             "metrics.json", "DONE", "compare.json")


# ---------------------------------------------------------------------------------------------
# Predictions tables


def prob_columns(df: pd.DataFrame) -> list[str]:
    """``prob_0 .. prob_{K-1}`` in class order."""
    return sorted((c for c in df.columns if c.startswith("prob_")), key=lambda c: int(c[5:]))


def prediction_frame(index: np.ndarray, fold: int, split: str, y_true: np.ndarray,
                     y_score: np.ndarray) -> pd.DataFrame:
    """Rows of predictions.csv: index, fold, split, y_true, prob_0 .. prob_{K-1}."""
    df = pd.DataFrame({"index": index, "fold": fold, "split": split, "y_true": y_true})
    for k in range(y_score.shape[1]):
        df[f"prob_{k}"] = y_score[:, k]
    return df


def split_scores(preds: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(index, y_true, y_score) of ``split`` sorted by index, or None when the split is absent.

    A sample scored by several folds (the test split of a CV run) gets the mean of their
    probabilities: the fold ensemble. Out-of-fold ("val") samples are scored once.
    """
    if preds.empty or "split" not in preds:
        return None
    rows = preds[preds["split"] == split]
    if rows.empty:
        return None
    cols = prob_columns(preds)
    agg = rows.groupby("index", sort=True).agg({"y_true": "first", **{c: "mean" for c in cols}})
    return agg.index.to_numpy(np.int64), agg["y_true"].to_numpy(np.int64), agg[cols].to_numpy(np.float64)


# ---------------------------------------------------------------------------------------------
# Prediction


@torch.no_grad()
def predict_proba(model: torch.nn.Module, images, normalize=None,
                  device: torch.device | str = "cpu", batch_size: int = 256, *,
                  num_workers: int = 0, precision: str = "fp32") -> np.ndarray:
    """(N, K) float64 class probabilities of ``model`` (put in eval mode) on (N, C, H, W) images.

    ``images`` is an array or a lazy view (on-disk store, virtual SMOTE); batches stream from
    :mod:`hqmed.train.loader` (``num_workers`` processes), go to ``device`` (pinned, non-blocking),
    are normalised there (``normalize``; a ``Normalizer`` becomes device tensors once), run under
    ``precision`` autocast and are soft-maxed in float32.
    """
    if len(images) == 0:
        raise ValueError("predict_proba: expected at least one image; got 0")
    model.eval()
    device = torch.device(device)
    to_device = getattr(normalize, "on_device", None)
    normalize = to_device(device) if to_device is not None else normalize
    batches = Batches(images, None, np.arange(len(images)), batch_size)
    out = []
    for xb, _ in batch_loader(batches, num_workers, pin_memory=device.type == "cuda"):
        xb = xb.to(device, non_blocking=True)
        if normalize is not None:
            xb = normalize(xb)
        with autocast(device, precision):
            logits = model(xb)
        out.append(torch.softmax(logits.float(), dim=1).cpu().double().numpy())
    return np.concatenate(out)


class RunPredictor:
    """Probabilities of a finished run's best model(s) on new images.

    Args:
        run: the finished run.
        fold: "ensemble" (mean of all fold models' probabilities) or a fold number.
        device: "auto" or a torch device string.
        batch_size: images per forward pass.
    """

    def __init__(self, run: RunDir, fold: int | str = "ensemble", device: str = "auto",
                 batch_size: int = 256):
        self.run = run
        self.run_dir = run.path
        self.cfg = run.config()
        metrics = run.metrics()
        self.class_names: list[str] = list(metrics["class_names"])
        self.input_shape: tuple[int, int, int] = run.input_shape()
        folds = run.fold_numbers()
        if fold == "ensemble":
            self.folds = folds
        else:
            try:
                fold_i = int(fold)
            except (TypeError, ValueError):
                fold_i = None
            if fold_i not in folds:
                raise ConfigError(f"--fold: expected 'ensemble' or one of {folds}; got {fold!r}")
            self.folds = [fold_i]
        self.device = auto_device(device)
        self.batch_size = batch_size
        # (model in eval mode on ``device``, its fold's Normalizer), one per fold in ``folds``
        self.models = [run.load_fold_model(f, self.cfg) for f in self.folds]
        for model, _ in self.models:
            model.to(self.device)

    @property
    def source_channels(self) -> int:
        """Channels to read new images with: 3 (RGB) or 1 (gray), before any quantum channels."""
        c = self.input_shape[0]
        base = c - 4 if self.cfg.data.quanvolution.enabled else c
        return 3 if base == 3 else 1

    @property
    def description(self) -> str:
        if len(self.folds) == 1:
            return f"fold {self.folds[0]} best model"
        return f"ensemble (mean probability) of {len(self.folds)} fold models"

    def prepare(self, ds):
        """The dataset resized/converted to the run's input (C, H, W)."""
        return prepare_split(ds, self.cfg, input_shape=self.input_shape)

    def predict_images(self, images) -> np.ndarray:
        """(N, K) float64 probabilities of PREPARED images (N, C, H, W) in [0, 1] (an array or an
        on-disk store view, streamed batch by batch)."""
        if images.ndim != 4 or tuple(images.shape[1:]) != self.input_shape:
            raise DataError(f"images: expected prepared images (N, {', '.join(map(str, self.input_shape))}); "
                            f"got {tuple(images.shape)}")
        total = np.zeros((len(images), len(self.class_names)), dtype=np.float64)
        for model, norm in self.models:
            total += predict_proba(model, images, norm, self.device, self.batch_size,
                                   num_workers=self.cfg.num_workers, precision=self.cfg.precision)
        return total / len(self.models)

    def predict_dataset(self, ds) -> np.ndarray:
        """(N, K) probabilities of an ImageDataset (prepared here to the run's input shape)."""
        return self.predict_images(self.prepare(ds).images)


# ---------------------------------------------------------------------------------------------
# The run directory


def result_config(cfg: ExperimentConfig) -> dict:
    """The config keys that determine results (what a resumed run must not change)."""
    d = cfg.model_dump(mode="json", exclude=RESUME_FREE)
    d["data"].pop("data_root", None)
    return d


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [f"{prefix[:-1]} (run: {a!r}, now: {b!r})"]


# metrics.json keys that reloading a run's models needs: key -> (check, what is expected)
_METRICS_KEYS = {
    "class_names": (lambda v: isinstance(v, list) and len(v) >= 2 and all(isinstance(c, str) for c in v),
                    "a list of at least 2 class names"),
    "input_shape": (lambda v: isinstance(v, list) and len(v) == 3 and all(isinstance(c, int) for c in v),
                    "[C, H, W] integers"),
    "folds": (lambda v: isinstance(v, list) and len(v) > 0 and all(
        isinstance(f, dict) and isinstance(f.get("fold"), int) for f in v), "a non-empty list of {fold: int}"),
}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------------------------------------
# Advisory lock and leftovers


LOCK_NAME = ".hqmed.lock"


def _is_hqmed_leftover(p: Path) -> bool:
    """An atomic write's temporary file (``.<name>.<random>.tmp``) or the lock file."""
    return p.name == LOCK_NAME or (p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)
                                   and p.is_file())


def has_content(folder: Path) -> bool:
    """True when ``folder`` holds anything besides hqmed's temporary files, its lock and empty
    sub-folders (what a process killed in its first seconds leaves)."""
    if not folder.is_dir():
        return False
    for p in folder.iterdir():
        if p.is_dir() and not p.is_symlink():
            if has_content(p):
                return True
        elif not _is_hqmed_leftover(p):
            return True
    return False


def remove_temp_files(folder: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """Delete atomic writes' temporary files left below ``folder`` by a killed process.

    Call it holding the folder's lock. ``skip``: top-level sub-folders left alone (a study's
    ``runs/``, whose run directories clean themselves under their own locks).
    """
    gone = [p for p in folder.rglob(f".*{TEMP_SUFFIX}") if p.is_file()
            and p.relative_to(folder).parts[0] not in skip]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


class DirLock:
    """An advisory lock on a run or study directory: ``<dir>/.hqmed.lock`` holding pid and host.

    ``fcntl.flock`` on the open lock file; the kernel drops it when the holder exits, however it
    dies, so a lock file left by a killed process is stale and simply taken over (its pid is logged).
    A second writer gets one :class:`~hqmed.errors.LockError` line naming the holder.
    Use as a context manager; ``what`` names the directory in messages ("run directory", ...).
    """

    def __init__(self, folder: str | Path, what: str = "run directory"):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> DirLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                h = self._holder()
                raise LockError(
                    f"{self.what} {self.folder}: expected no other hqmed process writing it; got a "
                    f"lock held by pid {h.get('pid', '?')} on {h.get('host', '?')} since "
                    f"{h.get('started', '?')} ({self.path}). Wait for it to finish or choose another "
                    "folder") from None
            # the holder before us may have unlinked the file between our open and flock: retry
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        old = self._holder()
        if old.get("pid"):
            log.warning("%s %s: took over a stale lock of pid %s on %s (that process is gone)",
                        self.what, self.folder, old.get("pid"), old.get("host"))
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now(),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(info) + "\n").encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked: nobody holds a stale inode
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ---------------------------------------------------------------------------------------------
# Data fingerprint


def data_fingerprint(images, labels: np.ndarray, ranges: dict[str, tuple[int, int]],
                     class_names: list[str], chunk: int = 256) -> dict:
    """SHA-256 of the prepared images (float32 bytes) and labels (int64) of each role's range.

    ``images`` is an array or an on-disk store view; either is read ``chunk`` rows at a time, and
    both give the same fingerprint for the same pixels.
    """
    out: dict[str, Any] = {"class_names": list(class_names)}
    for role, (start, stop) in ranges.items():
        h = hashlib.sha256()
        shape: list[int] = []
        for a in range(start, stop, chunk):
            x = read_rows(images, np.arange(a, min(a + chunk, stop)))
            shape = [int(v) for v in x.shape[1:]]
            h.update(memoryview(np.ascontiguousarray(x, dtype=np.float32)).cast("B"))
        y = np.ascontiguousarray(labels[start:stop], dtype=np.int64)
        out[role] = {"n": int(stop - start), "shape": shape, "images_sha256": h.hexdigest(),
                     "labels_sha256": hashlib.sha256(memoryview(y).cast("B")).hexdigest()}
    return out


def check_same_data(run_a: str | Path, run_b: str | Path) -> None:
    """Refuse to pair two runs unless their splits and data fingerprints agree.

    Runs written before fingerprints existed are compared on their split indices only.
    """
    sa, sb = RunDir(run_a).splits(), RunDir(run_b).splits()
    if sa is None or sb is None:
        return
    if sa["folds"] != sb["folds"] or sa.get("test") != sb.get("test"):
        raise DataError(f"runs {run_a} and {run_b}: expected identical splits.json folds and test "
                        "indices for a paired comparison; got different splits (same data, seed and "
                        "protocol are needed)")
    fa, fb = sa.get("fingerprint"), sb.get("fingerprint")
    if fa is None or fb is None or fa == fb:
        return
    diff = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
    raise DataError(f"runs {run_a} and {run_b}: expected the same data for a paired comparison; got "
                    f"different data fingerprints (splits.json 'fingerprint') in {diff}: the images or "
                    "labels differ even though the split indices match")


class RunDir:
    """One run directory (see the module docstring for its layout)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def fold_dir(self, fold: int) -> Path:
        return self.path / f"fold_{fold}"

    def is_complete(self) -> bool:
        """True when the run finished (``DONE`` is written last)."""
        return (self.path / "DONE").is_file()

    def _started(self) -> bool:
        """True once training began: splits.json is the first file a run writes."""
        return (self.path / "splits.json").is_file()

    # -- writing ---------------------------------------------------------------------------------

    def lock(self) -> DirLock:
        """The run's advisory lock (a context manager); held by whoever writes the run."""
        return DirLock(self.path, "run directory")

    def check_resume(self, cfg: ExperimentConfig, resume: bool) -> None:
        """Refuse, before anything is loaded or written, a folder that is not this run's.

        A folder holding files but no config.yaml is not a run (hqmed's own temporary files and lock
        do not count); temporary files left by a killed write are deleted; resuming a started run
        with a config that changes results is refused. Call it holding :meth:`lock`. A folder with a config but no splits.json never
        started training (e.g. its data were refused) and is simply overwritten.
        """
        if has_content(self.path) and not (self.path / "config.yaml").is_file():
            raise ConfigError(f"run directory {self.path}: expected an empty folder or an hqmed run; "
                              "got a folder without config.yaml (choose another --out)")
        if self.path.is_dir():  # under the lock: nobody else is writing these
            gone = remove_temp_files(self.path)
            if gone:
                log.info("%s: removed %d temporary file(s) left by an interrupted write: %s",
                         self.path, len(gone), [str(p.relative_to(self.path)) for p in gone[:5]])
        if not has_content(self.path):  # absent, empty, or only leftovers of a killed run
            return
        if resume and self._started():
            diff = _diff(result_config(self.config()), result_config(cfg))
            if diff:
                raise ConfigError(
                    f"run directory {self.path}: expected the same config to resume; got changes in "
                    f"{'; '.join(diff[:5])}. Use --no-resume to start again or another --out")

    def start(self, cfg: ExperimentConfig, splits: dict, resume: bool) -> None:
        """Write config.yaml, environment.json and splits.json (after :meth:`check_resume`).

        ``splits`` is the splits.json document; resuming with different splits (the data changed)
        is refused. Without ``resume`` the previous run's files are deleted first.
        """
        resume = resume and self._started()
        sj_path = self.path / "splits.json"
        old = read_json(sj_path) if resume else None
        if old is not None and "fingerprint" not in old:  # a run from before fingerprints
            splits = {k: v for k, v in splits.items() if k != "fingerprint"}
        if resume and old != splits:
            raise DataError(f"{sj_path}: expected the same splits to resume; got different data or "
                            "indices (the data changed). Use --no-resume to start again")
        if not resume and self.path.exists():
            for child in self.path.iterdir():
                if child.is_dir() and child.name.startswith("fold_"):
                    shutil.rmtree(child)
                elif child.name in RUN_FILES:
                    child.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / "config.yaml", dump_config(cfg))
        env = environment_info()
        env["started"] = _now()
        env_path = self.path / "environment.json"
        if resume and env_path.is_file():
            first = read_json(env_path)
            first.setdefault("resumes", []).append({"started": env["started"], "command": env["command"],
                                                    "git_commit": env["git_commit"]})
            env = first
        atomic_write_json(env_path, env)
        atomic_write_json(sj_path, splits, indent=None)

    def fold_is_done(self, fold: int) -> bool:
        return (self.fold_dir(fold) / "DONE").is_file()

    def read_fold(self, fold: int) -> tuple[pd.DataFrame, dict]:
        """(predictions, result) of a finished fold."""
        d = self.fold_dir(fold)
        return (pd.read_csv(d / "predictions.csv", float_precision="round_trip"),
                read_json(d / "result.json"))

    def write_normalizer(self, fold: int, normalizer: Normalizer) -> None:
        atomic_write_json(self.fold_dir(fold) / "normalizer.json", normalizer.to_dict())

    def write_fold(self, fold: int, preds: pd.DataFrame, result: dict) -> None:
        """A finished fold's predictions and result, then its DONE."""
        d = self.fold_dir(fold)
        atomic_write_text(d / "predictions.csv", preds.to_csv(index=False))
        atomic_write_json(d / "result.json", result)
        atomic_write_text(d / "DONE", "")

    def finish(self, history: list[dict], preds: pd.DataFrame, metrics: dict) -> None:
        """history.csv, predictions.csv, metrics.json, then DONE (last)."""
        atomic_write_text(self.path / "history.csv", history_to_csv(history, HISTORY_COLUMNS))
        atomic_write_text(self.path / "predictions.csv", preds.to_csv(index=False))
        atomic_write_json(self.path / "metrics.json", metrics)
        atomic_write_text(self.path / "DONE", _now() + "\n")

    # -- reading ---------------------------------------------------------------------------------

    def _need(self, name: str, what: str) -> Path:
        path = self.path / name
        if not path.is_file():
            raise DataError(f"run directory {self.path}: expected {name} ({what}); got no such file")
        return path

    def config_dict(self) -> dict:
        """config.yaml as a plain dict ({} when absent)."""
        path = self.path / "config.yaml"
        if not path.is_file():
            return {}
        return read_yaml(path, what="run config")

    def config(self) -> ExperimentConfig:
        path = self._need("config.yaml", "an hqmed run")
        return parse_config(read_yaml(path, what="run config"), source=str(path))

    def environment(self) -> dict:
        path = self.path / "environment.json"
        return read_json(path) if path.is_file() else {}

    def splits(self) -> dict | None:
        path = self.path / "splits.json"
        return read_json(path) if path.is_file() else None

    def metrics(self) -> dict:
        """metrics.json, checked for the keys that reloading the run's models needs."""
        path = self._need("metrics.json", "a finished run has DONE")
        metrics = read_json(path)
        if not isinstance(metrics, dict):
            raise DataError(f"{path}: expected a JSON object; got {type(metrics).__name__}")
        for key, (ok, what) in _METRICS_KEYS.items():
            if key not in metrics:
                raise DataError(f"{path}: expected key '{key}' ({what}); got no such key "
                                "(a damaged metrics.json: rerun the run with --no-resume)")
            if not ok(metrics[key]):
                raise DataError(f"{path}: key '{key}': expected {what}; got {metrics[key]!r:.80}")
        return metrics

    def predictions(self) -> pd.DataFrame:
        """predictions.csv (exact float64 round trip)."""
        path = self._need("predictions.csv", "a finished run has DONE")
        return pd.read_csv(path, float_precision="round_trip")

    def history(self) -> pd.DataFrame:
        """history.csv (empty when absent); a ``fold`` column is always present."""
        path = self.path / "history.csv"
        hist = pd.read_csv(path) if path.is_file() else pd.DataFrame()
        if not hist.empty and "fold" not in hist:
            hist["fold"] = 0
        return hist

    def scores(self, split: str = "val") -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(index, y_true, y_score) of ``split`` ("val" = out-of-fold, "test" = fold ensemble)."""
        return split_scores(self.predictions(), split)

    def fold_numbers(self) -> list[int]:
        return [int(f["fold"]) for f in self.metrics()["folds"]]

    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) the run's models were trained on."""
        return tuple(int(v) for v in self.metrics()["input_shape"])

    # -- predicting ------------------------------------------------------------------------------

    def load_fold_model(self, fold: int, cfg: ExperimentConfig | None = None):
        """(model in eval mode with fold ``fold``'s best weights, its Normalizer)."""
        cfg = cfg or self.config()
        metrics = self.metrics()
        d = self.fold_dir(fold)
        norm = Normalizer.from_dict(read_json(d / "normalizer.json"))
        model = build_model(cfg, num_classes=len(metrics["class_names"]),
                            in_chans=int(metrics["input_shape"][0]), seed=0)
        load_model_weights(model, d / "checkpoint" / "best.safetensors")
        model.eval()
        return model, norm

    def predictor(self, fold: int | str = "ensemble", device: str = "auto",
                  batch_size: int = 256) -> RunPredictor:
        """A :class:`RunPredictor` of this finished run's best model(s)."""
        if not self.is_complete():
            raise DataError(f"run directory {self.path}: expected a finished run (with DONE); "
                            "got none (run or resume it first)")
        return RunPredictor(self, fold=fold, device=device, batch_size=batch_size)
