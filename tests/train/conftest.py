"""Fixtures for the training tests: a tiny in-memory data source and a tiny CNN.

They do not depend on hqmed.data or hqmed.models, so the trainer is tested on its own.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hqmed.train.config import parse_config


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


@pytest.fixture
def tiny_data():
    return make_images()


@pytest.fixture
def tiny_cfg():
    def build(**overrides):
        raw = {"name": "tiny", "model": {"name": "tiny"}, "data": {"source": "memory"},
               "epochs": 3, "batch_size": 8, "seed": 7, "optim": {"lr": 0.05}}
        return parse_config(raw, [f"{k}={v}" for k, v in overrides.items()])
    return build
