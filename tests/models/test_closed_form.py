"""The closed form of the LCNet paper's H + RY circuit equals the simulated circuit (values and
gradients), with PennyLane as the independent oracle, and with hqmed.quantum.QuantumLayer."""

from __future__ import annotations

import math

import pytest
import torch

from hqmed.errors import ConfigError
from hqmed.models import create_model
from hqmed.models.heads import HadamardRYClosedForm, QuantumBlock

try:
    import pennylane as qml
except ImportError:  # only the oracle comparisons need it: they skip, the other tests run
    qml = None
needs_pennylane = pytest.mark.skipif(
    qml is None, reason="oracle comparison: needs PennyLane (pip install 'hqmed[pennylane]')")

N = 4


def _pennylane_expvals(angles: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    dev = qml.device("default.qubit", wires=N)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(a, w):
        for i in range(N):
            qml.Hadamard(wires=i)
            qml.RY(a[..., i], wires=i)
            qml.RY(w[i], wires=i)
        return [qml.expval(qml.PauliZ(i)) for i in range(N)]

    return torch.stack(circuit(angles, weights), dim=-1)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    angles = ((torch.rand(5, N, generator=g, dtype=torch.float64) * 2 - 1) * math.pi)
    weights = torch.rand(N, generator=g, dtype=torch.float64) * 2 * math.pi
    return angles.requires_grad_(), weights


@needs_pennylane
def test_closed_form_equals_pennylane_values_and_gradients():
    angles, weights = _inputs()
    closed = HadamardRYClosedForm(N).double()
    with torch.no_grad():
        closed.weights.copy_(weights)
    out = closed(angles)
    w_ref = weights.clone().requires_grad_()
    a_ref = angles.detach().clone().requires_grad_()
    ref = _pennylane_expvals(a_ref, w_ref).to(out.dtype)
    assert torch.allclose(out, ref, atol=1e-10)
    cot = torch.randn_like(out)
    ga, gw = torch.autograd.grad((out * cot).sum(), [angles, closed.weights])
    ga_ref, gw_ref = torch.autograd.grad((ref * cot).sum(), [a_ref, w_ref])
    assert torch.allclose(ga, ga_ref, atol=1e-10)
    assert torch.allclose(gw, gw_ref, atol=1e-10)


def test_closed_form_block_equals_quantum_block():
    torch.manual_seed(1)
    quantum = QuantumBlock(N, "hadamard_ry", 1, kind="quantum")
    closed = QuantumBlock(N, "hadamard_ry", 1, kind="closed_form")
    closed.load_state_dict(quantum.state_dict())  # same parameter name and shape
    x = (torch.rand(6, N) * 2 - 1).requires_grad_()
    xq = x.detach().clone().requires_grad_()
    yc, yq = closed(x), quantum(xq)
    assert torch.allclose(yc, yq, atol=1e-5)
    cot = torch.randn_like(yc)
    gc = torch.autograd.grad((yc * cot).sum(), [x, closed.impl.weights])
    gq = torch.autograd.grad((yq * cot).sum(), [xq, quantum.impl.weights])
    for a, b in zip(gc, gq):
        assert torch.allclose(a, b, atol=1e-5)


def test_closed_form_rejected_for_entangling_circuit():
    with pytest.raises(ConfigError, match="closed_form.*without entanglers"):
        create_model("hq_litespinenet", quantum_block="closed_form")
    with pytest.raises(ConfigError, match="without entanglers"):
        QuantumBlock(7, "strongly_entangling", 3, kind="closed_form")


def test_angle_scaling_and_none_block():
    x = torch.tensor([[0.5, -0.25, 1.0, 0.0]])
    closed = QuantumBlock(N, "hadamard_ry", kind="closed_form")
    with torch.no_grad():
        closed.impl.weights.zero_()
    assert torch.allclose(closed(x), -torch.sin(math.pi * x))
    assert torch.equal(QuantumBlock(N, "hadamard_ry", kind="none")(x), x)
    classical = QuantumBlock(N, "hadamard_ry", kind="classical")
    assert sum(p.numel() for p in classical.parameters()) == N
    assert torch.allclose(classical(x), torch.tanh(math.pi * x))  # bias starts at zero
