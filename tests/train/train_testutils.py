"""Helpers for the training tests: a tiny CNN and tiny in-memory data (no hqmed.models needed)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class TinyNet(nn.Module):
    """Conv-BN-ReLU-Dropout-Linear: small, but with BatchNorm buffers and dropout randomness."""

    def __init__(self, in_chans: int = 1, num_classes: int = 3, drop_rate: float = 0.2):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))
        return self.fc(self.drop(h))


def make_images(n: int = 60, k: int = 3, size: int = 8, channels: int = 1, seed: int = 0):
    """Images whose mean brightness encodes the class (learnable), (N, C, H, W) in [0, 1]."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    x = rng.random((n, channels, size, size), dtype=np.float32) * 0.5 + (y / (2 * k))[:, None, None, None]
    return x.astype(np.float32), y.astype(np.int64)


def make_source(n_train: int = 48, n_val: int = 12, n_test: int = 15, k: int = 3, size: int = 8,
                groups: bool = False, only_all: bool = False):
    """An in-memory source ``{split: ImageDataset}`` like ``hqmed.data.load_source`` returns."""
    import pandas as pd

    from hqmed.data.base import ImageDataset

    out = {}
    sizes = {"all": n_train + n_val + n_test} if only_all else {"train": n_train, "val": n_val, "test": n_test}
    for i, (split, n) in enumerate(sizes.items()):
        x, y = make_images(n, k, size, seed=i)
        ids = [f"{split}/{j}" for j in range(n)]
        grp = [f"{split}/p{j // 3}" for j in range(n)] if groups else ids
        meta = pd.DataFrame({"id": ids, "path": "", "group": grp, "box": [None] * n})
        out[split] = ImageDataset(x, y, ["a", "b", "c"][:k], meta, name=f"mem/{split}")
    return out
