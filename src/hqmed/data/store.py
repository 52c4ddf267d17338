"""On-disk sample store: decoded, resized images kept once, compactly, in a memory-mapped file.

A store is one folder (named by a hash of the settings that made it, like every hqmed cache)::

    <key>/images.bin     raw uint8 or uint16 pixels, C order (N, C, H, W)
    <key>/store.json     {"version", "shape", "dtype", "scale", "nbytes"}, written LAST
    <key>/...            anything the builder adds (e.g. meta.npz)

:class:`StoreWriter` appends one image at a time into a hidden temporary folder next to the final
one, writes ``store.json`` last, fsyncs, and renames the folder into place, so a store either
exists whole or not at all. :func:`open_store` checks the header and the file size and returns None
for a missing or half-written store (a build killed before the rename, a truncated copy): the
caller rebuilds it; a bad store is never read.

:class:`StoredImages` is the read side: an (N, C, H, W) float32 *view* of rows of one or more
stores. Indexing it (``view[idx]``, ``view[a:b]``) gives another view; pixels are read only by
:meth:`StoredImages.read` (or ``np.asarray(view)`` for a small view), batch by batch: rows are
gathered from the memory map, scaled to [0, 1], converted to the view's channel count (gray
repeated to 3, RGB averaged to gray) and resized to its size. A view pickles as paths and index
arrays (never pixels), so worker processes -- DataLoader workers, a Ray executor -- open the same
store files themselves. :func:`read_rows` reads rows of either a view or a plain array, so the
trainer and the predictor have one code path for both.

Where a store lives is decided by its source, from the config alone: VinDr-SpineXR and phantoms
keep theirs at ``<cache_dir>/vindr/<split>-<key>`` (``cache_dir`` = ``data.params.cache_dir``,
else ``$HQMED_CACHE``, else ``~/.hqmed/cache``; ``key`` hashes the settings and the files' names,
sizes and mtimes). Any process that loads the same config -- a resumed run, a DataLoader worker,
a Ray worker -- therefore finds the finished store and opens it without decoding anything.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hqmed.data.resize import resize_images
from hqmed.errors import DataError, ShapeError

__all__ = ["Store", "StoreWriter", "StoredImages", "open_store", "read_rows"]

log = logging.getLogger("hqmed.data")

STORE_VERSION = 1
HEADER = "store.json"
PIXELS = "images.bin"
SCALES = {"uint8": 255, "uint16": 65535}


@dataclass
class Store:
    """One finished store folder: ``shape`` (N, C, H, W) of ``dtype`` pixels, value = pixel / scale."""

    path: Path
    shape: tuple[int, int, int, int]
    dtype: str
    _mm: np.memmap | None = field(default=None, repr=False, compare=False)

    @property
    def scale(self) -> int:
        return SCALES[self.dtype]

    @property
    def pixels(self) -> np.memmap:
        """The read-only memory map (opened on first use, in each process)."""
        if self._mm is None:
            if self.shape[0] == 0:
                return np.zeros(self.shape, dtype=self.dtype)  # type: ignore[return-value]
            self._mm = np.memmap(self.path / PIXELS, dtype=self.dtype, mode="r", shape=self.shape)
        return self._mm

    def __getstate__(self) -> dict:
        return {"path": self.path, "shape": self.shape, "dtype": self.dtype, "_mm": None}


def open_store(path: str | os.PathLike) -> Store | None:
    """The finished store at ``path``, or None when it is missing or not whole (rebuild it then)."""
    path = Path(path)
    try:
        head = json.loads((path / HEADER).read_text(encoding="utf-8"))
        shape = tuple(int(v) for v in head["shape"])
        dtype = str(head["dtype"])
        size = (path / PIXELS).stat().st_size
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if head.get("version") != STORE_VERSION or dtype not in SCALES or len(shape) != 4:
        return None
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size != expected or head.get("nbytes") != expected:
        log.warning("%s: store is not whole (%d of %d bytes); it will be rebuilt", path, size, expected)
        return None
    return Store(path, shape, dtype)  # type: ignore[arg-type]


class StoreWriter:
    """Build a store image by image: ``append`` (C, H, W) floats in [0, 1], then ``commit``.

    Use as a context manager: leaving the block with an exception removes the temporary folder.
    """

    def __init__(self, path: str | os.PathLike, image_shape: Sequence[int], dtype: str = "uint16"):
        if dtype not in SCALES:
            raise DataError(f"store dtype: expected one of {list(SCALES)}; got {dtype!r}")
        self.path = Path(path)
        self.image_shape = tuple(int(v) for v in image_shape)
        self.dtype = dtype
        self.n = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.parent / f".{self.path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir()
        self._fh = open(self.tmp / PIXELS, "wb")  # noqa: SIM115 - closed in commit/abort

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()

    def append(self, image: np.ndarray) -> None:
        img = np.asarray(image)
        if img.shape != self.image_shape:
            raise ShapeError(f"{self.path}: expected images of shape {self.image_shape}; got {img.shape}")
        scale = SCALES[self.dtype]
        self._fh.write(np.round(np.clip(img, 0.0, 1.0) * scale).astype(self.dtype).tobytes())
        self.n += 1

    def add_file(self, name: str, data: bytes) -> None:
        """An extra file (e.g. metadata) that becomes part of the store."""
        (self.tmp / name).write_bytes(data)

    def commit(self) -> Store:
        """Finish the pixel file, write the header last, and move the folder into place."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        shape = (self.n, *self.image_shape)
        nbytes = int(np.prod(shape)) * np.dtype(self.dtype).itemsize
        head = {"version": STORE_VERSION, "shape": list(shape), "dtype": self.dtype,
                "scale": SCALES[self.dtype], "nbytes": nbytes}
        with open(self.tmp / HEADER, "w", encoding="utf-8") as fh:
            json.dump(head, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if self.path.exists():  # a stale, half-written store (open_store refused it)
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)
        store = open_store(self.path)
        if store is None:  # pragma: no cover - only if the file system lost the data
            raise DataError(f"{self.path}: expected a readable store after writing; got none")
        return store

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _to_channels(x: np.ndarray, channels: int | None, where: str) -> np.ndarray:
    if channels is None or x.shape[1] == channels:
        return x
    if channels == 3 and x.shape[1] == 1:
        return np.repeat(x, 3, axis=1)
    if channels == 1 and x.shape[1] == 3:
        return x.mean(axis=1, keepdims=True, dtype=np.float32)
    raise DataError(f"{where}: channels: expected images with 1 or 3 channels to convert to "
                    f"{channels}; got {x.shape[1]}")


class StoredImages:
    """A lazy (N, C, H, W) float32 view of rows of stores (see the module doc).

    Args:
        stores: the stores the rows come from.
        which: (N,) index into ``stores`` per row.
        rows: (N,) row within that store.
        channels: output channels (None = as stored).
        size: output (H, W) (None = as stored).
    """

    def __init__(self, stores: Sequence[Store], which: np.ndarray | None = None,
                 rows: np.ndarray | None = None, channels: int | None = None,
                 size: tuple[int, int] | None = None):
        self.stores = tuple(stores)
        if not self.stores:
            raise DataError("StoredImages: expected at least one store; got none")
        c0, h0, w0 = self.stores[0].shape[1:]
        for s in self.stores[1:]:
            if s.shape[1:] != (c0, h0, w0) or s.dtype != self.stores[0].dtype:
                raise ShapeError(f"{s.path}: expected stored {self.stores[0].dtype} images of shape "
                                 f"{(c0, h0, w0)}; got {s.dtype} {s.shape[1:]}")
        if rows is None:
            which = np.zeros(self.stores[0].shape[0], dtype=np.int64)
            rows = np.arange(self.stores[0].shape[0], dtype=np.int64)
        self.which = np.asarray(which, dtype=np.int64)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.channels = channels
        self.size = None if size is None or tuple(size) == (h0, w0) else (int(size[0]), int(size[1]))

    # -- array-like shape -----------------------------------------------------------------------

    dtype = np.dtype(np.float32)
    ndim = 4

    @property
    def shape(self) -> tuple[int, int, int, int]:
        c0, h0, w0 = self.stores[0].shape[1:]
        h, w = self.size or (h0, w0)
        return (len(self.rows), self.channels or c0, h, w)

    @property
    def size_bytes_float32(self) -> int:
        """What the whole view would take as one float32 array (the old in-memory path)."""
        return int(np.prod(self.shape)) * 4

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"StoredImages(shape={self.shape}, stores={[str(s.path) for s in self.stores]})"

    def _view(self, which, rows, channels=None, size=None) -> StoredImages:
        return StoredImages(self.stores, which, rows, channels or self.channels,
                            size or self.size)

    def __getitem__(self, key):
        """Rows ``key`` (slice, int array or boolean mask) as another view -- no pixels are read;
        an int gives that one image (C, H, W) as an array, as NumPy would."""
        if isinstance(key, (int, np.integer)):
            return self.read([int(key)])[0]
        return self._view(self.which[key], self.rows[key])

    def with_format(self, channels: int | None = None, size: tuple[int, int] | None = None) -> StoredImages:
        """The same rows, read as ``channels`` channels at ``size`` (H, W)."""
        return self._view(self.which, self.rows, channels, size)

    @staticmethod
    def concat(parts: Sequence[StoredImages]) -> StoredImages:
        """Rows of ``parts`` one after the other (same output channels and size)."""
        stores: list[Store] = []
        which, rows = [], []
        for p in parts:
            if (p.channels, p.size) != (parts[0].channels, parts[0].size):
                raise ShapeError(f"concat: expected views of shape {parts[0].shape[1:]}; got {p.shape[1:]}")
            remap = []
            for s in p.stores:
                match = [i for i, t in enumerate(stores) if t.path == s.path]
                if not match:
                    stores.append(s)
                remap.append(match[0] if match else len(stores) - 1)
            which.append(np.asarray(remap, dtype=np.int64)[p.which])
            rows.append(p.rows)
        return StoredImages(stores, np.concatenate(which), np.concatenate(rows), parts[0].channels,
                            parts[0].size)

    # -- reading --------------------------------------------------------------------------------

    def read(self, idx: Sequence[int] | np.ndarray | slice | None = None) -> np.ndarray:
        """Pixels of rows ``idx`` (all rows when None): (B, C, H, W) float32 in [0, 1]."""
        sel = np.arange(len(self)) if idx is None else np.arange(len(self))[idx]
        which, rows = self.which[sel], self.rows[sel]
        c0, h0, w0 = self.stores[0].shape[1:]
        raw = np.empty((len(sel), c0, h0, w0), dtype=self.stores[0].dtype)
        for i, store in enumerate(self.stores):
            hit = np.flatnonzero(which == i)
            if hit.size:
                raw[hit] = store.pixels[rows[hit]]
        x = raw.astype(np.float32) / np.float32(self.stores[0].scale)
        if self.size is not None:
            x = resize_images(x, self.size)
        return np.ascontiguousarray(_to_channels(x, self.channels, str(self.stores[0].path)))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.read()
        return out if dtype is None else out.astype(dtype, copy=False)


def read_rows(images, idx) -> np.ndarray:
    """(B, C, H, W) float32 rows ``idx`` of a plain array or of a lazy view (anything with ``read``)."""
    if hasattr(images, "read"):
        return images.read(idx)
    return np.ascontiguousarray(images[idx], dtype=np.float32)
