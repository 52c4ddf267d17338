"""backend="pennylane" (TorchLayer on any device), noise, the optional import and resources."""

from __future__ import annotations

import builtins

import pytest
import torch
from quantum_oracles import hq_values_and_grads, pennylane_backend, qml

from hqmed.errors import ConfigError
from hqmed.quantum import QuantumLayer, pennylane_qnode


@pennylane_backend
@pytest.mark.parametrize("ansatz,n,layers", [("strongly_entangling", 4, 3), ("ry", 4, 1),
                                             ("basic_entangler", 3, 2), ("random", 3, 2)])
def test_pennylane_backend_equals_torch_backend(ansatz, n, layers):
    torch.manual_seed(0)
    ours = QuantumLayer(n, layers, ansatz=ansatz).double()
    pl = QuantumLayer(n, layers, ansatz=ansatz, backend="pennylane").double()
    pl.load_state_dict(ours.state_dict())  # same parameter layout
    x = torch.rand(2, 3, n, dtype=torch.float64) * 3
    coef = torch.randn(n, dtype=torch.float64)
    for a, b in zip(hq_values_and_grads(ours, x, coef), hq_values_and_grads(pl, x, coef)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pennylane_backend
def test_lightning_adjoint_and_parameter_shift_devices():
    torch.manual_seed(1)
    ours = QuantumLayer(3, 2).double()
    x = torch.rand(4, 3, dtype=torch.float64)
    coef = torch.randn(3, dtype=torch.float64)
    ref = hq_values_and_grads(ours, x, coef)
    for device, diff in (("lightning.qubit", "adjoint"), ("default.qubit", "parameter-shift")):
        pl = QuantumLayer.from_config(3, 2, backend="pennylane", device=device, diff_method=diff).double()
        pl.load_state_dict(ours.state_dict())
        for a, b in zip(ref, hq_values_and_grads(pl, x, coef)):
            torch.testing.assert_close(a, b, atol=1e-7, rtol=0)


@pennylane_backend
def test_noise_on_default_mixed():
    torch.manual_seed(2)
    ours = QuantumLayer(3, 2).double()
    x = torch.rand(5, 3, dtype=torch.float64)
    clean = ours(x).detach()
    zero = QuantumLayer.from_config(3, 2, backend="pennylane", device="default.mixed",
                        noise=("depolarizing", 0.0)).double()
    zero.load_state_dict(ours.state_dict())
    torch.testing.assert_close(zero(x).detach(), clean, atol=1e-10, rtol=0)
    noisy = QuantumLayer.from_config(3, 2, backend="pennylane", device="default.mixed",
                         noise=("depolarizing", 0.1)).double()
    noisy.load_state_dict(ours.state_dict())
    out = noisy(x)
    # depolarizing after the last layer scales every <Z> by (1 - 4p/3); earlier ones shrink it more
    assert (out.abs() <= clean.abs() * (1 - 0.4 / 3) + 1e-9).all()
    out.sum().backward()
    assert noisy.weights.grad is not None
    damped = QuantumLayer.from_config(3, 2, backend="pennylane", device="default.mixed",
                          noise=("amplitude_damping", 1.0)).double()
    damped.load_state_dict(ours.state_dict())  # full damping after the last layer: |0...0>
    torch.testing.assert_close(damped(x).detach(), torch.ones(5, 3, dtype=torch.float64))


@pennylane_backend
def test_noise_requires_mixed_device_and_valid_channel():
    with pytest.raises(ConfigError, match="device: expected a mixed-state device"):
        QuantumLayer.from_config(2, 1, backend="pennylane", noise=("depolarizing", 0.1))
    with pytest.raises(ConfigError, match="noise: expected"):
        QuantumLayer.from_config(2, 1, backend="pennylane", device="default.mixed", noise=("nope", 0.1))


def test_noise_needs_the_pennylane_backend():
    with pytest.raises(ConfigError, match="expected backend='pennylane'"):
        QuantumLayer.from_config(2, 1, noise=("depolarizing", 0.1))


def test_missing_pennylane_gives_install_hint(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "pennylane" or name.startswith("pennylane."):
            raise ImportError("No module named 'pennylane'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r'pip install "hqmed\[pennylane\]"'):
        QuantumLayer(2, 1, backend="pennylane")
    QuantumLayer(2, 1)(torch.zeros(2))  # the torch backend never needs PennyLane


@pytest.mark.parametrize("ansatz,n,layers,rotation", [
    ("strongly_entangling", 7, 3, "Y"), ("strongly_entangling", 2, 2, "X"), ("ry", 4, 1, "Y"),
    ("basic_entangler", 5, 2, "Z"), ("random", 4, 2, "X")])
def test_circuit_resources_match_qml_specs(ansatz, n, layers, rotation):
    layer = QuantumLayer(n, layers, ansatz=ansatz, rotation=rotation)
    res = layer.circuit_resources()
    specs = qml.specs(pennylane_qnode(layer), level="device")(
        torch.rand(n), layer.weights.detach())["resources"]
    assert res.gate_counts == dict(specs.gate_types)
    assert res.depth == specs.depth
    assert res.one_qubit_gates == specs.gate_sizes[1] and res.two_qubit_gates == specs.gate_sizes.get(2, 0)
    assert res.qubits == n and res.state_vector_size == 2**n
    assert res.trainable_parameters == layer.weights.numel()
    assert res.shift_evaluations_weights == 2 * layer.weights.numel()


def test_resources_reproduce_litespinenet_table8():
    res = QuantumLayer(7, 3, rotation="Y").circuit_resources()
    assert (res.qubits, res.encoding_gates, res.trainable_gates, res.trainable_parameters,
            res.cnot_gates, res.shift_evaluations_weights, res.state_vector_size,
            res.variational_layers) == (7, 7, 21, 63, 21, 126, 128, 3)
