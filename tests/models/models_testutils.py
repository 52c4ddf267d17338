"""Helpers for tests/models (a uniquely named module: other test folders have their own conftest)."""

from __future__ import annotations

import torch

SMALL = 32  # spatial size of the tiny CPU inputs (LiteSpineNet uses its adaptive 7x7 pool path)
BATCH = 2


def tiny_input(in_chans: int = 3, size: int = SMALL, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(BATCH, in_chans, size, size, generator=g)


def shapes(model: torch.nn.Module, exclude: str | None = None) -> dict[str, tuple[int, ...]]:
    """state_dict name -> shape, leaving out keys containing ``exclude``."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()
            if exclude is None or exclude not in k}
