"""Class balancing for the TRAINING split only (validation and test keep their distributions).

Three alternatives, as in issue 4 / the LiteSpineNet paper:

* :func:`smote` -- SMOTE (Chawla et al. 2002) through imbalanced-learn on flattened images, up to
  a target count per class (3,400 in the paper). Classes already at or above the target are left
  as they are (never under-sampled). Synthetic samples are appended after the originals and
  flagged in ``is_synthetic``, so they can be excluded from any evaluation.
* :func:`class_weights` -- "balanced" loss weights ``N / (K * n_k)`` (sklearn's
  ``compute_class_weight("balanced")``) for ``torch.nn.CrossEntropyLoss(weight=...)``.
* :func:`weighted_sampler_weights` -- per-sample weights ``1 / n_{y_i}`` for
  ``torch.utils.data.WeightedRandomSampler``: every class is drawn equally often in expectation.

Memory note: SMOTE materialises every synthetic image. The output takes
``sum_k max(n_k, target) * C * H * W * 4`` bytes (8 classes x 3,400 x 3x224x224 float32 is ~16 GB),
so use it on ROI crops at modest sizes, or use the sampler/loss weights instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from imblearn.over_sampling import SMOTE

from hqmed.errors import ConfigError, DataError

__all__ = ["SmoteResult", "smote", "class_weights", "weighted_sampler_weights"]


@dataclass
class SmoteResult:
    """Output of :func:`smote`.

    images: (M, ...) same trailing shape and dtype as the input; the first N rows are the input.
    labels: (M,) int64.
    is_synthetic: (M,) bool, True for the M - N generated rows.
    """

    images: np.ndarray
    labels: np.ndarray
    is_synthetic: np.ndarray

    @property
    def n_synthetic(self) -> int:
        return int(self.is_synthetic.sum())


def _check_labels(labels, num_classes: int | None, what: str) -> tuple[np.ndarray, int]:
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise DataError(f"labels: expected a non-empty 1-D array; got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"labels: expected integer class indices; got dtype {y.dtype}")
    if (y < 0).any():
        raise DataError(f"labels: expected class indices >= 0 for {what}; got "
                        f"{int((y < 0).sum())} unlabelled (-1) samples")
    k = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.max() >= k:
        raise DataError(f"labels: expected values in [0, {k - 1}]; got {int(y.max())}")
    counts = np.bincount(y, minlength=k)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise DataError(f"labels: expected every class to have training samples for {what}; "
                        f"got an empty class {empty.tolist()} (counts {counts.tolist()})")
    return y.astype(np.int64), k


def smote(
    images: np.ndarray,
    labels: np.ndarray,
    target_per_class: int | Mapping[int, int] = 3400,
    seed: int = 0,
    k_neighbors: int = 5,
    num_classes: int | None = None,
) -> SmoteResult:
    """Oversample minority classes with SMOTE up to ``target_per_class``.

    Args:
        images: (N, ...) training images, e.g. (N, C, H, W) float32; flattened for SMOTE.
        labels: (N,) int class indices (no -1).
        target_per_class: one count for every class, or ``{class: count}``; classes with at least
            that many samples (or not named) are kept unchanged.
        seed: random_state of imbalanced-learn's SMOTE.
        k_neighbors: SMOTE neighbours; lowered to (smallest oversampled class - 1) if needed.
        num_classes: K; with it, a class in [0, K) without samples raises DataError.

    Returns:
        :class:`SmoteResult` (originals first, then the synthetic samples of each class in
        class order -- imbalanced-learn's order).

    Raises:
        DataError: empty class, a class to oversample with a single sample, shape mismatch.
    """
    x = np.asarray(images)
    y, k = _check_labels(labels, num_classes, "SMOTE")
    if x.shape[0] != y.shape[0]:
        raise DataError(f"images: expected {len(y)} rows to match labels; got {x.shape[0]}")
    counts = np.bincount(y, minlength=k)
    if isinstance(target_per_class, Mapping):
        targets = {int(c): int(t) for c, t in target_per_class.items()}
        unknown = sorted(set(targets) - set(range(k)))
        if unknown:
            raise ConfigError(f"target_per_class: expected classes in [0, {k - 1}]; got {unknown}")
    else:
        targets = {c: int(target_per_class) for c in range(k)}
    if any(t < 1 for t in targets.values()):
        raise ConfigError(f"target_per_class: expected counts >= 1; got {targets}")
    strategy = {c: t for c, t in targets.items() if t > counts[c]}
    if not strategy:
        return SmoteResult(x.copy(), y.copy(), np.zeros(len(y), dtype=bool))
    single = [c for c in strategy if counts[c] < 2]
    if single:
        raise DataError(f"labels: expected at least 2 samples in each class to oversample with "
                        f"SMOTE; got class {single[0]} with {counts[single[0]]}")
    k_nn = max(1, min(int(k_neighbors), min(counts[c] for c in strategy) - 1))
    flat = x.reshape(len(x), -1)
    sampler = SMOTE(sampling_strategy=strategy, k_neighbors=k_nn, random_state=seed)
    x_new, y_new = sampler.fit_resample(flat, y)
    x_new = np.asarray(x_new, dtype=x.dtype).reshape(-1, *x.shape[1:])
    is_syn = np.zeros(len(y_new), dtype=bool)
    is_syn[len(y):] = True
    return SmoteResult(x_new, np.asarray(y_new, dtype=np.int64), is_syn)


def class_weights(labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """(K,) float32 "balanced" loss weights ``N / (K * n_k)``; DataError on an empty class."""
    y, k = _check_labels(labels, num_classes, "class weights")
    counts = np.bincount(y, minlength=k)
    return (len(y) / (k * counts)).astype(np.float32)


def weighted_sampler_weights(labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """(N,) float64 per-sample weights ``1 / n_{y_i}`` (each class has total weight 1)."""
    y, k = _check_labels(labels, num_classes, "weighted sampling")
    counts = np.bincount(y, minlength=k)
    return 1.0 / counts[y].astype(np.float64)
