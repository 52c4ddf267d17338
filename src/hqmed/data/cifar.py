"""CIFAR-10 from the official ``cifar-10-batches-py`` pickles, read with a restricted unpickler.

A pickle can run arbitrary code while loading (``os.system`` via ``__reduce__``). The official
batches need only dicts, lists, bytes, str, int and numpy arrays, so :class:`RestrictedUnpickler`
resolves exactly the globals that rebuild those -- ``numpy.core.multiarray._reconstruct`` (and
its numpy 2 path ``numpy._core.multiarray._reconstruct``), ``numpy.ndarray``, ``numpy.dtype``, and
``_codecs.encode`` restricted to latin-1 (how protocol-2 pickles spell ``bytes``) -- and refuses any
other global with a :class:`~hqmed.errors.DataError`. The loaded object is then checked to contain
only those types (no object arrays).

Layout: ``<root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` (``root`` may
also be the ``cifar-10-batches-py`` folder itself); default root ``$HQMED_DATA/cifar10``.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from hqmed.data.base import ImageDataset, resolve_data_root
from hqmed.errors import DataError, DataNotFoundError, ShapeError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)


class RefusedPickle(pickle.UnpicklingError):
    """The pickle asks for something outside the allowed types."""


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes; only latin-1 str -> bytes."""
    if not isinstance(obj, str) or str(encoding).lower().replace("-", "") not in ("latin1", "iso88591"):
        raise RefusedPickle(f"_codecs.encode({type(obj).__name__}, {encoding!r}) is not allowed")
    return obj.encode("latin1", errors)


def _reconstruct(cls, shape, dtype):
    if cls is not np.ndarray:
        raise RefusedPickle(f"_reconstruct of {cls!r} is not allowed")
    return np.ndarray.__new__(cls, shape, dtype)


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals needed for dicts/lists/bytes/str/int/ndarrays."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(
                f"global {module}.{name} is not allowed (only dicts, lists, bytes, str, int and numpy arrays)"
            ) from None


def _check_types(obj, where: str, depth: int = 0) -> None:
    if depth > 8:
        raise DataError(f"{where}: expected a shallow dict of arrays and lists; got nesting deeper than 8")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_types(k, where, depth + 1)
            _check_types(v, where, depth + 1)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _check_types(v, where, depth + 1)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise DataError(f"{where}: expected numeric numpy arrays; got an object array")
    elif not isinstance(obj, bytes | str | int | float | type(None)):
        raise DataError(f"{where}: expected only dicts, lists, bytes, str, int and numpy arrays; "
                        f"got {type(obj).__name__}")


def safe_unpickle(path: str | os.PathLike) -> object:
    """Load a pickle with :class:`RestrictedUnpickler`; anything else raises DataError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataNotFoundError(f"{path}: expected a CIFAR-10 pickle; got no such file") from exc
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except RefusedPickle as exc:
        raise DataError(f"{path}: refused to unpickle: {exc}") from exc
    except Exception as exc:  # truncated or not a pickle
        raise DataError(f"{path}: expected a CIFAR-10 pickle; got {type(exc).__name__}: {exc}") from exc
    _check_types(obj, str(path))
    return obj


def _get(d: dict, key: str, where: str):
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    raise DataError(f"{where}: expected key {key!r}; got keys {sorted(str(k) for k in d)}")


def _find_folder(root: str | os.PathLike | None) -> Path:
    base = Path(root).expanduser() if root else resolve_data_root() / "cifar10"
    for cand in (base, base / FOLDER):
        if (cand / "batches.meta").is_file():
            return cand
    raise DataNotFoundError(
        f"CIFAR-10 not found: expected {base / FOLDER}/batches.meta (or root pointing at the "
        f"{FOLDER} folder). Download {CIFAR10_URL} (md5 {CIFAR10_MD5}) and extract it into {base}"
    )


def read_batch(path: str | os.PathLike, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One batch file -> (images (N, 3, 32, 32) float32 [0, 1], labels (N,) int64, filenames)."""
    d = safe_unpickle(path)
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a dict; got {type(d).__name__}")
    data, labels = _get(d, "data", str(path)), _get(d, "labels", str(path))
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        got = (getattr(data, "shape", type(data).__name__), getattr(data, "dtype", ""))
        raise ShapeError(f"{path} key 'data': expected uint8 array (N, 3072); got {got}")
    labels = np.asarray(labels)
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise ShapeError(f"{path} key 'labels': expected {len(data)} integers; got shape {labels.shape} "
                         f"dtype {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(f"{path} key 'labels': expected values in [0, {n_classes - 1}]; got "
                        f"[{labels.min()}, {labels.max()}]")
    names = [f.decode() if isinstance(f, bytes) else str(f) for f in (d.get(b"filenames") or d.get("filenames") or [])]
    if len(names) != len(data):
        names = [f"{Path(path).name}/{i}" for i in range(len(data))]
    images = data.reshape(-1, 3, 32, 32).astype(np.float32) * np.float32(1.0 / 255.0)
    return images, labels.astype(np.int64), names


def load_cifar10(root: str | os.PathLike | None = None) -> dict[str, ImageDataset]:
    """Official CIFAR-10 train (data_batch_1..5) and test (test_batch) splits as ImageDatasets.

    Images (N, 3, 32, 32) float32 in [0, 1]; class names from ``batches.meta``.
    """
    folder = _find_folder(root)
    meta = safe_unpickle(folder / "batches.meta")
    if not isinstance(meta, dict):
        raise DataError(f"{folder / 'batches.meta'}: expected a dict; got {type(meta).__name__}")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in _get(meta, "label_names", str(folder / "batches.meta"))]
    out = {}
    for split, files in (("train", TRAIN_FILES), ("test", TEST_FILES)):
        parts = [read_batch(folder / f, len(names)) for f in files]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        paths = [str(folder / f) for f, p in zip(files, parts) for _ in range(len(p[1]))]
        ids = [f"{f}/{i}" for f, p in zip(files, parts) for i in range(len(p[1]))]
        df = pd.DataFrame({"id": ids, "path": paths, "group": ids, "box": [None] * len(ids),
                           "filename": [n for p in parts for n in p[2]]})
        out[split] = ImageDataset(images, labels, names, df, name=f"cifar10/{split}")
    return out
