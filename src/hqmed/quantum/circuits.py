"""Circuit specifications used by :class:`~hqmed.quantum.QuantumLayer` and the gate-by-gate path.

A circuit spec knows its weight shape, its encoding and variational gate lists and how to
evaluate ``<Z_i>``. :class:`~hqmed.quantum.layered.LayeredCircuit` (strongly entangling, basic
entangler, LCNet H+RY) has a fast structured simulator; :class:`RandomCircuit` (RandomLayers)
and any spec with ``simulator="gates"`` run gate by gate through :func:`gates_expval`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hqmed.errors import ConfigError
from hqmed.quantum.gates import complex_dtype
from hqmed.quantum.layered import LayeredCircuit
from hqmed.quantum.statevector import Op, apply_ops, expval_z, zero_state
from hqmed.quantum.templates import angle_embedding_ops, random_layers_ops, random_layers_structure

__all__ = ["RandomCircuit", "LayeredCircuit", "gates_expval"]


@dataclass(frozen=True)
class RandomCircuit:
    """AngleEmbedding + PennyLane RandomLayers (gate sequence fixed by ``seed``).

    Weights ``(L, n_rotations)``.
    """

    n_qubits: int
    n_layers: int
    rotation: str = "Y"
    n_rotations: int | None = None  # default: n_qubits
    seed: int = 42
    ratio_imprim: float = 0.3
    rotations: tuple[str, ...] = ("X", "Y", "Z")
    ansatz: str = "random"

    def __post_init__(self) -> None:
        n_rot = self.n_rotations
        if n_rot is not None and (isinstance(n_rot, bool) or not isinstance(n_rot, int) or n_rot < 1):
            raise ConfigError(f"n_rotations: expected an int >= 1 or None; got {n_rot!r}")
        # draws the gate sequence now, so bad options (ratio_imprim) fail at construction
        random_layers_structure(self.n_qubits, *self.weight_shape, self.seed, self.ratio_imprim,
                                self.rotations)

    @property
    def weight_shape(self) -> tuple[int, int]:
        return (self.n_layers, self.n_rotations or self.n_qubits)

    def encoding_ops(self, x: torch.Tensor) -> list[Op]:
        return angle_embedding_ops(x, self.rotation)

    def variational_ops(self, weights: torch.Tensor) -> list[Op]:
        return random_layers_ops(weights, self.n_qubits, self.seed, self.ratio_imprim,
                                 self.rotations)

    def evaluate(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return gates_expval(self, x, weights)


def gates_expval(circuit, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """<Z_i> by the general gate-by-gate simulator (the reference for the fast paths).

    Inputs ``(..., n)`` and weights ``(W..., *weight_shape)`` -> ``(W..., ..., n)`` (every
    weight set on every input).
    """
    n, wshape = circuit.n_qubits, tuple(circuit.weight_shape)
    lead, w_lead = x.shape[:-1], weights.shape[: weights.ndim - len(wshape)]
    xf = x.reshape(-1, x.shape[-1])
    if w_lead:
        n_sets, m = weights.reshape(-1, *wshape).shape[0], xf.shape[0]
        xf = xf.expand(n_sets, m, xf.shape[-1]).reshape(n_sets * m, -1)
        weights = weights.reshape(n_sets, 1, *wshape).expand(n_sets, m, *wshape).reshape(
            n_sets * m, *wshape)
    state = zero_state(n, xf.shape[0], complex_dtype(x.dtype), x.device)
    state = apply_ops(state, circuit.encoding_ops(xf) + circuit.variational_ops(weights))
    return expval_z(state).reshape(*w_lead, *lead, n)
