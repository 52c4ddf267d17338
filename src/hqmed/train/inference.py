"""Use a finished run's models on new data: ``hqmed evaluate``, ``hqmed predict``, ``hqmed external``.

:class:`RunPredictor` rebuilds every fold's best model with its training-split normaliser, prepares
new images exactly like the training data (resize to the run's input size, channels,
quanvolution) and returns class probabilities. By default it averages the fold models (the
"ensemble", as for the test metrics of a CV run); ``fold=i`` uses one fold's model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hqmed.errors import ConfigError, DataError
from hqmed.train.prepare import prepare_split
from hqmed.train.runner import is_complete, load_fold_model, load_run_config
from hqmed.utils.io import read_json
from hqmed.utils.runtime import auto_device

__all__ = ["RunPredictor", "load_files"]


class RunPredictor:
    """Probabilities of a finished run's best model(s) on new images.

    Args:
        run_dir: a finished run directory (holds DONE).
        fold: "ensemble" (mean of all fold models' probabilities) or a fold number.
        device: "auto" or a torch device string.
        batch_size: images per forward pass.
    """

    def __init__(self, run_dir: str | Path, fold: int | str = "ensemble", device: str = "auto",
                 batch_size: int = 256):
        self.run_dir = Path(run_dir)
        if not is_complete(self.run_dir):
            raise DataError(f"run directory {self.run_dir}: expected a finished run (with DONE); "
                            "got none (run or resume it first)")
        self.cfg = load_run_config(self.run_dir)
        self.metrics = read_json(self.run_dir / "metrics.json")
        self.class_names: list[str] = list(self.metrics["class_names"])
        self.input_shape = tuple(int(v) for v in self.metrics["input_shape"])
        folds = [int(f["fold"]) for f in self.metrics["folds"]]
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
        self._models = [load_fold_model(self.run_dir, f, self.cfg, self.metrics) for f in self.folds]
        for model, _ in self._models:
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

    @torch.no_grad()
    def predict_images(self, images: np.ndarray) -> np.ndarray:
        """(N, K) float64 probabilities of PREPARED images (N, C, H, W) in [0, 1]."""
        if images.ndim != 4 or tuple(images.shape[1:]) != self.input_shape:
            raise DataError(f"images: expected prepared images (N, {', '.join(map(str, self.input_shape))}); "
                            f"got {tuple(images.shape)}")
        total = np.zeros((len(images), len(self.class_names)), dtype=np.float64)
        for model, norm in self._models:
            model.eval()
            for start in range(0, len(images), self.batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(images[start:start + self.batch_size]))
                logits = model(norm(xb).to(self.device))
                total[start:start + len(xb)] += torch.softmax(logits.float(), 1).cpu().double().numpy()
        return total / len(self._models)

    def predict_dataset(self, ds) -> np.ndarray:
        """(N, K) probabilities of an ImageDataset (prepared here)."""
        return self.predict_images(self.prepare(ds).images)


def load_files(paths: list[str | Path], channels: int = 3, size: tuple[int, int] | None = None):
    """ImageDataset (labels -1) of PNG/JPEG/DICOM files, each resized to ``size`` (H, W) (default:
    the first file's size); its meta ``path`` keeps each file name."""
    import pandas as pd

    from hqmed.data.base import ImageDataset, read_image_file, resize_images

    if not paths:
        raise ConfigError("FILES: expected at least one image file; got none")
    arrays = []
    for p in paths:
        if not Path(p).is_file():
            raise DataError(f"{p}: expected an image file (PNG, JPEG or DICOM); got no such file")
        arrays.append(read_image_file(p, channels=channels))
    h, w = size if size is not None else arrays[0].shape[-2:]
    images = np.stack([a if a.shape[-2:] == (h, w) else resize_images(a, (h, w)) for a in arrays])
    ids = [str(p) for p in paths]
    meta = pd.DataFrame({"id": ids, "path": ids, "group": ids, "box": [None] * len(ids)})
    return ImageDataset(images.astype(np.float32), np.full(len(ids), -1, dtype=np.int64),
                        ["?"], meta, name="files")
