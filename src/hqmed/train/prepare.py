"""From a config to arrays and a model: the data and model steps shared by training and inference.

- :func:`load_datasets` calls ``hqmed.data.load_source(source, **params)`` with ``root`` resolved
  against ``data.data_root``.
- :func:`prepare_split` applies the config's image preparation to any split (train, val, test or a
  new folder at ``hqmed predict`` time): resize to ``image_size``, convert ``channels``, add
  quanvolution channels. The same function runs at training and at inference, so the two agree.
- :func:`fit_normalizer` computes per-channel mean/std on the TRAINING portion only.
- :func:`balance` applies SMOTE / class weights / sampler weights to the training portion only.
- :func:`build_model` seeds and builds the network through ``hqmed.models.create_model``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from hqmed.data import balancing
from hqmed.data.base import ImageDataset
from hqmed.data.quanvolution import add_quantum_channels
from hqmed.data.registry import load_source
from hqmed.data.resize import resize_images
from hqmed.data.store import StoredImages
from hqmed.data.transforms import Augmentation, Normalizer
from hqmed.errors import DataError
from hqmed.models import create_model
from hqmed.train.config import AugmentationConfig, ExperimentConfig

__all__ = [
    "Balanced",
    "balance",
    "build_augment",
    "build_model",
    "fit_normalizer",
    "load_datasets",
    "prepare_split",
    "resolve_params",
    "subsample",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Loading


def resolve_params(cfg: ExperimentConfig) -> dict[str, Any]:
    """``data.params`` with ``root`` joined onto ``data.data_root`` (when that is set)."""
    params = dict(cfg.data.params)
    if cfg.data.data_root:
        base = Path(cfg.data.data_root).expanduser()
        root = params.get("root")
        params["root"] = str(base if root is None else base / Path(str(root)).expanduser())
    return params


def load_datasets(cfg: ExperimentConfig) -> dict:
    """``{split: ImageDataset}`` of the configured source."""
    return load_source(cfg.data.source, **resolve_params(cfg))


def subsample(ds, n_max: int | None, seed: int):
    """At most ``n_max`` samples of ``ds`` (stratified when every class has >= 2; seeded), in order."""
    if n_max is None or len(ds) <= n_max:
        return ds, None
    idx = np.arange(len(ds))
    labels = ds.labels
    _, counts = np.unique(labels, return_counts=True)
    strat = labels if counts.min() >= 2 and len(counts) <= n_max else None
    keep, _ = train_test_split(idx, train_size=n_max, stratify=strat, random_state=seed, shuffle=True)
    keep = np.sort(keep)
    return ds.subset(keep), keep


def prepare_split(ds, cfg: ExperimentConfig, input_shape: tuple[int, int, int] | None = None):
    """Resize, convert channels and add quanvolution channels as configured. Returns a new dataset.

    ``input_shape`` (C, H, W) is a trained run's model input (inference on new data): images are
    then resized to (H, W) and converted to C channels (C - 4 before quanvolution) whatever the
    config says, so any folder or file can be fed to the model.
    """
    q = cfg.data.quanvolution
    size: int | tuple[int, int] | None = cfg.data.image_size
    want = cfg.data.channels
    if input_shape is not None:
        c, h, w = (int(v) for v in input_shape)
        size, want = (h, w), c - 4 if q.enabled else c
    images = ds.images
    if isinstance(images, StoredImages):  # resized and converted per batch as it is read
        hw = (size, size) if isinstance(size, int) else size
        images = images.with_format(channels=want, size=hw)
        ds = ImageDataset(images, ds.labels, list(ds.class_names), ds.meta, name=ds.name)
    if size is not None:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(images.shape[-2:]) != hw:
            images = resize_images(images, hw)
    if want is not None and images.shape[1] != want:
        if want == 3 and images.shape[1] == 1:
            images = np.repeat(images, 3, axis=1)
        elif want == 1 and images.shape[1] == 3:
            images = images.mean(axis=1, keepdims=True, dtype=np.float32)
        else:
            raise DataError(f"{ds.name}: data.channels: expected images with 1 or 3 channels to "
                            f"convert to {want}; got {images.shape[1]}")
    if images is not ds.images:
        ds = ImageDataset(np.ascontiguousarray(images, dtype=np.float32), ds.labels,
                          list(ds.class_names), ds.meta, name=ds.name)
    if q.enabled:
        if isinstance(ds.images, StoredImages):  # quanvolution is for small images: read them
            ds = ImageDataset(ds.images.read(), ds.labels, list(ds.class_names), ds.meta, name=ds.name)
        ds = add_quantum_channels(ds, stride=q.stride, rotation=q.rotation, random_layers=q.random_layers,
                                  n_layers=q.n_layers, seed=q.seed, cache_dir=q.cache_dir)
    return ds


# ---------------------------------------------------------------------------------------------
# Normalisation


def fit_normalizer(train_images):
    """``hqmed.data.transforms.Normalizer`` fitted on (N, C, H, W) TRAINING images only (an array,
    or a store view read 64 images at a time)."""
    return Normalizer.fit(train_images, chunk=1024 if isinstance(train_images, np.ndarray) else 64)


# ---------------------------------------------------------------------------------------------
# Balancing and augmentation


@dataclass
class Balanced:
    """The training portion after balancing, plus loss/sampler weights when those are used."""

    x: Any  # (N', C, H, W) float32: an array, a store view or a lazy SmoteImages (read_rows)
    y: np.ndarray  # (N',) int64
    class_weights: np.ndarray | None = None  # (K,) for the cross-entropy
    sample_weights: np.ndarray | None = None  # (N',) sampling weights


def balance(x, y: np.ndarray, num_classes: int, cfg: ExperimentConfig, seed: int) -> Balanced:
    """Apply ``cfg.balancing`` to one training portion (never to validation or test data); SMOTE
    is virtual (synthetic images are made per batch, see ``hqmed.data.balancing``)."""
    method = cfg.balancing.method
    if method == "none":
        return Balanced(x, y)
    if method == "smote":
        # default target: the largest class's count (i.e. balance every class up to it)
        target = cfg.balancing.target_per_class or int(np.bincount(y, minlength=num_classes).max())
        plan = balancing.smote_plan(x, y, target_per_class=target, seed=seed, num_classes=num_classes,
                                    block=cfg.balancing.neighbor_block)
        return Balanced(balancing.SmoteImages(x, plan), plan.labels)
    if method == "weighted_loss":
        return Balanced(x, y, class_weights=np.asarray(balancing.class_weights(y, num_classes)))
    return Balanced(x, y, sample_weights=np.asarray(balancing.weighted_sampler_weights(y, num_classes)))


def build_augment(cfg: AugmentationConfig):
    """``hqmed.data.transforms.Augmentation`` (``f(x, generator) -> x``, picklable for loader
    workers), or None when disabled."""
    if not cfg.enabled:
        return None
    return Augmentation(cfg)  # the transforms dataclass, plus ``enabled``


# ---------------------------------------------------------------------------------------------
# Model


def build_model(cfg: ExperimentConfig, num_classes: int, in_chans: int, seed: int) -> torch.nn.Module:
    """Seed torch with ``seed`` then build ``cfg.model`` for K classes and C input channels."""
    torch.manual_seed(seed)
    return create_model(cfg.model.name, num_classes=num_classes, in_chans=in_chans,
                        drop_rate=cfg.model.drop_rate, **cfg.model.kwargs)
