"""Streaming batches for training and inference: torch DataLoader workers read, synthesise and
augment batches while the main process runs the step.

:class:`Batches` is a map-style dataset whose item ``b`` is the ``b``-th batch of one epoch: the
rows ``order[b * B:(b + 1) * B]`` of the images -- a plain array, an on-disk store view
(:class:`hqmed.data.store.StoredImages`) or virtual SMOTE (:class:`hqmed.data.balancing.SmoteImages`),
all read through :func:`hqmed.data.store.read_rows`, so a split is never expanded to float32 as a
whole. Each sample is augmented with its own ``torch.Generator`` seeded from
(seed, epoch, position in the epoch) by :func:`sample_seed`: a batch's bytes do not depend on
which process made it, on how many workers there are, or on whether the run was resumed.

:func:`batch_loader` wraps it in a ``torch.utils.data.DataLoader`` (``batch_size=None``: the
dataset already yields batches) with ``num_workers`` worker processes, and pinned host memory
when the batches go to a CUDA device (so the step's copies can be non-blocking). Workers receive
the images by pickling: a store view and a SMOTE plan pickle as paths and index arrays, never as
pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from hqmed.data.store import read_rows

__all__ = ["Batches", "batch_loader", "sample_seed"]

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """The augmentation seed of the sample at ``position`` of ``epoch`` (a pure function)."""
    state = np.random.SeedSequence([int(seed), int(epoch), int(position)]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


class Batches(Dataset):
    """Batch ``b`` of one pass over ``images[order]``: ``(x (B, C, H, W) float32, y (B,) int64)``.

    Args:
        images: rows to read (array or lazy view with ``read``).
        labels: (N,) int64, or None (inference: y is empty).
        order: (M,) the rows of this pass, in order.
        batch_size: rows per batch.
        augment: ``f(x (1, C, H, W), generator) -> x`` applied to each sample, or None.
        seed, epoch: with the position in ``order``, seed each sample's generator.
        drop_single: drop a final batch of one row (BatchNorm cannot train on one sample).
    """

    def __init__(self, images, labels: np.ndarray | None, order: np.ndarray, batch_size: int, *,
                 augment: Augment | None = None, seed: int = 0, epoch: int = 0,
                 drop_single: bool = False):
        self.images = images
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.order = np.asarray(order, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.augment = augment
        self.seed, self.epoch = int(seed), int(epoch)
        n = len(self.order)
        self.n_batches = -(-n // self.batch_size)
        if drop_single and n > 1 and n % self.batch_size == 1:
            self.n_batches -= 1

    def __len__(self) -> int:
        return self.n_batches

    def rows(self, b: int) -> np.ndarray:
        return self.order[b * self.batch_size:(b + 1) * self.batch_size]

    def __getitem__(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= b < self.n_batches:
            raise IndexError(b)
        idx = self.rows(b)
        x = torch.from_numpy(read_rows(self.images, idx))
        if self.augment is not None:
            start = b * self.batch_size
            for j in range(len(idx)):
                g = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, start + j))
                x[j:j + 1] = self.augment(x[j:j + 1], g)
        y = torch.from_numpy(self.labels[idx]) if self.labels is not None else torch.empty(0, dtype=torch.int64)
        return x, y


def batch_loader(batches: Batches, num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``batches`` in order, ``num_workers`` processes ahead of the consumer.

    It gets its own (unused) generator: without one, every DataLoader iterator draws its base seed
    from torch's global RNG and so would shift the dropout draws of the training step.
    """
    return DataLoader(batches, batch_size=None, shuffle=False, num_workers=int(num_workers),
                      pin_memory=pin_memory, prefetch_factor=2 if num_workers > 0 else None,
                      generator=torch.Generator())
