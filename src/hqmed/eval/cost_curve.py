"""The LiteSpineNet paper's cost argument as a measurement: simulator cost against qubits.

The paper argues that simulating its quantum block grows as O(2^n) while hardware grows with the
circuit's depth (O(n) for its layered ansatz). :func:`qubit_cost_curve` computes both sides for a
model's quantum layer, resized to each ``n`` of a sweep (same ansatz, layers and rotation):

* ``simulated``: time per forward + backward and per no-grad forward at ``batch`` and the peak
  resident memory, measured on this machine by :func:`hqmed.quantum.scaling.simulated_cost_curve`,
  with the fitted exponent ``alpha`` of ``time = c 2^(alpha n)``;
* ``hardware``: the QPU estimate of :class:`~hqmed.eval.cost.QPUTiming` per circuit evaluation
  (gates in sequence, ``shots`` repetitions): arithmetic from stated gate times, not a
  measurement, linear in the gate counts and depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from torch import nn

from hqmed.errors import ConfigError
from hqmed.eval.cost import QPUTiming, quantum_layers
from hqmed.quantum.scaling import simulated_cost_curve

__all__ = ["qubit_cost_curve", "model_quantum_layer"]


def model_quantum_layer(model: nn.Module, name: str = "model") -> nn.Module:
    """The first quantum layer of ``model`` that can be resized (a ``QuantumLayer``)."""
    for _, mod in quantum_layers(model):
        if callable(getattr(mod, "resized", None)):
            return mod
    raise ConfigError(f"{name}: expected a model with a quantum layer for a qubit sweep; "
                      f"got {type(model).__name__} without one")


def qubit_cost_curve(layer: nn.Module, qubits: Sequence[int], batch: int = 32,
                     budget_s: float = 20.0, qpu: QPUTiming | None = None,
                     max_repeats: int = 3) -> dict:
    """Simulated (measured) and hardware (estimated) cost of ``layer.resized(n)`` for each ``n``."""
    qpu = qpu or QPUTiming()
    hardware = []
    for n in qubits:
        r = layer.resized(n).circuit_resources()
        hardware.append({"n": n, "depth": r.depth, "one_qubit_gates": r.one_qubit_gates,
                         "two_qubit_gates": r.two_qubit_gates,
                         "seconds_per_evaluation": qpu.circuit_seconds(r.one_qubit_gates, r.two_qubit_gates)})
    sim = simulated_cost_curve(qubits, layer.resized, batch, budget_s, max_repeats)
    return {"ansatz": getattr(layer, "ansatz", None), "n_layers": getattr(layer, "n_layers", None),
            "qubits": list(qubits), "batch": batch, "simulated": sim, "hardware": hardware,
            "qpu_timing": asdict(qpu)}
