"""Shared fixtures for tests/eval: seeded random predictions (the oracle is scikit-learn/scipy)."""

from __future__ import annotations

import numpy as np
import pytest


def random_predictions(n: int, k: int, seed: int, absent: tuple[int, ...] = (),
                       skill: float = 1.5, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(y_true (n,), y_score (n, k)) with some signal; ``absent`` classes never occur in y_true;
    ``ties`` rounds the probabilities so that AUROC has tied scores."""
    rng = np.random.default_rng(seed)
    present = np.array([c for c in range(k) if c not in absent])
    y = rng.choice(present, size=n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += skill
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    if ties:
        p = np.round(p, 1)
        p[:, -1] = 1.0 - p[:, :-1].sum(axis=1)
        p = np.clip(p, 0, 1)
        p /= p.sum(axis=1, keepdims=True)
    return y, p


@pytest.fixture
def preds():
    return random_predictions
