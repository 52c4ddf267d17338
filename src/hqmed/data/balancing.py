"""Class balancing for the TRAINING split only (validation and test keep their distributions).

Three alternatives, as in issue 4 / the LiteSpineNet paper:

* SMOTE (Chawla et al. 2002) as imbalanced-learn computes it, up to a target count per class
  (3,400 in the paper). Classes already at or above the target are left as they are (never
  under-sampled). :func:`smote_plan` finds the same k nearest neighbours in the same feature space
  (the flattened images) with the same estimator, and makes the same random draws, but keeps only
  (base index, neighbour index, lambda) per synthetic sample; :class:`SmoteImages` is the lazy
  (N + M, C, H, W) result that synthesises ``x_base + lambda * (x_neighbour - x_base)`` per batch,
  bit for bit what ``imblearn.over_sampling.SMOTE.fit_resample`` returns, in the same order
  (originals, then each class's synthetic samples in class order). :func:`smote` materialises it
  (small data only: 8 classes x 3,400 x 3x224x224 float32 would be 16 GB).
* :func:`class_weights` -- "balanced" loss weights ``N / (K * n_k)`` (sklearn's
  ``compute_class_weight("balanced")``) for ``torch.nn.CrossEntropyLoss(weight=...)``.
* :func:`weighted_sampler_weights` -- per-sample weights ``1 / n_{y_i}`` for
  ``torch.utils.data.WeightedRandomSampler``: every class is drawn equally often in expectation.

Memory of the plan: by default the neighbour search holds ONE class's images as float32 at a time
(the feature space imbalanced-learn uses; scikit-learn's brute-force search then computes distances
in blocks), e.g. 300 crops x 3x224x224 = 180 MB; nothing else is materialised. For classes too
big for that (e.g. 4,000 "No finding" crops = 2.4 GB), ``block=`` (config:
``balancing.neighbor_block``) reads the class a block of images at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from hqmed.data.store import read_rows
from hqmed.errors import ConfigError, DataError

__all__ = ["SmotePlan", "SmoteImages", "SmoteResult", "blocked_neighbours", "smote", "smote_plan",
           "class_weights", "weighted_sampler_weights"]


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


@dataclass
class SmotePlan:
    """Virtual SMOTE: synthetic sample j is ``x[base[j]] + lam[j] * (x[neighbour[j]] - x[base[j]])``.

    n_original: N, the number of input samples (they come first).
    labels: (N + M,) int64, the inputs' labels then the synthetic samples'.
    base, neighbour: (M,) int64 indices into the inputs.
    lam: (M,) float64 steps in [0, 1).
    """

    n_original: int
    labels: np.ndarray
    base: np.ndarray
    neighbour: np.ndarray
    lam: np.ndarray

    @property
    def is_synthetic(self) -> np.ndarray:
        out = np.zeros(len(self.labels), dtype=bool)
        out[self.n_original:] = True
        return out


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


def smote_plan(
    images,
    labels: np.ndarray,
    target_per_class: int | Mapping[int, int] = 3400,
    seed: int = 0,
    k_neighbors: int = 5,
    num_classes: int | None = None,
    block: int | None = None,
) -> SmotePlan:
    """Plan SMOTE oversampling of minority classes up to ``target_per_class`` (imbalanced-learn's way).

    Args:
        images: (N, ...) training images: an array or a lazy view (``read_rows``); flattened for
            the neighbour search, one class at a time.
        labels: (N,) int class indices (no -1).
        target_per_class: one count for every class, or ``{class: count}``; classes with at least
            that many samples (or not named) are kept unchanged.
        seed: random_state of imbalanced-learn's SMOTE (each class draws from a fresh
            ``RandomState(seed)``, as imbalanced-learn does).
        k_neighbors: SMOTE neighbours; lowered to (smallest oversampled class - 1) if needed.
        num_classes: K; with it, a class in [0, K) without samples raises DataError.
        block: None (default) finds neighbours with scikit-learn on the class's images held in
            memory as float32 -- imbalanced-learn's own computation. An int reads the class
            ``block`` images at a time instead (:func:`blocked_neighbours`), for classes too big
            to hold; the same neighbours except at near-ties.

    Raises:
        DataError: empty class, a class to oversample with a single sample, shape mismatch.
    """
    y, k = _check_labels(labels, num_classes, "SMOTE")
    if len(images) != y.shape[0]:
        raise DataError(f"images: expected {len(y)} rows to match labels; got {len(images)}")
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
    strategy = {c: t for c, t in sorted(targets.items()) if t > counts[c]}
    empty = np.zeros(0, dtype=np.int64)
    if not strategy:
        return SmotePlan(len(y), y.copy(), empty, empty, np.zeros(0))
    single = [c for c in strategy if counts[c] < 2]
    if single:
        raise DataError(f"labels: expected at least 2 samples in each class to oversample with "
                        f"SMOTE; got class {single[0]} with {counts[single[0]]}")
    k_nn = max(1, min(int(k_neighbors), min(counts[c] for c in strategy) - 1))
    bases, neighbours, lams, new_labels = [], [], [], []
    for c, target in strategy.items():
        members = np.flatnonzero(y == c)
        if block is None:
            x_class = read_rows(images, members).reshape(len(members), -1)
            nns = NearestNeighbors(n_neighbors=k_nn + 1).fit(x_class).kneighbors(
                x_class, return_distance=False)[:, 1:]
            del x_class
        else:
            nns = blocked_neighbours(images, members, k_nn + 1, block)[:, 1:]
        # imbalanced-learn's _make_samples: a fresh RandomState(seed) per class
        rng = np.random.RandomState(seed)
        n_new = target - counts[c]
        picks = rng.randint(low=0, high=nns.size, size=n_new)
        lams.append(rng.uniform(size=n_new))
        rows, cols = np.floor_divide(picks, nns.shape[1]), np.mod(picks, nns.shape[1])
        bases.append(members[rows])
        neighbours.append(members[nns[rows, cols]])
        new_labels.append(np.full(n_new, c, dtype=np.int64))
    return SmotePlan(len(y), np.concatenate([y, *new_labels]), np.concatenate(bases),
                     np.concatenate(neighbours), np.concatenate(lams))


def blocked_neighbours(images, members: np.ndarray, k: int, block: int = 64) -> np.ndarray:
    """(n, k) indices (into ``members``) of each member's k nearest members, itself included,
    nearest first: exact Euclidean distances ``|a|^2 + |b|^2 - 2 a.b`` in float64, reading
    ``block`` images at a time (memory ~ 2 x block images as float64, whatever the class size);
    ties go to the lower index. Equal to scikit-learn's brute-force search except at near-ties."""
    n, block = len(members), max(1, int(block))

    def rows(a: int) -> np.ndarray:
        return read_rows(images, members[a:a + block]).reshape(-1, int(np.prod(images.shape[1:]))
                                                               ).astype(np.float64)

    sq = np.concatenate([np.einsum("ij,ij->i", r, r) for r in map(rows, range(0, n, block))])
    out = np.empty((n, min(k, n)), dtype=np.int64)
    for a in range(0, n, block):
        xa = rows(a)
        d = np.empty((len(xa), n))
        for b in range(0, n, block):
            xb = xa if b == a else rows(b)
            d[:, b:b + len(xb)] = sq[a:a + len(xa), None] + sq[None, b:b + len(xb)] - 2.0 * (xa @ xb.T)
        out[a:a + len(xa)] = np.argsort(np.maximum(d, 0.0), axis=1, kind="stable")[:, :out.shape[1]]
    return out


class SmoteImages:
    """The lazy (N + M, ...) float32 result of a :class:`SmotePlan` over ``source``: originals first,
    synthetic samples synthesised per :meth:`read` with imbalanced-learn's arithmetic
    (float32 difference, float64 step, cast back to float32)."""

    dtype = np.dtype(np.float32)

    def __init__(self, source, plan: SmotePlan):
        if len(source) != plan.n_original:
            raise DataError(f"SMOTE plan: expected {plan.n_original} source images; got {len(source)}")
        self.source = source
        self.plan = plan

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.plan.labels), *tuple(self.source.shape[1:]))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return len(self.plan.labels)

    def read(self, idx=None) -> np.ndarray:
        """Rows ``idx`` (all when None) as (B, ...) float32."""
        idx = np.arange(len(self))[slice(None) if idx is None else idx]
        n = self.plan.n_original
        out = np.empty((len(idx), *self.shape[1:]), dtype=np.float32)
        orig = idx < n
        if orig.any():
            out[orig] = read_rows(self.source, idx[orig])
        if not orig.all():
            j = idx[~orig] - n
            xb = read_rows(self.source, self.plan.base[j])
            diff = read_rows(self.source, self.plan.neighbour[j]) - xb
            lam = self.plan.lam[j].reshape(-1, *([1] * (xb.ndim - 1)))
            out[~orig] = (xb + lam * diff).astype(np.float32)
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.read()
        return out if dtype is None else out.astype(dtype, copy=False)


def smote(
    images: np.ndarray,
    labels: np.ndarray,
    target_per_class: int | Mapping[int, int] = 3400,
    seed: int = 0,
    k_neighbors: int = 5,
    num_classes: int | None = None,
) -> SmoteResult:
    """:func:`smote_plan` materialised: every synthetic image as an array (small data only).

    Returns:
        :class:`SmoteResult` (originals first, then the synthetic samples of each class in
        class order -- imbalanced-learn's order), images with the input's trailing shape.
    """
    plan = smote_plan(images, labels, target_per_class, seed, k_neighbors, num_classes)
    x = np.asarray(images)
    if plan.base.size == 0:
        return SmoteResult(x.copy(), plan.labels.copy(), plan.is_synthetic)
    return SmoteResult(SmoteImages(x, plan).read().astype(x.dtype, copy=False), plan.labels,
                       plan.is_synthetic)


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
