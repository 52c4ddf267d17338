"""Leak-free, reproducible data splits.

* :func:`stratified_kfold` -- stratified K-fold with a fixed seed (scikit-learn's
  ``StratifiedKFold(shuffle=True, random_state=seed)``), or, when ``groups`` is given,
  ``StratifiedGroupKFold`` so that no group (study or patient) appears on both sides of a fold.
* :func:`holdout_split` -- stratified train/val/test split, group-aware when ``groups`` is given.
* :func:`save_splits` / :func:`load_splits` -- the run directory's ``splits.json``::

      {"protocol": "holdout" | "cv",
       "folds": [{"fold": 0, "train": [...], "val": [...]}, ...],
       "test": [...] | null}

  Indices are positions in the source's dataset (``ImageDataset``), so any fold can be rebuilt
  from the saved file alone.

All functions return sorted ``int64`` index arrays and are deterministic given ``seed``
(they never touch the global NumPy RNG).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from hqmed.errors import ConfigError, DataError
from hqmed.utils.io import atomic_write_json, read_json

__all__ = [
    "stratified_kfold",
    "holdout_split",
    "check_group_disjoint",
    "save_splits",
    "load_splits",
]


def _as_labels(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise DataError(f"labels: expected a 1-D array of class indices; got shape {y.shape}")
    if y.size == 0:
        raise DataError("labels: expected at least one sample; got an empty array")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise DataError(f"labels: expected integer class indices; got dtype {y.dtype}")
    if (y < 0).any():
        raise DataError(
            "labels: expected class indices >= 0 (unlabelled samples, -1, cannot be split "
            f"stratified); got {int((y < 0).sum())} negative labels"
        )
    return y.astype(np.int64)


def _as_groups(groups, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    g = np.asarray(groups)
    if g.shape != (n,):
        raise DataError(f"groups: expected shape ({n},) to match labels; got {g.shape}")
    return g


def _check_class_sizes(y: np.ndarray, k: int, what: str) -> None:
    classes, counts = np.unique(y, return_counts=True)
    small = [(int(c), int(n)) for c, n in zip(classes, counts) if n < k]
    if small:
        desc = ", ".join(f"class {c} has {n}" for c, n in small)
        raise DataError(
            f"labels: expected at least {k} samples per class for {what}; got {desc}"
        )


def stratified_kfold(
    labels: Sequence[int] | np.ndarray,
    k: int = 5,
    seed: int = 0,
    groups: Sequence | np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold indices.

    Args:
        labels: (N,) integer class indices.
        k: number of folds (>= 2).
        seed: shuffling seed; the same seed always gives the same folds.
        groups: optional (N,) study/patient ids. With groups, ``StratifiedGroupKFold`` keeps every
            group on one side of each fold (class proportions are then only approximately kept).

    Returns:
        ``k`` pairs ``(train_idx, val_idx)`` of sorted int64 arrays; the ``val_idx`` of all folds
        partition ``range(N)``.

    Raises:
        ConfigError: ``k < 2``.
        DataError: a class has fewer than ``k`` members (or, with groups, fewer than ``k`` groups
            in total).
    """
    y = _as_labels(labels)
    g = _as_groups(groups, len(y))
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"k: expected an integer number of folds >= 2; got {k!r}")
    _check_class_sizes(y, k, f"{k}-fold stratified splitting")
    if g is None:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        it = splitter.split(np.zeros(len(y)), y)
    else:
        n_groups = len(np.unique(g))
        if n_groups < k:
            raise DataError(f"groups: expected at least {k} distinct groups for {k} folds; "
                            f"got {n_groups}")
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        it = splitter.split(np.zeros(len(y)), y, g)
    return [(np.sort(tr).astype(np.int64), np.sort(va).astype(np.int64)) for tr, va in it]


def _group_holdout(y: np.ndarray, g: np.ndarray, fraction: float, seed: int):
    """Split off ~``fraction`` of the samples as whole groups, stratified by class.

    Uses the first fold of ``StratifiedGroupKFold(n_splits=round(1 / fraction))``, so the
    realised fraction is ``1 / round(1 / fraction)`` up to group granularity (e.g. 0.15 -> 1/7).
    """
    n_splits = max(2, int(round(1.0 / fraction)))
    n_groups = len(np.unique(g))
    if n_groups < n_splits:
        raise DataError(f"groups: expected at least {n_splits} distinct groups to hold out "
                        f"{fraction:g} of the data by group; got {n_groups}")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    rest, held = next(splitter.split(np.zeros(len(y)), y, g))
    return rest, held


def holdout_split(
    labels: Sequence[int] | np.ndarray,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    groups: Sequence | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train/val/test split.

    Args:
        labels: (N,) integer class indices.
        val_fraction: fraction of all samples for validation, in [0, 1).
        test_fraction: fraction of all samples for test, in [0, 1); 0 gives an empty test array
            (use this when the source has an official test split).
        seed: split seed.
        groups: optional (N,) study/patient ids; whole groups go to one side. Fractions are then
            approximate (see ``_group_holdout``).

    Returns:
        ``(train_idx, val_idx, test_idx)`` sorted int64 arrays that partition ``range(N)``.
    """
    y = _as_labels(labels)
    g = _as_groups(groups, len(y))
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= float(f) < 1.0:
            raise ConfigError(f"{name}: expected a fraction in [0, 1); got {f!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError("val_fraction + test_fraction: expected < 1; got "
                          f"{val_fraction} + {test_fraction}")
    idx = np.arange(len(y))
    empty = np.zeros(0, dtype=np.int64)

    def split_off(sub: np.ndarray, fraction: float, seed_: int):
        """Split ``fraction`` (of ``sub``) away from the indices ``sub``."""
        if fraction <= 0:
            return sub, empty
        ys = y[sub]
        _check_class_sizes(ys, 2, "a stratified holdout split")
        if g is None:
            keep, held = train_test_split(
                sub, test_size=fraction, stratify=ys, random_state=seed_, shuffle=True
            )
            return keep, held
        keep, held = _group_holdout(ys, g[sub], fraction, seed_)
        return sub[keep], sub[held]

    rest, test = split_off(idx, float(test_fraction), seed)
    # val_fraction is a fraction of ALL samples; rescale to the remaining part.
    val_rel = float(val_fraction) / (1.0 - float(test_fraction)) if val_fraction > 0 else 0.0
    train, val = split_off(rest, val_rel, seed + 1)
    return tuple(np.sort(np.asarray(a)).astype(np.int64) for a in (train, val, test))


def check_group_disjoint(groups, *index_sets: np.ndarray) -> None:
    """Raise DataError if any group id appears in more than one of ``index_sets``."""
    g = np.asarray(groups)
    seen: dict = {}
    for k, idx in enumerate(index_sets):
        for grp in np.unique(g[np.asarray(idx, dtype=np.int64)]):
            if grp in seen and seen[grp] != k:
                raise DataError(f"groups: expected each group on one side of the split; "
                                f"got group {grp!r} in splits {seen[grp]} and {k}")
            seen[grp] = k


def save_splits(
    path: str | os.PathLike,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    test: np.ndarray | None = None,
    protocol: str = "cv",
) -> Path:
    """Write ``splits.json`` (atomically) in the run-directory format described above."""
    if protocol not in ("cv", "holdout"):
        raise ConfigError(f"protocol: expected 'cv' or 'holdout'; got {protocol!r}")
    obj = {
        "protocol": protocol,
        "folds": [
            {"fold": i, "train": [int(v) for v in tr], "val": [int(v) for v in va]}
            for i, (tr, va) in enumerate(folds)
        ],
        "test": None if test is None else [int(v) for v in test],
    }
    return atomic_write_json(path, obj, indent=None)


def load_splits(path: str | os.PathLike) -> dict:
    """Read ``splits.json``; returns ``{"protocol", "folds": [(train, val), ...], "test"}``
    with int64 arrays (``test`` may be None)."""
    try:
        obj = read_json(path)
    except FileNotFoundError:
        raise
    except ValueError as exc:
        raise DataError(f"{path}: expected a JSON splits file; got invalid JSON ({exc})") from exc
    if not isinstance(obj, dict) or "folds" not in obj or "protocol" not in obj:
        raise DataError(f"{path}: expected keys 'protocol' and 'folds'; got "
                        f"{sorted(obj) if isinstance(obj, dict) else type(obj).__name__}")
    folds = []
    for i, f in enumerate(obj["folds"]):
        if not {"train", "val"} <= set(f):
            raise DataError(f"{path}: fold {i}: expected keys 'train' and 'val'; got {sorted(f)}")
        folds.append((np.asarray(f["train"], dtype=np.int64), np.asarray(f["val"], dtype=np.int64)))
    test = obj.get("test")
    return {
        "protocol": obj["protocol"],
        "folds": folds,
        "test": None if test is None else np.asarray(test, dtype=np.int64),
    }
