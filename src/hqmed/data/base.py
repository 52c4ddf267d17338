"""The one dataset contract every source returns, plus the small image helpers they share.

An :class:`ImageDataset` is one split:

- ``images``: ``np.ndarray`` (N, C, H, W) float32, values in [0, 1] -- or, for data too large to
  hold as float32 (VinDr-SpineXR crops at 224 px), a lazy :class:`hqmed.data.store.StoredImages`
  view of an on-disk uint16 store with the same shape; read batches with
  :func:`hqmed.data.store.read_rows` (``subset``/``concat`` keep the view lazy);
- ``labels``: ``np.ndarray`` (N,) int64, ``-1`` = unlabelled (inference-only data);
- ``class_names``: ``list[str]`` (K names; label ``k`` means ``class_names[k]``);
- ``meta``: ``pandas.DataFrame`` with N rows and at least the columns ``id`` (unique sample id),
  ``path`` (source file), ``group`` (study / patient id, else the sample id; splits keep a group
  on one side) and ``box`` (``(xmin, ymin, xmax, ymax)`` in source-image pixels, or ``None``);
- ``name``: a short human-readable name, e.g. ``"pneumoniamnist_28/train"``.

Data roots: an explicit ``root`` argument (``--data-root`` on the CLI), else ``$HQMED_DATA``, else
``~/.hqmed/data``. Caches: ``$HQMED_CACHE``, else ``~/.hqmed/cache``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from hqmed.data.dicom import is_dicom, read_dicom
from hqmed.data.limits import check_pixel_budget, check_regular_file, max_pixels
from hqmed.data.store import StoredImages
from hqmed.errors import DataError, ShapeError
from hqmed.utils.io import default_cache_dir, user_dir  # noqa: F401  (default_cache_dir: re-exported)

META_COLUMNS = ("id", "path", "group", "box")


def resolve_data_root(root: str | os.PathLike | None = None) -> Path:
    """``root`` if given, else ``$HQMED_DATA``, else ``~/.hqmed/data`` (not created here)."""
    return user_dir(root, "HQMED_DATA", "data")


def resolve_inside(root: str | os.PathLike, name: str, where: str, what: str = "path") -> Path:
    """``root / name`` resolved (symlinks followed), required to stay inside ``root`` (itself resolved).

    For paths read from data files (a CSV's image_id, ...): an absolute ``name``, ``..`` parts or a
    symlink that leads outside ``root`` raise a DataError starting with ``where`` (file and line).
    """
    base = Path(root).resolve()
    target = (base / name).resolve()
    if Path(name).is_absolute() or not target.is_relative_to(base):
        raise DataError(f"{where}: {what}: expected a name inside {root}; got {name!r}, which "
                        f"resolves to {target} outside it")
    return target


def default_meta(n: int, name: str = "sample", path: str = "") -> pd.DataFrame:
    """Metadata for N samples without files: ids ``<name>/<i>``, group = id, no boxes."""
    ids = [f"{name}/{i}" for i in range(n)]
    return pd.DataFrame({"id": ids, "path": [path] * n, "group": ids, "box": [None] * n})


@dataclass
class ImageDataset:
    """A split of images with integer labels, class names and per-sample metadata (see module doc)."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    meta: pd.DataFrame | None = None
    name: str = "dataset"

    def __post_init__(self) -> None:
        images, labels = self.images, np.asarray(self.labels)
        lazy = isinstance(images, StoredImages)  # values in [0, 1] by construction
        if not (lazy or isinstance(images, np.ndarray)) or images.ndim != 4:
            got = getattr(images, "shape", type(images).__name__)
            raise ShapeError(f"{self.name}: images: expected an array (N, C, H, W); got {got}")
        if images.dtype != np.float32:
            raise DataError(f"{self.name}: images: expected dtype float32; got {images.dtype}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise ShapeError(f"{self.name}: labels: expected shape ({len(images)},); got {labels.shape}")
        if labels.dtype != np.int64:
            if not np.issubdtype(labels.dtype, np.integer):
                raise DataError(f"{self.name}: labels: expected integers; got dtype {labels.dtype}")
            labels = labels.astype(np.int64)
        self.labels = labels
        self.class_names = [str(c) for c in self.class_names]
        k = len(self.class_names)
        if len(labels) and (labels.min() < -1 or labels.max() >= k):
            bad = labels[(labels < -1) | (labels >= k)][:5].tolist()
            raise DataError(f"{self.name}: labels: expected values in [-1, {k - 1}]; got {bad}")
        if not lazy and images.size:
            lo, hi = float(images.min()), float(images.max())
            if lo < 0.0 or hi > 1.0 or not np.isfinite(lo + hi):
                raise DataError(f"{self.name}: images: expected values in [0, 1]; got [{lo}, {hi}]")
        if self.meta is None:
            self.meta = default_meta(len(images), self.name)
        missing = [c for c in META_COLUMNS if c not in self.meta.columns]
        if missing or len(self.meta) != len(images):
            raise DataError(
                f"{self.name}: meta: expected {len(images)} rows with columns {list(META_COLUMNS)}; "
                f"got {len(self.meta)} rows, missing {missing}"
            )
        self.meta = self.meta.reset_index(drop=True)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def counts(self) -> np.ndarray:
        """(K,) int64 number of labelled samples per class (unlabelled ``-1`` not counted)."""
        lab = self.labels[self.labels >= 0]
        return np.bincount(lab, minlength=self.num_classes).astype(np.int64)

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> ImageDataset:
        """The samples at ``indices`` (int indices or a boolean mask), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ShapeError(f"{self.name}: subset mask: expected shape ({len(self)},); got {idx.shape}")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise DataError(f"{self.name}: subset indices: expected values in [0, {len(self) - 1}]; got "
                            f"[{idx.min()}, {idx.max()}]")
        return ImageDataset(
            images=self.images[idx],
            labels=self.labels[idx],
            class_names=list(self.class_names),
            meta=self.meta.iloc[idx].reset_index(drop=True),
            name=name or self.name,
        )

    def concat(self, *others: ImageDataset, name: str | None = None) -> ImageDataset:
        """This dataset followed by ``others`` (same class names and image shape required).

        Also usable as ``ImageDataset.concat(a, b, c)``.
        """
        parts = [self, *others]
        for p in parts[1:]:
            if p.class_names != self.class_names:
                raise DataError(f"concat {p.name}: expected class_names {self.class_names}; got {p.class_names}")
            if p.image_shape != self.image_shape:
                raise ShapeError(f"concat {p.name}: expected image shape {self.image_shape}; got {p.image_shape}")
        lazy = [isinstance(p.images, StoredImages) for p in parts]
        if any(lazy) and not all(lazy):
            raise DataError(f"concat: expected all parts stored on disk or all in memory; got "
                            f"{[p.name for p in parts]} mixed")
        return ImageDataset(
            images=StoredImages.concat([p.images for p in parts]) if all(lazy)
            else np.concatenate([p.images for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            class_names=list(self.class_names),
            meta=pd.concat([p.meta for p in parts], ignore_index=True),
            name=name or "+".join(p.name for p in parts),
        )

    def __repr__(self) -> str:
        return (f"ImageDataset(name={self.name!r}, n={len(self)}, shape={self.image_shape}, "
                f"classes={self.num_classes}, counts={self.counts().tolist()})")


# --------------------------------------------------------------------------- image helpers


def to_channels(img: np.ndarray, channels: int, where: str = "image") -> np.ndarray:
    """(H, W) or (H, W, c) float image -> (channels, H, W); gray is repeated, RGB averaged to gray."""
    if channels not in (1, 3):
        raise DataError(f"{where}: channels: expected 1 or 3; got {channels}")
    if img.ndim == 2:
        img = img[None]
    elif img.ndim == 3 and img.shape[-1] in (1, 3, 4):
        img = np.moveaxis(img[..., :3] if img.shape[-1] == 4 else img, -1, 0)
    else:
        raise ShapeError(f"{where}: expected a 2-D gray or (H, W, 3) colour image; got shape {img.shape}")
    if img.shape[0] == channels:
        return img
    if channels == 1:
        return img.mean(axis=0, keepdims=True)
    return np.repeat(img, 3, axis=0)


def crop_box(img: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """Crop (C, H, W) to the pixel box (xmin, ymin, xmax, ymax), rounded outwards, at least 1 px."""
    h, w = img.shape[-2:]
    x0, y0, x1, y1 = (float(v) for v in box)
    xa, ya = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    xb, yb = min(w, max(xa + 1, int(np.ceil(x1)))), min(h, max(ya + 1, int(np.ceil(y1))))
    return img[..., ya:yb, xa:xb]


def read_image_file(path: str | os.PathLike, channels: int = 3) -> np.ndarray:
    """Read a PNG / JPEG / BMP / TIFF or DICOM file -> (channels, H, W) float32 in [0, 1].

    DICOM (``.dcm``, ``.dicom``, or a ``DICM`` preamble) goes through :func:`hqmed.data.dicom.read_dicom`.
    Raises DataError naming the file when it is not a readable image, declares more pixels than
    :func:`max_pixels` (checked from the header, before decoding) or holds NaN/inf values.
    """
    path = check_regular_file(path)
    if is_dicom(path):
        return to_channels(read_dicom(path), channels, str(path))

    try:
        with warnings.catch_warnings():  # the pixel budget below replaces Pillow's bomb warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise DataError(f"{path}: expected at most {max_pixels():,} pixels per image (pixel budget); "
                        f"got more than Pillow's limit of {2 * Image.MAX_IMAGE_PIXELS:,} pixels "
                        "declared in its header") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: expected a readable PNG/JPEG/DICOM image; got {type(exc).__name__}: {exc}") from exc
    try:
        with im:
            check_pixel_budget(path, (im.height, im.width))
            im = ImageOps.exif_transpose(im)
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                arr = np.asarray(im, dtype=np.float32) / 65535.0
            elif mode in ("I", "F"):
                arr = np.asarray(im, dtype=np.float32)
                bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
                if bad:
                    raise DataError(f"{path}: expected finite pixel values; got {bad} NaN/inf "
                                    f"pixel(s) in a {mode}-mode ({im.width} x {im.height}) image")
                lo, hi = float(arr.min()), float(arr.max())
                arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
            else:
                arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255.0
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: expected a readable PNG/JPEG/DICOM image; got {type(exc).__name__}: {exc}") from exc
    return np.ascontiguousarray(to_channels(arr, channels, str(path)), dtype=np.float32)
