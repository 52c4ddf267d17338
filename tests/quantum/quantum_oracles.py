"""Oracles for the quantum tests: circuits written directly with PennyLane's own templates.

The oracle never uses hqmed's PennyLane bridge, so a mistake there cannot hide one in the
simulator. PennyLane runs on default.qubit with backprop in float64.
"""

from __future__ import annotations

import os
import warnings

import pytest
import torch


class _NoPennyLane:
    """Stands in for ``pennylane`` when it is not installed: an oracle comparison that touches it
    is skipped with a reason, while the simulator tests in the same modules still run."""

    def __getattr__(self, name):
        if name.startswith("__"):  # pytest's collection probes module attributes (__test__, ...)
            raise AttributeError(name)
        pytest.skip("oracle comparison: needs PennyLane (pip install 'hqmed[pennylane]')")


try:
    import pennylane as qml
except ImportError:
    qml = _NoPennyLane()

# tests that run hqmed's own backend="pennylane" (not an oracle): they need the extra installed
pennylane_backend = pytest.mark.skipif(
    isinstance(qml, _NoPennyLane),
    reason="backend='pennylane' needs PennyLane (pip install 'hqmed[pennylane]')")
warnings.filterwarnings("ignore", module="pennylane")


def pl_circuit(n, ansatz, rotation, entangler_rotation="X", seed=42, ranges=None, ratio_imprim=0.3):
    """QNode (inputs (..., n), weights) -> list of n expectation values, PennyLane templates only
    (``ranges``: StronglyEntanglingLayers' CNOT ranges; ``ratio_imprim``: RandomLayers')."""
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(inputs, weights):
        wires = list(range(n))
        if ansatz == "ry":
            for w in wires:
                qml.Hadamard(wires=w)
        qml.AngleEmbedding(inputs, wires=wires, rotation=rotation)
        if ansatz == "strongly_entangling":
            qml.StronglyEntanglingLayers(weights, wires=wires, ranges=ranges)
        elif ansatz == "basic_entangler":
            qml.BasicEntanglerLayers(weights, wires=wires, rotation=getattr(qml, "R" + entangler_rotation))
        elif ansatz == "ry":
            for w in wires:
                qml.RY(weights[w], wires=w)
        elif ansatz == "random":
            qml.RandomLayers(weights, wires=wires, seed=seed, ratio_imprim=ratio_imprim)
        return [qml.expval(qml.PauliZ(w)) for w in wires]

    return circuit


def pl_values_and_grads(circuit, x, w, coef):
    """PennyLane outputs (..., n) and d(sum(out * coef))/d(x, w), all float64."""
    x = x.detach().double().clone().requires_grad_(True)
    w = w.detach().double().clone().requires_grad_(True)
    flat = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x
    out = torch.stack(list(circuit(flat, w)), -1).reshape(x.shape)
    gx, gw = torch.autograd.grad((out * coef).sum(), (x, w))
    return out.detach(), gx, gw


def hq_values_and_grads(layer, x, coef):
    """hqmed layer outputs and d(sum(out * coef))/d(x, weights)."""
    x = x.detach().clone().requires_grad_(True)
    out = layer(x)
    gx, gw = torch.autograd.grad((out * coef.to(out.dtype)).sum(), (x, layer.weights))
    return out.detach(), gx, gw


def circuit_seed() -> int:
    """Seed of the random circuits the tests did not write by hand: fixed, so every run checks the
    same circuits; HQMED_TEST_SEED=<int> explores others."""
    return int(os.environ.get("HQMED_TEST_SEED", "20261130"))
