"""Resource counts of a circuit: the rows of the LiteSpineNet paper's Table 8.

For the paper's block (7 qubits, AngleEmbedding RY, 3 StronglyEntanglingLayers):
qubits 7, encoding gates 7, 21 Rot gates with 63 parameters, 21 CNOTs, 126 circuit evaluations
per parameter-shift gradient of the weights, state vector of 2^7 = 128 amplitudes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from hqmed.quantum.statevector import Op

__all__ = ["circuit_resources", "circuit_depth"]


def circuit_depth(ops: Sequence[Op], n_qubits: int) -> int:
    """Depth: length of the longest path of gates sharing wires (PennyLane's ``qml.specs`` depth)."""
    level = [0] * n_qubits
    for _, wires, _ in ops:
        d = max(level[w] for w in wires) + 1
        for w in wires:
            level[w] = d
    return max(level, default=0)


def circuit_resources(encoding_ops: Sequence[Op], variational_ops: Sequence[Op], n_qubits: int,
                      n_layers: int, n_inputs: int) -> dict:
    """Resources of an encoding + variational circuit (all angles count as one parameter each).

    Returns a dict with ``qubits``, ``depth`` (gate depth of the whole circuit),
    ``variational_layers``, ``gate_counts`` (by gate name), ``encoding_gates``,
    ``trainable_gates``, ``trainable_parameters``, ``cnot_gates``, ``two_qubit_gates``,
    ``shift_evaluations_weights`` (2 per trainable parameter: circuit runs per parameter-shift
    gradient of the weights, per sample), ``shift_evaluations_with_inputs`` (also the encoded
    inputs) and ``state_vector_size`` (``2^n`` amplitudes).
    """
    ops = list(encoding_ops) + list(variational_ops)
    counts = Counter(name for name, _, _ in ops)
    n_params = sum(len(params) for _, _, params in variational_ops)
    n_input_angles = sum(len(params) for _, _, params in encoding_ops)
    return {
        "qubits": n_qubits,
        "depth": circuit_depth(ops, n_qubits),
        "variational_layers": n_layers,
        "gate_counts": dict(sorted(counts.items())),
        "encoding_gates": len(encoding_ops),
        "trainable_gates": sum(1 for _, _, p in variational_ops if p),
        "trainable_parameters": n_params,
        "cnot_gates": counts.get("CNOT", 0),
        "two_qubit_gates": sum(1 for _, w, _ in ops if len(w) == 2),
        "shift_evaluations_weights": 2 * n_params,
        "shift_evaluations_with_inputs": 2 * (n_params + min(n_inputs, n_input_angles)),
        "state_vector_size": 2**n_qubits,
    }
