"""hqmed.quantum: an exact, batched state-vector simulator in PyTorch and the QuantumLayer.

Qubit order is PennyLane's: a state is ``(B, 2, ..., 2)`` with axis ``1 + w`` for wire ``w``;
flattened, wire 0 is the most significant bit of the basis index.

Functional API (pure functions, batched angles)::

    state = zero_state(4, batch_shape=8)                     # (8, 2, 2, 2, 2) complex64
    state = angle_embedding(state, x, rotation="Y")           # x (8, 4)
    state = random_layers(state, weights, seed=0)             # PennyLane's RandomLayers(seed=0)
    z = expval_z(state)                                       # (8, 4) real

Module API::

    layer = QuantumLayer(7, 3, rotation="Y", ansatz="strongly_entangling")   # LiteSpineNet block
    layer = QuantumLayer(4, 1, ansatz="ry")                                  # LCNet H+RY circuit
    out = layer(features)                                     # (..., n) -> (..., n)
"""

from hqmed.quantum.circuits import RandomCircuit, gates_expval
from hqmed.quantum.gates import GATES, cnot, cz, h, rot, rx, ry, rz
from hqmed.quantum.kernel import KernelStatus, kernel_status
from hqmed.quantum.layer import ANSATZE, QuantumLayer
from hqmed.quantum.layered import LayeredCircuit
from hqmed.quantum.options import AnsatzOptions, DeviceOptions, EngineOptions, WeightInit
from hqmed.quantum.pennylane_bridge import pennylane_qnode
from hqmed.quantum.resources import CircuitResources, circuit_depth, circuit_resources
from hqmed.quantum.shift import parameter_shift
from hqmed.quantum.statevector import (
    apply_matrix,
    apply_ops,
    expval_z,
    probabilities,
    sign_matrix,
    zero_state,
)
from hqmed.quantum.templates import (
    angle_embedding,
    angle_embedding_ops,
    basic_entangler_layers,
    basic_entangler_ops,
    hadamard_ry_layer,
    hadamard_ry_ops,
    random_layers,
    random_layers_ops,
    random_layers_structure,
    strongly_entangling_layers,
    strongly_entangling_ops,
)

__all__ = [
    "QuantumLayer", "ANSATZE", "AnsatzOptions", "EngineOptions", "DeviceOptions", "WeightInit", "LayeredCircuit", "RandomCircuit", "gates_expval",
    "kernel_status", "KernelStatus",
    "pennylane_qnode", "CircuitResources", "circuit_resources", "circuit_depth", "parameter_shift",
    "zero_state", "apply_matrix", "apply_ops", "probabilities", "expval_z", "sign_matrix",
    "GATES", "rx", "ry", "rz", "rot", "h", "cnot", "cz",
    "angle_embedding", "angle_embedding_ops", "strongly_entangling_layers",
    "strongly_entangling_ops", "basic_entangler_layers", "basic_entangler_ops", "random_layers",
    "random_layers_ops", "random_layers_structure", "hadamard_ry_layer", "hadamard_ry_ops",
]
