"""The quantum stage shared by both hybrid families, and its classical ablations.

Both papers put a small circuit between a classical feature extractor and a classifier::

    features --projection--> (B, n) --tanh--> (-1, 1) --x angle_scale (pi)--> angles --block--> (B, n)

* LiteSpineNet (n = 7): AngleEmbedding(RY) + 3 StronglyEntanglingLayers + PauliZ, 63 weights
  (``circuit="strongly_entangling"``). The projection is the HQ-LiteSpineNet "bridge".
* LCNet (n = 4): Hadamard, RY(angle), one trainable RY(w) per qubit, PauliZ, 4 weights
  (``circuit="hadamard_ry"``). The projection is Linear(features -> 4).

:class:`AngleBottleneck` is that stage; :class:`QuantumBlock` is the ``block`` part, with
``kind`` selecting what sits there:

* ``"quantum"``: the circuit, simulated by :class:`hqmed.quantum.QuantumLayer`.
* ``"classical"``: a classical layer with the same input/output (B, n) and about the same
  parameter count (:class:`ClassicalBlock`): ``tanh(Linear(n, n)(x))`` for an entangling circuit
  (n^2 + n weights: 56 at n = 7 vs 63), ``tanh(x + b)`` per feature for a product circuit
  (n weights: exactly the circuit's n). Answers "is it the circuit, or any small nonlinearity?".
* ``"closed_form"``: the exact classical formula of a circuit without entanglers
  (:class:`HadamardRYClosedForm`: H then RY(theta) then RY(w) on |0> gives
  <Z> = -sin(theta + w)). Same function as the simulated circuit, no simulator. Answers
  "is it quantum, or just a sine layer?". A ``ConfigError`` for entangling circuits.
* ``"none"``: identity, no angle scaling -- the classical twin (e.g. ``lcnet_100_tanh4``).

The block's ``weights`` parameter has the same name and shape for ``"quantum"`` and
``"closed_form"``, so checkpoints move between the simulated and the closed-form block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hqmed.errors import ConfigError
from hqmed.models.layers import check_choice, check_int
from hqmed.quantum import QuantumLayer

__all__ = [
    "CircuitSpec",
    "CIRCUITS",
    "BLOCK_KINDS",
    "QuantumBlock",
    "ClassicalBlock",
    "HadamardRYClosedForm",
    "LinearProjection",
    "AngleBottleneck",
    "hadamard_ry_bottleneck",
]

BLOCK_KINDS = ("quantum", "classical", "closed_form", "none")


@dataclass(frozen=True)
class CircuitSpec:
    """Which circuit a quantum block simulates.

    Attributes:
        name: registry key.
        entangling: True when the circuit has two-qubit gates (no closed form offered).
        quantum_layer_kwargs: arguments for ``hqmed.quantum.QuantumLayer`` besides n_qubits/n_layers.
        description: one line for docs and ``hqmed models NAME``.
    """

    name: str
    entangling: bool
    quantum_layer_kwargs: dict[str, Any]
    description: str


CIRCUITS: dict[str, CircuitSpec] = {
    "strongly_entangling": CircuitSpec(
        name="strongly_entangling",
        entangling=True,
        quantum_layer_kwargs={
            "embedding": "angle", "rotation": "Y", "ansatz": "strongly_entangling",
        },
        description="AngleEmbedding(RY) + L StronglyEntanglingLayers (Rot + CNOT ring) + <Z_i>; "
        "3 * L * n weights",
    ),
    "hadamard_ry": CircuitSpec(
        name="hadamard_ry",
        entangling=False,
        quantum_layer_kwargs={"embedding": "angle", "rotation": "Y", "ansatz": "ry"},
        description="H, RY(angle), RY(w) per qubit + <Z_i> = -sin(angle + w); n weights",
    ),
}


class ClassicalBlock(nn.Module):
    """Classical stand-in for a circuit: (..., n) -> (..., n) in (-1, 1), like <Z_i>.

    ``dense=True``: ``tanh(Linear(n, n)(x))``, n^2 + n parameters (mixes features as entanglers do).
    ``dense=False``: ``tanh(x + bias)`` per feature, n parameters (one per RY weight).
    """

    def __init__(self, n: int, dense: bool) -> None:
        super().__init__()
        self.dense = dense
        if dense:
            self.fc = nn.Linear(n, n)
        else:
            self.bias = nn.Parameter(torch.zeros(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(x) if self.dense else x + self.bias)


class HadamardRYClosedForm(nn.Module):
    """Exact <Z_i> of the product circuit H, RY(theta_i), RY(w_i) on |0>: ``-sin(theta_i + w_i)``.

    Bloch vector: H|0> = +x; RY(a) maps (x, y, z) -> (x cos a + z sin a, y, z cos a - x sin a), so
    <Z> = -sin(a) with a = theta + w. Shapes: (..., n) -> (..., n). ``weights``: (n,), radians,
    initialised uniform in [0, 2 pi) like the simulated layer.
    """

    def __init__(self, n: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.rand(n) * 2 * math.pi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -torch.sin(x + self.weights)


def _quantum_layer(
    spec: CircuitSpec, n_qubits: int, n_layers: int, backend: str, diff_method: str,
    quantum_kwargs: dict[str, Any],
) -> nn.Module:
    kwargs = {**spec.quantum_layer_kwargs, "backend": backend, "diff_method": diff_method,
              **quantum_kwargs}
    return QuantumLayer.from_config(n_qubits, n_layers, **kwargs)


class QuantumBlock(nn.Module):
    """Angles in, n features out: (B, n) values in (-1, 1) -> ``impl(angle_scale * x)`` -> (B, n).

    Args:
        n_qubits: n, the width in and out.
        circuit: key of :data:`CIRCUITS`.
        n_layers: variational layers L (``"strongly_entangling"``: 3 in HQ-LiteSpineNet).
        kind: one of :data:`BLOCK_KINDS` (see the module docstring).
        angle_scale: factor from (-1, 1) to radians (pi in both papers); unused for ``"none"``.
        backend, diff_method: passed to ``QuantumLayer``: ``"torch"`` (exact batched simulator)
            with ``"backprop"`` / ``"parameter-shift"``, or ``"pennylane"`` with any QNode
            diff_method (``"backprop"``, ``"adjoint"``, ``"parameter-shift"`` ...).
        quantum_kwargs: further ``QuantumLayer`` options, e.g. ``{"device": "lightning.qubit"}``
            or ``{"device": "default.mixed", "noise": ("depolarizing", 0.01)}`` (pennylane).
    """

    def __init__(
        self,
        n_qubits: int,
        circuit: str,
        n_layers: int = 1,
        kind: str = "quantum",
        angle_scale: float = math.pi,
        backend: str = "torch",
        diff_method: str = "backprop",
        quantum_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_int("n_qubits", n_qubits)
        check_int("n_layers", n_layers)
        check_choice("circuit", circuit, tuple(CIRCUITS))
        check_choice("quantum_block", kind, BLOCK_KINDS)
        spec = CIRCUITS[circuit]
        self.kind, self.circuit, self.n_qubits, self.n_layers = kind, circuit, n_qubits, n_layers
        self.angle_scale = 1.0 if kind == "none" else float(angle_scale)
        if kind == "quantum":
            self.impl = _quantum_layer(spec, n_qubits, n_layers, backend, diff_method,
                                       dict(quantum_kwargs or {}))
        elif kind == "classical":
            self.impl = ClassicalBlock(n_qubits, dense=spec.entangling)
        elif kind == "closed_form":
            if spec.entangling or circuit != "hadamard_ry":
                raise ConfigError(
                    f"quantum_block: 'closed_form' needs a circuit without entanglers; got "
                    f"circuit {circuit!r} ({spec.description}); use 'quantum' or 'classical'"
                )
            self.impl = HadamardRYClosedForm(n_qubits)
        else:
            self.impl = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.impl(x * self.angle_scale) if self.kind != "none" else x

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, circuit={self.circuit!r}, n={self.n_qubits}, " \
               f"layers={self.n_layers}, angle_scale={self.angle_scale:.4f}"


class LinearProjection(nn.Module):
    """Flatten then Linear: (B, ...) with prod(...) = in_features -> (B, out_features)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


class AngleBottleneck(nn.Module):
    """``block(tanh(projection(x)))``: features -> (B, n) -> (-1, 1) -> block -> (B, n).

    The "tanh bottleneck" of both papers. With ``block.kind == "none"`` it is the purely classical
    Linear -> tanh bottleneck of the twin; otherwise the tanh output is scaled to angles (x pi)
    inside the block. Only ``block`` differs between a hybrid model and its twin.
    """

    def __init__(self, projection: nn.Module, block: QuantumBlock) -> None:
        super().__init__()
        self.projection = projection
        self.act = nn.Tanh()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.act(self.projection(x)))


def hadamard_ry_bottleneck(
    in_features: int, n: int, quantum_block: str | None = None, backend: str = "torch",
    diff_method: str = "backprop", quantum_kwargs: dict[str, Any] | None = None,
) -> AngleBottleneck:
    """The LCNet paper's stage: Linear(in_features, n) -> tanh -> [x pi -> H + RY(angle) + RY(w)].

    (B, in_features) -> (B, n). ``quantum_block`` None means ``"quantum"`` (the hybrid);
    ``"none"`` gives the classical tanh-n twin. Shared by every backbone of that paper
    (PP-LCNet, MobileNetV3).
    """
    check_int("bottleneck", n)
    block = QuantumBlock(n, "hadamard_ry", 1, kind=quantum_block or "quantum",
                         angle_scale=math.pi, backend=backend, diff_method=diff_method,
                         quantum_kwargs=quantum_kwargs)
    return AngleBottleneck(LinearProjection(in_features, n), block)
