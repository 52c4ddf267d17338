"""Resource counts of a circuit: the rows of the LiteSpineNet paper's Table 8.

For the paper's block (7 qubits, AngleEmbedding RY, 3 StronglyEntanglingLayers):
qubits 7, encoding gates 7, 21 Rot gates with 63 parameters, 21 CNOTs, 126 circuit evaluations
per parameter-shift gradient of the weights, state vector of 2^7 = 128 amplitudes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from hqmed.quantum.statevector import Op

__all__ = ["CircuitResources", "circuit_resources", "circuit_depth"]


def circuit_depth(ops: Sequence[Op], n_qubits: int) -> int:
    """Depth: length of the longest path of gates sharing wires (PennyLane's ``qml.specs`` depth)."""
    level = [0] * n_qubits
    for _, wires, _ in ops:
        d = max(level[w] for w in wires) + 1
        for w in wires:
            level[w] = d
    return max(level, default=0)


@dataclass(frozen=True)
class CircuitResources:
    """Resource counts of one circuit: the one set of names used by ``hqmed.quantum``,
    :mod:`hqmed.eval.cost` and the report (every angle counts as one parameter; a ``Rot`` is one
    single-qubit gate).

    Attributes:
        qubits: wires ``n``.
        depth: gate depth of the whole circuit (PennyLane's ``qml.specs`` depth).
        variational_layers: trainable layers ``L``.
        gate_counts: gates by name, e.g. ``{"CNOT": 21, "RY": 7, "Rot": 21}``.
        encoding_gates: gates of the input encoding.
        trainable_gates: gates with trainable angles.
        trainable_parameters: trainable angles.
        one_qubit_gates, two_qubit_gates, cnot_gates: gates by size (and the CNOTs among them).
        shift_evaluations_weights: circuit runs per parameter-shift gradient of the weights
            (2 per parameter, per sample).
        shift_evaluations_with_inputs: the same including the encoded input angles.
        state_vector_size: ``2^n`` amplitudes.
    """

    qubits: int
    depth: int
    variational_layers: int
    gate_counts: dict[str, int]
    encoding_gates: int
    trainable_gates: int
    trainable_parameters: int
    one_qubit_gates: int
    two_qubit_gates: int
    cnot_gates: int
    shift_evaluations_weights: int
    shift_evaluations_with_inputs: int
    state_vector_size: int

    def to_dict(self) -> dict:
        """Plain JSON-ready dict with the same names."""
        return asdict(self)


def circuit_resources(encoding_ops: Sequence[Op], variational_ops: Sequence[Op], n_qubits: int,
                      n_layers: int, n_inputs: int) -> CircuitResources:
    """Resources of an encoding + variational circuit (see :class:`CircuitResources`)."""
    ops = list(encoding_ops) + list(variational_ops)
    counts = Counter(name for name, _, _ in ops)
    n_params = sum(len(params) for _, _, params in variational_ops)
    n_input_angles = sum(len(params) for _, _, params in encoding_ops)
    return CircuitResources(
        qubits=n_qubits,
        depth=circuit_depth(ops, n_qubits),
        variational_layers=n_layers,
        gate_counts=dict(sorted(counts.items())),
        encoding_gates=len(encoding_ops),
        trainable_gates=sum(1 for _, _, p in variational_ops if p),
        trainable_parameters=n_params,
        one_qubit_gates=sum(1 for _, w, _ in ops if len(w) == 1),
        two_qubit_gates=sum(1 for _, w, _ in ops if len(w) == 2),
        cnot_gates=counts.get("CNOT", 0),
        shift_evaluations_weights=2 * n_params,
        shift_evaluations_with_inputs=2 * (n_params + min(n_inputs, n_input_angles)),
        state_vector_size=2**n_qubits,
    )
