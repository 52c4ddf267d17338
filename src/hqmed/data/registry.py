"""``load_source(kind, **params)``: one entry point for every data source.

==========  =====================================================  =========================
kind        loader (parameters: see its docstring)                 splits returned
==========  =====================================================  =========================
medmnist    :func:`hqmed.data.medmnist.load_medmnist`              train, val, test
cifar10     :func:`hqmed.data.cifar.load_cifar10`                  train, test
vindr       :func:`hqmed.data.vindr.load_vindr`                    train, test
phantoms    :func:`load_phantoms` (synthetic VinDr-format data)    train, test
folder      :func:`hqmed.data.folders.load_image_folder`           all
yolo        :func:`hqmed.data.yolo.load_yolo`                      train, val, test (or all)
==========  =====================================================  =========================

An unknown kind or parameter raises :class:`~hqmed.errors.ConfigError` listing the valid ones.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable, Sequence

from hqmed.data.base import ImageDataset, default_cache_dir
from hqmed.data.cifar import load_cifar10
from hqmed.data.folders import load_image_folder
from hqmed.data.medmnist import load_medmnist
from hqmed.data.phantoms import generate_phantom_dataset
from hqmed.data.vindr import load_vindr
from hqmed.data.yolo import load_yolo
from hqmed.errors import ConfigError


def load_phantoms(root: str | os.PathLike | None = None, n_images: int = 300, seed: int = 0,
                  difficulty: float = 0.5, image_size: int = 224,
                  radiograph_size: Sequence[int] = (512, 384), test_fraction: float = 0.2,
                  class_probs: dict[str, float] | None = None, channels: int = 3,
                  rois_per_normal: int = 1, roi_margin: float = 0.0, cache: bool = True,
                  cache_dir: str | os.PathLike | None = None, on_error: str = "raise",
                  report_path: str | os.PathLike | None = None) -> dict[str, ImageDataset]:
    """SYNTHETIC spine phantoms in VinDr-SpineXR format, generated if absent, loaded as VinDr ROIs.

    ``n_images, seed, difficulty, radiograph_size`` (H, W of each radiograph), ``test_fraction`` and
    ``class_probs`` go to :func:`hqmed.data.phantoms.generate_phantom_dataset` (deterministic);
    ``image_size`` is the side of the ROI crops, as for ``kind="vindr"``. Without ``root`` the data
    set lives under ``$HQMED_CACHE/phantoms/<hash of the generator settings>``.
    """
    gen = {"n_images": int(n_images), "seed": int(seed), "difficulty": float(difficulty),
           "image_size": tuple(int(v) for v in radiograph_size), "test_fraction": float(test_fraction),
           "class_probs": class_probs}
    if root is None:
        key = hashlib.sha256(json.dumps(gen, sort_keys=True, default=str).encode()).hexdigest()[:16]
        root = default_cache_dir(cache_dir) / "phantoms" / key
    root = generate_phantom_dataset(root, **gen)
    return load_vindr(root, image_size=image_size, channels=channels, rois_per_normal=rois_per_normal,
                      roi_margin=roi_margin, seed=seed, cache=cache, cache_dir=cache_dir,
                      on_error=on_error, report_path=report_path, name="phantoms (synthetic)")


SOURCES: dict[str, Callable[..., dict[str, ImageDataset]]] = {
    "medmnist": load_medmnist,
    "cifar10": load_cifar10,
    "vindr": load_vindr,
    "phantoms": load_phantoms,
    "folder": load_image_folder,
    "yolo": load_yolo,
}


def list_sources() -> list[str]:
    return list(SOURCES)


def get_loader(kind: str) -> Callable[..., dict[str, ImageDataset]]:
    if kind not in SOURCES:
        raise ConfigError(f"data kind: expected one of {list(SOURCES)}; got {kind!r}")
    return SOURCES[kind]


def source_params(kind: str) -> list[str]:
    """Parameter names accepted by ``load_source(kind, ...)``."""
    return list(inspect.signature(get_loader(kind)).parameters)


def load_source(kind: str, **params) -> dict[str, ImageDataset]:
    """Load a data source by kind -> ``{split: ImageDataset}`` (see module doc)."""
    loader = get_loader(kind)
    valid = list(inspect.signature(loader).parameters)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"data kind {kind!r}: unknown parameter(s) {unknown}; expected among {valid}")
    return loader(**params)
