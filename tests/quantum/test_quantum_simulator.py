"""Gates, apply_matrix, templates and measurement of the functional simulator vs PennyLane."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from quantum_oracles import qml

from hqmed.errors import ShapeError
from hqmed.quantum import (
    angle_embedding,
    apply_matrix,
    basic_entangler_layers,
    cnot,
    cz,
    expval_z,
    h,
    hadamard_ry_layer,
    probabilities,
    random_layers,
    random_layers_structure,
    rot,
    rx,
    ry,
    rz,
    strongly_entangling_layers,
    zero_state,
)

RNG = np.random.default_rng(7)


def _pl_state(n, ops_fn):
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev, interface="torch")
    def circuit():
        ops_fn()
        return qml.state()

    return circuit().detach()


def _flat(state):
    return state.reshape(state.shape[0], -1)


@pytest.mark.parametrize("name", ["RX", "RY", "RZ", "Rot"])
def test_gate_matrices_equal_pennylane_with_batched_angles(name):
    angles = torch.tensor(RNG.uniform(-7, 7, size=(5, 3)))
    fn = {"RX": rx, "RY": ry, "RZ": rz}.get(name)
    ours = rot(angles[:, 0], angles[:, 1], angles[:, 2]) if name == "Rot" else fn(angles[:, 0])
    assert ours.shape == (5, 2, 2) and ours.dtype == torch.complex128
    for b in range(5):
        op = getattr(qml, name)(*(angles[b] if name == "Rot" else angles[b, :1]), wires=0)
        np.testing.assert_allclose(ours[b].numpy(), qml.matrix(op), atol=1e-12)
    assert rx(torch.zeros(2, 3, dtype=torch.float32)).dtype == torch.complex64


def test_rot_is_rz_ry_rz_and_constant_gates():
    phi, theta, omega = torch.tensor(RNG.uniform(-3, 3, size=3))
    np.testing.assert_allclose(rot(phi, theta, omega), rz(omega) @ ry(theta) @ rz(phi), atol=1e-12)
    for fn, op in ((h, qml.Hadamard(0)), (cnot, qml.CNOT([0, 1])), (cz, qml.CZ([0, 1]))):
        np.testing.assert_allclose(fn(torch.complex128).numpy(), qml.matrix(op), atol=1e-12)


@pytest.mark.parametrize("wires", [(0,), (2,), (3, 1), (0, 2, 1)])
def test_apply_matrix_matches_pennylane_qubit_unitary(wires):
    n, k = 4, len(wires)
    psi = RNG.normal(size=2**n) + 1j * RNG.normal(size=2**n)
    psi /= np.linalg.norm(psi)
    m = np.linalg.qr(RNG.normal(size=(2**k, 2**k)) + 1j * RNG.normal(size=(2**k, 2**k)))[0]
    expected = _pl_state(n, lambda: (qml.StatePrep(psi, wires=range(n)),
                                     qml.QubitUnitary(m, wires=list(wires))))
    state = torch.tensor(psi).reshape(1, *([2] * n))
    out = apply_matrix(state, torch.tensor(m), wires)
    np.testing.assert_allclose(_flat(out)[0].numpy(), expected.numpy(), atol=1e-12)
    # batched matrices: one per sample
    batch = torch.stack([torch.tensor(m), torch.eye(2**k, dtype=torch.complex128)])
    out2 = apply_matrix(state.expand(2, *state.shape[1:]), batch, wires)
    np.testing.assert_allclose(_flat(out2)[0].numpy(), expected.numpy(), atol=1e-12)
    np.testing.assert_allclose(_flat(out2)[1].numpy(), psi, atol=1e-12)


def test_zero_state_and_measurement_do_not_mutate():
    s = zero_state(3, 4)
    assert s.shape == (4, 2, 2, 2) and s.dtype == torch.complex64
    assert zero_state(2, (5,), torch.complex128).dtype == torch.complex128
    s = angle_embedding(s, torch.rand(4, 3), rotation="Y")
    before = s.clone()
    z, p = expval_z(s), probabilities(s)
    assert torch.equal(s, before)
    assert z.shape == (4, 3) and p.shape == (4, 8)
    torch.testing.assert_close(p.sum(-1), torch.ones(4))


def test_shape_errors_name_the_argument():
    s = zero_state(2, 1)
    with pytest.raises(ShapeError, match=r"wires: expected .*; got \(0, 0\)"):
        apply_matrix(s, cnot(), (0, 0))
    with pytest.raises(ShapeError, match=r"matrix: expected \(4, 4\).*; got \(2, 2\)"):
        apply_matrix(s, h(), (0, 1))
    with pytest.raises(ShapeError, match=r"state: expected shape \(B, 2, ..., 2\); got \(3, 3\)"):
        expval_z(torch.zeros(3, 3, dtype=torch.complex64))
    with pytest.raises(ShapeError, match=r"features: expected .*k <= 2.*; got \(1, 3\)"):
        angle_embedding(s, torch.zeros(1, 3))
    with pytest.raises(ShapeError, match=r"weights: expected shape \(\.\.\., L, 2, 3\); got \(1, 3, 3\)"):
        strongly_entangling_layers(s, torch.zeros(1, 3, 3))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_templates_equal_pennylane_states(n):
    x = torch.tensor(RNG.uniform(-4, 4, size=n))
    sel = torch.tensor(RNG.uniform(0, 2 * math.pi, size=(3, n, 3)))
    bel = torch.tensor(RNG.uniform(0, 2 * math.pi, size=(2, n)))
    for rotation in "XYZ":
        expected = _pl_state(n, lambda r=rotation: (
            qml.AngleEmbedding(x, wires=range(n), rotation=r),
            qml.StronglyEntanglingLayers(sel, wires=range(n)),
            qml.BasicEntanglerLayers(bel, wires=range(n), rotation=getattr(qml, "R" + r))))
        s = zero_state(n, 1, torch.complex128)
        s = angle_embedding(s, x, rotation)
        s = strongly_entangling_layers(s, sel)
        s = basic_entangler_layers(s, bel, rotation)
        np.testing.assert_allclose(_flat(s)[0].numpy(), expected.numpy(), atol=1e-12)
        torch.testing.assert_close(_flat(s).abs().square().sum(-1), torch.ones(1, dtype=torch.float64))


@pytest.mark.parametrize("seed", [0, 1, 42, 1234, 2**31 - 1])
def test_random_layers_sequence_equals_pennylane_for_any_global_rng(seed):
    n, weights = 4, torch.tensor(RNG.uniform(0, 2 * math.pi, size=(3, 5)))
    expected_ops = qml.RandomLayers.compute_decomposition(
        weights, wires=range(n), ratio_imprim=0.3, imprimitive=qml.CNOT,
        rotations=[qml.RX, qml.RY, qml.RZ], seed=seed)
    np.random.seed(seed + 1)  # global RNG state must not matter
    torch.manual_seed(seed + 2)
    ours = random_layers_structure(n, 3, 5, seed)
    assert [(g, w) for g, w, _ in ours] == [(op.name, tuple(op.wires)) for op in expected_ops]
    expected = _pl_state(n, lambda: (qml.RandomLayers(weights, wires=range(n), seed=seed)))
    s = random_layers(zero_state(n, 1, torch.complex128), weights, seed=seed)
    np.testing.assert_allclose(_flat(s)[0].numpy(), expected.numpy(), atol=1e-12)


def test_random_layers_options_and_batched_embedding():
    n, seed = 3, 11
    w = torch.tensor(RNG.uniform(0, 6, size=(2, 4)))
    x = torch.tensor(RNG.uniform(-3, 3, size=(5, n)))
    s = angle_embedding(zero_state(n, 1, torch.complex128), x, rotation="Y")  # B=1 broadcasts
    s = random_layers(s, w, seed=seed, ratio_imprim=0.6, rotations=("Y", "X"))
    for b in range(5):
        expected = _pl_state(n, lambda b=b: (
            qml.AngleEmbedding(x[b], wires=range(n), rotation="Y"),
            qml.RandomLayers(w, wires=range(n), ratio_imprim=0.6, rotations=[qml.RY, qml.RX],
                             seed=seed)))
        np.testing.assert_allclose(_flat(s)[b].numpy(), expected.numpy(), atol=1e-12)


def test_hadamard_ry_layer_is_minus_sin_of_sum():
    x = torch.tensor(RNG.uniform(-3, 3, size=(6, 4)))
    w = torch.tensor(RNG.uniform(0, 6, size=4))
    s = hadamard_ry_layer(zero_state(4, 6, torch.complex128), w, features=x)
    torch.testing.assert_close(expval_z(s), -torch.sin(x + w))
