"""A small, deterministic, resumable training loop for one fold.

What it guarantees:

- **Deterministic on CPU.** Weights are initialised by the caller after seeding; shuffling, weighted
  sampling and augmentation draw from one ``torch.Generator``; dropout draws from torch's global
  RNG. Both are seeded at the start of :meth:`Trainer.fit` from ``(seed, fold)``, so the same config
  gives the same weights and metrics bit for bit.
- **Resumable, bit-identically.** After every epoch the model, the optimiser and every RNG state
  (Python, NumPy, torch, the generator, CUDA) go into one atomically written checkpoint
  (:mod:`hqmed.train.checkpoint`). A resumed fit restores them and continues with the next epoch;
  the learning rate is a pure function of the epoch number. An interrupted-then-resumed run therefore
  ends with exactly the weights and metrics of an uninterrupted one (``tests/train/test_resume.py``).
- **Best-epoch selection** on the validation data (``selection.metric``: val_loss is minimised,
  val_acc / val_auc maximised; ties keep the earlier epoch), optional early stopping
  (``selection.patience``), and the best weights restored at the end for predictions.

Data ``x`` (N, C, H, W) float32 in [0, 1] are a NumPy array, an on-disk store view or virtual
SMOTE (anything :func:`hqmed.data.store.read_rows` reads), ``y`` (N,) int64. Batches stream from
:mod:`hqmed.train.loader` (``num_workers`` processes read and augment them, each sample with its
own generator seeded from (seed, epoch, position), so results do not depend on the worker count);
the shuffling order still comes from the one generator. A final training batch of a single image
is skipped (BatchNorm cannot train on one sample).

**Device and precision.** ``device`` is "auto", "cpu", "cuda" or "cuda:i"; host batches are pinned
and copied with ``non_blocking=True``, normalised on the device; ``precision`` fp32 / bf16 / fp16
runs the forward pass under ``torch.autocast`` (fp16 with a gradient scaler, saved in the
checkpoint); quantum blocks switch autocast off and simulate in float32/complex64 themselves.
``channels_last`` puts the model and the batches in NHWC. Inside the step nothing waits for the
device: loss and accuracy are summed on the device and read every ``log_every`` steps (progress
bar) and at the end of the epoch. (With fp16, torch's gradient scaler itself reads one inf/NaN
flag per step to decide whether to skip it; fp32 and bf16 have no scaler.)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hqmed.errors import ConfigError, TrainingError
from hqmed.eval.metrics import auroc
from hqmed.train.checkpoint import (
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
    save_weights,
)
from hqmed.train.config import ExperimentConfig, OptimConfig
from hqmed.train.loader import Batches, batch_loader
from hqmed.train.logging import EpochLogger
from hqmed.train.progress import RunProgress
from hqmed.train.rundir import predict_proba
from hqmed.utils.runtime import auto_device, autocast

__all__ = ["FitResult", "Trainer", "build_optimizer", "fold_seed", "lr_at", "quick_auc"]

log = logging.getLogger(__name__)

Transform = Callable[[torch.Tensor], torch.Tensor]
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def fold_seed(seed: int, fold: int, stream: int = 0) -> int:
    """A distinct, reproducible 63-bit seed per (experiment seed, fold, stream)."""
    return (seed * 1_000_003 + fold * 7_919 + stream * 104_729) % (2**63 - 1)


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def lr_at(epoch: int, cfg: OptimConfig, epochs: int) -> float:
    """Learning rate of 0-based ``epoch`` (a pure function, so resuming needs no scheduler state)."""
    if cfg.schedule == "cosine":
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))
    if cfg.schedule == "step":
        return cfg.lr * cfg.gamma ** (epoch // cfg.step_size)
    return cfg.lr


def quick_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Per-epoch AUROC: ``hqmed.eval.metrics.auroc``'s macro value (binary for two classes); NaN
    when fewer than two classes are present."""
    return float(auroc(y_true, y_score)["macro"])


@dataclass
class FitResult:
    """Outcome of :meth:`Trainer.fit`: the history (one dict per epoch) and the chosen epoch."""

    history: list[dict]
    best_epoch: int  # 1-based
    best_value: float  # selection metric at best_epoch
    stopped_early: bool


class Trainer:
    """Train one model on one fold, checkpointing into ``ckpt_dir`` after every epoch.

    Args:
        model: the network (already seeded and built), logits (B, K).
        cfg: the experiment config (optim, epochs, batch sizes, seed, selection, device, tensorboard).
        ckpt_dir: folder for ``last.safetensors``/``last.json``/``best.safetensors``.
        fold: fold number (seeds and log rows).
        class_weights: (K,) cross-entropy weights for the training loss (None = unweighted).
        sample_weights: (N_train,) sampling weights -> sampling with replacement (None = shuffle).
        augment: ``f(x, generator) -> x`` on one CPU sample (1, C, H, W) in [0, 1] (training
            only; it must pickle when ``num_workers`` > 0).
        normalize: ``f(x) -> x`` applied to every batch on the device before the model (train
            stats only); a ``Normalizer`` is turned into device tensors once.
        log_dir: where ``log.jsonl``/``history.csv`` go (default: ``ckpt_dir``'s parent).
        callbacks: ``f(row)`` called after each epoch's checkpoint is on disk.
        progress: a :class:`~hqmed.train.progress.RunProgress` shared by the run's folds, or
            True/False/None for one of this fold alone (None = a bar only on a terminal).
    """

    def __init__(self, model: nn.Module, cfg: ExperimentConfig, ckpt_dir: str | Path, *,
                 fold: int = 0, class_weights: np.ndarray | None = None,
                 sample_weights: np.ndarray | None = None, augment: Augment | None = None,
                 normalize: Transform | None = None, log_dir: str | Path | None = None,
                 callbacks: Sequence[Callable[[dict], None]] = (), progress: RunProgress | bool | None = None):
        self.cfg = cfg
        self.device = auto_device(cfg.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device: expected 'auto', 'cpu' or an available device; got "
                              f"'{cfg.device}' but CUDA is not available on this machine")
        if self.device.type == "cuda" and (self.device.index or 0) >= torch.cuda.device_count():
            raise ConfigError(f"device: expected 'cuda:0' .. 'cuda:{torch.cuda.device_count() - 1}'; got "
                              f"'{cfg.device}'")
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.pin_memory = self.device.type == "cuda"
        # per-epoch sums stay on the device; float64 where it exists, as Python floats summed before
        self.sum_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self.ckpt_dir = Path(ckpt_dir)
        self.fold = fold
        self.class_weights = None if class_weights is None else torch.as_tensor(
            np.asarray(class_weights), dtype=torch.float32, device=self.device)
        self.sample_weights = None if sample_weights is None else torch.as_tensor(
            np.asarray(sample_weights), dtype=torch.float64)
        self.augment = augment
        to_device = getattr(normalize, "on_device", None)
        self.normalize = to_device(self.device) if to_device is not None else normalize
        self.log_dir = Path(log_dir) if log_dir is not None else self.ckpt_dir.parent
        self.callbacks = list(callbacks)
        self.progress = progress

    # -- helpers --------------------------------------------------------------------------------

    def _loader(self, x, y: np.ndarray | None, order: np.ndarray, batch_size: int, *,
                epoch: int = 0, train: bool = False):
        batches = Batches(x, y, order, batch_size, augment=self.augment if train else None,
                          seed=fold_seed(self.cfg.seed, self.fold, 5), epoch=epoch, drop_single=train)
        return batches, batch_loader(batches, self.cfg.num_workers, self.pin_memory)

    def _to_device(self, xb: torch.Tensor) -> torch.Tensor:
        xb = xb.to(self.device, non_blocking=True, memory_format=self.memory_format)
        return self.normalize(xb) if self.normalize is not None else xb

    def predict_proba(self, x, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (N, K) float64 of the current weights, in eval mode."""
        return predict_proba(self.model, x, self.normalize, self.device,
                             batch_size or self.cfg.eval_batch_size, num_workers=self.cfg.num_workers,
                             precision=self.cfg.precision)

    def _better(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        if math.isnan(value):
            return False
        if math.isnan(best):
            return True
        return value < best if self.cfg.selection.metric == "val_loss" else value > best

    def _diverged(self, epoch: int, step: int, got: str) -> TrainingError:
        kept = (f"the checkpoint of epoch {epoch - 1} in {self.ckpt_dir} is kept" if epoch > 1
                else "no epoch had finished, so no checkpoint was written")
        return TrainingError(f"fold {self.fold} epoch {epoch} step {step}: expected a finite training "
                             f"loss and weights; got {got}. Training stopped before the bad update "
                             f"was saved; {kept} (lower optim.lr or check the data, then rerun)")

    def _train_epoch(self, x, y: np.ndarray, optimizer: torch.optim.Optimizer,
                     generator: torch.Generator, scaler, epoch: int, bar: RunProgress | None,
                     max_batches: int | None = None) -> tuple[float, float]:
        self.model.train()
        n = len(x)
        if self.sample_weights is not None:
            order = torch.multinomial(self.sample_weights, n, replacement=True, generator=generator)
        else:
            order = torch.randperm(n, generator=generator)
        order = order.numpy()[:None if max_batches is None else max_batches * self.cfg.batch_size]
        n = len(order)
        batches, loader = self._loader(x, y, order, self.cfg.batch_size, epoch=epoch, train=True)
        loss_sum = torch.zeros((), dtype=self.sum_dtype, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        seen = 0
        step = 0
        for step, (xb, yb) in enumerate(loader, start=1):
            xb = self._to_device(xb)
            yb = yb.to(self.device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with autocast(self.device, self.cfg.precision):
                logits = self.model(xb)
                loss = F.cross_entropy(logits, yb, weight=self.class_weights)
            # one scalar read per step: the price of never applying (or saving) a NaN/inf update
            if not torch.isfinite(loss.detach()):
                raise self._diverged(epoch + 1, step, f"loss {float(loss.detach())}")
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach().to(self.sum_dtype) * len(yb)
            correct += (logits.detach().argmax(1) == yb).sum()
            seen += len(yb)
            if bar is not None:
                # the running loss is read (a device sync) only every log_every steps
                bar.batch(len(batches), float(loss_sum) / seen if step % self.cfg.log_every == 0 else None)
        bad = [name for name, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise self._diverged(epoch + 1, step, f"non-finite weights in {bad[:3]} after the update")
        return float(loss_sum) / max(seen, 1), int(correct) / max(seen, 1)

    def train_steps(self, x, y: np.ndarray, steps: int) -> tuple[float, float]:
        """``steps`` training steps of epoch 0 exactly as :meth:`fit` runs them (benchmarks), no
        checkpoint; returns (mean loss, accuracy) of those steps."""
        generator = torch.Generator().manual_seed(fold_seed(self.cfg.seed, self.fold, 1))
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.cfg.precision == "fp16")
        optimizer = build_optimizer(self.model, self.cfg.optim)
        return self._train_epoch(x, np.asarray(y, dtype=np.int64), optimizer, generator, scaler, 0,
                                 None, max_batches=steps)

    def evaluate(self, x, y: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        """(loss, accuracy, AUROC, probabilities) of the current weights; unweighted loss."""
        prob = self.predict_proba(x)
        p = np.clip(prob[np.arange(len(y)), y], 1e-12, None)
        loss = float(-np.log(p).mean())
        acc = float((prob.argmax(1) == y).mean())
        return loss, acc, quick_auc(y, prob), prob

    # -- the loop ---------------------------------------------------------------------------------

    def fit(self, x_train, y_train: np.ndarray, x_val, y_val: np.ndarray | None,
            resume: bool = True) -> FitResult:
        """Train for ``cfg.epochs`` (or until early stopping), resuming from ``ckpt_dir`` if allowed.

        ``x_val``/``y_val``: the selection data (never the data that will be scored); None = no
        selection, the last epoch is kept (its val_* columns are NaN). On return the model holds
        the selected epoch's weights.
        """
        cfg = self.cfg
        y_train = np.asarray(y_train, dtype=np.int64)
        if x_val is None:  # no selection data (selection.source none)
            x_val, y_val = (), np.zeros(0, dtype=np.int64)
        y_val = np.asarray(y_val, dtype=np.int64)
        if self.sample_weights is not None and len(self.sample_weights) != len(x_train):
            raise ValueError(f"sample_weights: expected {len(x_train)} values; got {len(self.sample_weights)}")
        generator = torch.Generator().manual_seed(fold_seed(cfg.seed, self.fold, 1))
        torch.manual_seed(fold_seed(cfg.seed, self.fold, 2))  # dropout and other global draws
        optimizer = build_optimizer(self.model, cfg.optim)
        scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")

        state = load_checkpoint(self.ckpt_dir, self.model, optimizer, generator) if resume else None
        if state is None:
            state = {"epoch": 0, "history": [], "best_epoch": 0, "best_value": None,
                     "since_best": 0, "finished": False, "n_train": len(x_train), "n_val": len(x_val)}
        elif state.get("n_train") != len(x_train) or state.get("n_val") != len(x_val):
            raise ValueError(
                f"checkpoint {self.ckpt_dir}: expected a checkpoint for {len(x_train)} training and "
                f"{len(x_val)} validation images; got one for {state.get('n_train')} and "
                f"{state.get('n_val')} (the data changed: start again with --no-resume)")
        else:
            log.info("fold %d: resuming after epoch %d", self.fold, state["epoch"])
            if "grad_scaler" in state:
                scaler.load_state_dict(state["grad_scaler"])

        logger = EpochLogger(self.log_dir, tensorboard=cfg.tensorboard)
        bar = self.progress
        own = not isinstance(bar, RunProgress)
        if own:
            bar = RunProgress(f"fold {self.fold}", 1, cfg.epochs, enabled=bar)
            bar.fold(0, state["epoch"])
        else:  # the run's bar: folds are numbered in the order they run
            bar.fold(self.fold, state["epoch"])
        try:
            while not state["finished"] and state["epoch"] < cfg.epochs:
                epoch = state["epoch"]  # 0-based epoch about to run
                lr = lr_at(epoch, cfg.optim, cfg.epochs)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                t0 = time.perf_counter()
                train_loss, train_acc = self._train_epoch(x_train, y_train, optimizer, generator, scaler,
                                                          epoch, bar)
                val_loss, val_acc, val_auc = ((math.nan,) * 3 if len(x_val) == 0
                                              else self.evaluate(x_val, y_val)[:3])
                row = {"fold": self.fold, "epoch": epoch + 1, "train_loss": train_loss,
                       "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc,
                       "val_auc": val_auc, "lr": lr, "seconds": time.perf_counter() - t0}
                state["history"].append(row)
                value = row[cfg.selection.metric]
                if len(x_val) == 0 or self._better(value, state["best_value"]):  # none: the last
                    state["best_value"], state["best_epoch"], state["since_best"] = value, epoch + 1, 0
                    save_weights(self.ckpt_dir / "best.safetensors", self.model.state_dict(),
                                 {"epoch": epoch + 1, "metric": cfg.selection.metric, "value": value})
                else:
                    state["since_best"] += 1
                state["epoch"] = epoch + 1
                patience = cfg.selection.patience
                stopped = patience is not None and state["since_best"] >= patience
                state["finished"] = stopped or state["epoch"] >= cfg.epochs
                state["stopped_early"] = stopped and state["epoch"] < cfg.epochs
                if scaler.is_enabled():
                    state["grad_scaler"] = scaler.state_dict()
                save_checkpoint(self.ckpt_dir, self.model, optimizer, state, generator)
                logger.write(state["history"])
                bar.epoch(row, cfg.selection.metric)
                for callback in self.callbacks:
                    callback(row)
        finally:
            if own:
                bar.close()
            logger.close()

        if state["best_epoch"] > 0:
            self.model.train()  # leave eval mode first so eval-mode caches (circuit unitaries) reset
            load_model_weights(self.model, self.ckpt_dir / "best.safetensors", self.device)
        return FitResult(history=state["history"], best_epoch=state["best_epoch"],
                         best_value=float("nan") if state["best_value"] is None else state["best_value"],
                         stopped_early=bool(state.get("stopped_early", False)))
