"""Helpers for tests/models (a uniquely named module: other test folders have their own conftest)."""

from __future__ import annotations

import importlib

import pytest
import torch

from hqmed.models import model_default_cfg

SMALL = 32  # spatial size of the tiny CPU inputs (LiteSpineNet uses its adaptive 7x7 pool path)
BATCH = 2


def quantum_layer_available() -> bool:
    try:
        return hasattr(importlib.import_module("hqmed.quantum"), "QuantumLayer")
    except ImportError:
        return False


def needs_quantum(name: str, kwargs: dict | None = None) -> bool:
    """True when building ``name`` with ``kwargs`` needs hqmed.quantum.QuantumLayer."""
    kwargs = kwargs or {}
    return bool(model_default_cfg(name).get("hybrid")) and kwargs.get(
        "quantum_block", "quantum") == "quantum"


def skip_without_quantum(name: str, kwargs: dict | None = None) -> None:
    if needs_quantum(name, kwargs) and not quantum_layer_available():
        pytest.skip("hqmed.quantum.QuantumLayer not available yet")


def tiny_input(in_chans: int = 3, size: int = SMALL, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(BATCH, in_chans, size, size, generator=g)


def shapes(model: torch.nn.Module, exclude: str | None = None) -> dict[str, tuple[int, ...]]:
    """state_dict name -> shape, leaving out keys containing ``exclude``."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()
            if exclude is None or exclude not in k}
