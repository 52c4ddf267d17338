"""QuantumLayer (torch backend) against PennyLane on randomised circuits, plus its contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from quantum_oracles import (
    circuit_seed,
    hq_values_and_grads,
    pennylane_backend,
    pl_circuit,
    pl_values_and_grads,
    qml,
)

from hqmed.errors import ConfigError, ShapeError
from hqmed.quantum import ANSATZE, EngineOptions, QuantumLayer

ROTATIONS = ("X", "Y", "Z")
BATCH_SHAPES = ((), (3,), (2, 3))


def _draw_configs(seed: int, count: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        ansatz = str(rng.choice(ANSATZE))
        out.append(dict(n=int(rng.integers(1, 9)), layers=int(rng.integers(1, 5)), ansatz=ansatz,
                        rotation=str(rng.choice(ROTATIONS)),
                        entangler_rotation=str(rng.choice(ROTATIONS)),
                        batch=BATCH_SHAPES[int(rng.integers(0, 3))], seed=int(rng.integers(0, 1000))))
    return out


FIXED = [
    dict(n=7, layers=3, ansatz="strongly_entangling", rotation="Y", entangler_rotation="X",
         batch=(5,), seed=42),                       # the LiteSpineNet block
    dict(n=4, layers=1, ansatz="ry", rotation="Y", entangler_rotation="X", batch=(2, 3), seed=0),
    dict(n=8, layers=4, ansatz="strongly_entangling", rotation="X", entangler_rotation="X",
         batch=(), seed=0),
    dict(n=2, layers=2, ansatz="basic_entangler", rotation="Z", entangler_rotation="Y",
         batch=(3,), seed=0),
    dict(n=1, layers=2, ansatz="strongly_entangling", rotation="X", entangler_rotation="X",
         batch=(3,), seed=0),
]
SEEDED = _draw_configs(2024, 10)
FRESH_SEED = circuit_seed()


def _make(cfg, dtype=torch.float64, **kw):
    layer = QuantumLayer.from_config(cfg["n"], cfg["layers"], rotation=cfg["rotation"], ansatz=cfg["ansatz"],
                         entangler_rotation=cfg["entangler_rotation"], seed=cfg["seed"], **kw)
    return layer.to(dtype)


def _compare_with_pennylane(cfg, dtype, atol, note=""):
    torch.manual_seed(hash((cfg["n"], cfg["layers"], cfg["seed"])) % 2**31)
    layer = _make(cfg, dtype)
    x = (torch.rand(*cfg["batch"], cfg["n"], dtype=torch.float64) * 4 - 2).to(dtype)
    coef = torch.randn(cfg["n"], dtype=torch.float64)
    circuit = pl_circuit(cfg["n"], cfg["ansatz"], cfg["rotation"], cfg["entangler_rotation"],
                         cfg["seed"])
    ref = pl_values_and_grads(circuit, x, layer.weights, coef)
    got = hq_values_and_grads(layer, x, coef)
    assert got[0].dtype == dtype and got[0].shape == x.shape, note
    for name, a, b in zip(("values", "d/dinputs", "d/dweights"), got, ref):
        assert a.shape == b.shape, f"{name} {cfg} {note}"
        err = (a.double() - b).abs().max().item()
        assert err <= atol, f"{name} differ by {err:.2e} for {cfg} {note}"


@pytest.mark.parametrize("cfg", FIXED + SEEDED, ids=lambda c: "{n}q{layers}L-{ansatz}-{rotation}-{batch}".format(**c))
def test_values_and_gradients_equal_pennylane(cfg):
    _compare_with_pennylane(cfg, torch.float64, 1e-10)


def test_fresh_random_circuits_equal_pennylane():
    """Circuits drawn anew every run (seed in the message; pin with HQMED_TEST_SEED)."""
    for cfg in _draw_configs(FRESH_SEED, 4):
        _compare_with_pennylane(cfg, torch.float64, 1e-10, note=f"HQMED_TEST_SEED={FRESH_SEED}")


@pytest.mark.parametrize("cfg", [FIXED[0], FIXED[1], FIXED[2]] + SEEDED[:3],
                         ids=lambda c: "{n}q{layers}L-{ansatz}".format(**c))
def test_float32_within_1e5_of_pennylane_float64(cfg):
    _compare_with_pennylane(cfg, torch.float32, 1e-5)


@pytest.mark.parametrize("cfg", FIXED + SEEDED[:6], ids=lambda c: "{n}q{layers}L-{ansatz}-{rotation}".format(**c))
def test_parameter_shift_equals_autograd(cfg):
    torch.manual_seed(1)
    auto = _make(cfg)
    shift = _make(cfg, diff_method="parameter-shift")
    shift.load_state_dict(auto.state_dict())
    x = torch.rand(*cfg["batch"], cfg["n"], dtype=torch.float64) * 3
    coef = torch.randn(cfg["n"], dtype=torch.float64)
    for a, b in zip(hq_values_and_grads(auto, x, coef), hq_values_and_grads(shift, x, coef)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("ansatz", ANSATZE)
def test_fast_path_equals_gate_by_gate_and_autograd_reference(ansatz):
    torch.manual_seed(3)
    fast = QuantumLayer(5, 3, rotation="X", ansatz=ansatz).double()
    gates = QuantumLayer.from_config(5, 3, rotation="X", ansatz=ansatz, simulator="gates").double()
    gates.load_state_dict(fast.state_dict())
    x = torch.rand(4, 5, dtype=torch.float64) * 6
    coef = torch.randn(5, dtype=torch.float64)
    for a, b in zip(hq_values_and_grads(fast, x, coef), hq_values_and_grads(gates, x, coef)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    if ansatz in ("strongly_entangling", "basic_entangler"):  # fused backward vs plain autograd
        xr = x.clone().requires_grad_(True)
        out = fast.circuit.evaluate(xr, fast.weights, fused=False)
        ref = torch.autograd.grad((out * coef).sum(), (xr, fast.weights))
        got = hq_values_and_grads(fast, x, coef)[1:]
        for a, b in zip(got, ref):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_unit_norm_range_dtype_and_batch_shapes():
    layer = QuantumLayer(7, 3)
    for shape in ((), (1,), (32,), (2, 5)):
        x = torch.randn(*shape, 7) * 5
        out = layer(x)
        assert out.shape == x.shape and out.dtype == torch.float32
        assert out.abs().max() <= 1 + 1e-6
    # unit norm of the simulated state, via the cached unitary and the gate-by-gate simulator
    u = layer.circuit.unitary(layer.weights.detach().double())
    torch.testing.assert_close(u.square().sum(0), torch.ones(128, dtype=torch.float64))
    assert layer(torch.randn(3, 7, dtype=torch.float64)).dtype == torch.float64


def test_wrong_shapes_and_options_raise_clear_errors():
    layer = QuantumLayer(7, 3)
    with pytest.raises(ShapeError, match=r"^inputs: expected last dim 7; got 5"):
        layer(torch.zeros(4, 5))
    with pytest.raises(ShapeError, match=r"^inputs: expected last dim 7; got a scalar"):
        layer(torch.tensor(1.0))
    with pytest.raises(ShapeError, match="inputs: expected a torch.Tensor"):
        layer([0.0] * 7)
    with pytest.raises(ConfigError, match="ansatz: expected one of"):
        QuantumLayer(3, 1, ansatz="nope")
    with pytest.raises(ConfigError, match="rotation: expected 'X', 'Y' or 'Z'; got 'W'"):
        QuantumLayer(3, 1, rotation="W")
    with pytest.raises(ConfigError, match="diff_method: expected one of"):
        QuantumLayer(3, 1, diff_method="adjoint")
    with pytest.raises(ConfigError, match="n_qubits: expected an int >= 1; got 0"):
        QuantumLayer(0, 1)


def test_weights_shape_and_torchlayer_initialisation():
    torch.manual_seed(0)
    sel = QuantumLayer(7, 3)
    assert sel.weights.shape == (3, 7, 3) and isinstance(sel.weights, torch.nn.Parameter)
    assert 0 <= sel.weights.min() and sel.weights.max() < 2 * math.pi
    assert QuantumLayer(4, 1, ansatz="ry").weights.shape == (4,)
    assert QuantumLayer(4, 2, ansatz="basic_entangler").weights.shape == (2, 4)
    assert QuantumLayer.from_config(4, 2, ansatz="random", n_rotations=6).weights.shape == (2, 6)
    assert sum(p.numel() for p in sel.parameters()) == 63
    assert list(sel.state_dict()) == ["weights"]


def test_eval_cache_is_used_and_invalidated_by_optimizer_step():
    torch.manual_seed(0)
    layer = QuantumLayer(5, 2, engine=EngineOptions(kernel_max_batch=0))  # the cache, not the kernel
    x = torch.rand(8, 5)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer.eval()
    with torch.no_grad():
        first = layer(x)
    cache = layer._cache
    assert cache is not None
    with torch.no_grad():
        torch.testing.assert_close(layer(x), first)
    assert layer._cache is cache  # reused, not rebuilt
    layer.train()
    torch.testing.assert_close(layer(x), first, atol=1e-6, rtol=0)  # same as the uncached path
    layer(x).sum().backward()
    opt.step()
    layer.eval()
    with torch.no_grad():
        after = layer(x)
    assert layer._cache is not cache
    assert (after - first).abs().max() > 1e-4
    torch.testing.assert_close(after, layer.train()(x).detach(), atol=1e-6, rtol=0)
    other = QuantumLayer(5, 2)
    layer.load_state_dict(other.state_dict())  # in-place copy: also invalidates
    with torch.no_grad():
        torch.testing.assert_close(layer.eval()(x), other.train()(x), atol=1e-6, rtol=0)


def test_inputs_gradient_flows_through_cached_eval_path():
    layer = QuantumLayer(4, 2, engine=EngineOptions(kernel_max_batch=0)).requires_grad_(False)
    # frozen weights -> cache with input grads
    x = torch.rand(3, 4, requires_grad=True)
    layer(x).sum().backward()
    assert layer._cache is not None and x.grad is not None and x.grad.abs().sum() > 0


def test_fused_step_uses_few_kernels():
    """On a GPU each kernel is a launch: the 7-qubit, 3-layer step stays a fixed small number."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not func.is_view and func.overloadpacket.__name__ != "_unsafe_view":
                Count.n += 1
            return func(*args, **(kwargs or {}))

    layer = QuantumLayer(7, 3)
    for batch in (1, 256):
        x = torch.rand(batch, 7, requires_grad=True)
        layer(x).sum().backward()  # first call builds the constant tables
        Count.n = 0
        with Count():
            layer(x).sum().backward()
        assert Count.n <= 100, Count.n


def test_edge_inputs_empty_batch_half_precision_autocast_and_copies():
    import copy

    layer = QuantumLayer(5, 2)
    x = torch.rand(0, 5, requires_grad=True)
    layer(x).sum().backward()
    assert layer.weights.grad is not None and x.grad.shape == (0, 5)
    xs = torch.rand(3, 5)
    ref = layer(xs).detach()
    assert layer(xs.half()).dtype == torch.float16
    with torch.autocast("cpu", dtype=torch.bfloat16):  # simulated in full precision regardless
        torch.testing.assert_close(layer(xs), ref)
    torch.testing.assert_close(copy.deepcopy(layer)(xs), ref)


def test_second_order_gradients_via_gates_simulator():
    torch.manual_seed(0)
    fused = QuantumLayer(3, 2).double()
    gates = QuantumLayer.from_config(3, 2, simulator="gates").double()
    gates.load_state_dict(fused.state_dict())
    x = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(gates(x).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    # h = H @ 1 (Hessian of sum <Z> times ones) = directional derivative of the fused gradient
    eps = 1e-5
    (gp,) = torch.autograd.grad(fused(x + eps).sum(), x)
    (gm,) = torch.autograd.grad(fused(x - eps).sum(), x)
    torch.testing.assert_close(h, (gp - gm) / (2 * eps), atol=1e-6, rtol=0)
    for kw in ({}, {"simulator": "statevector"}, {"diff_method": "parameter-shift"}):
        first_order = QuantumLayer.from_config(3, 2, **kw).double()
        with pytest.raises(RuntimeError, match="create_graph=True.*first order.*simulator='gates'"):
            torch.autograd.grad(first_order(x).sum(), x, create_graph=True)  # refused, never silently wrong


@pytest.mark.parametrize("n,ranges", [(7, (1, 1, 1)), (5, (3, 1)), (4, (2, 3, 1, 2))])
@pytest.mark.parametrize("backend_opts", [{}, {"simulator": "gates"}, {"diff_method": "parameter-shift"}],
                         ids=["fused", "gates", "shift"])
def test_custom_entangler_ranges_equal_pennylane(n, ranges, backend_opts):
    """ranges (e.g. the LiteSpineNet paper's Eq. (3): range 1 in every layer) vs qml.StronglyEntanglingLayers."""
    torch.manual_seed(n)
    layer = QuantumLayer.from_config(n, len(ranges), ranges=list(ranges), **backend_opts).double()
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def oracle(inputs, weights):
        qml.AngleEmbedding(inputs, wires=range(n), rotation="Y")
        qml.StronglyEntanglingLayers(weights, wires=range(n), ranges=list(ranges))
        return [qml.expval(qml.PauliZ(w)) for w in range(n)]

    x = torch.rand(3, n, dtype=torch.float64) * 3
    coef = torch.randn(n, dtype=torch.float64)
    ref = pl_values_and_grads(oracle, x, layer.weights, coef)
    got = hq_values_and_grads(layer, x, coef)
    for name, a, b in zip(("values", "d/dinputs", "d/dweights"), got, ref):
        assert (a - b).abs().max().item() < 1e-9, name
    default = QuantumLayer(n, len(ranges)).double()
    default.load_state_dict(layer.state_dict())
    if tuple(ranges) != tuple((i % (n - 1)) + 1 for i in range(len(ranges))):
        assert not torch.allclose(default(x), layer(x)), "ranges had no effect"
    with torch.no_grad():  # the cached eval path uses the same ranges
        assert torch.allclose(layer.eval()(x), got[0], atol=1e-12)


@pennylane_backend
def test_entangler_ranges_reach_pennylane_backend_and_resources():
    layer = QuantumLayer.from_config(7, 3, ranges=[1, 1, 1])
    pl_layer = QuantumLayer.from_config(7, 3, ranges=[1, 1, 1], backend="pennylane")
    pl_layer.load_state_dict(layer.state_dict())
    x = torch.rand(4, 7)
    assert torch.allclose(layer(x), pl_layer(x), atol=1e-5)
    assert layer.circuit_resources().cnot_gates == 21


@pytest.mark.parametrize("kw,match", [
    ({"ranges": [1, 1]}, "expected 3 values"),
    ({"ranges": [1, 7, 1]}, r"expected ints in \[1, 6\]"),
    ({"ranges": [1, 0, 1]}, r"expected ints in \[1, 6\]"),
    ({"ranges": 1}, "expected a sequence"),
    ({"ranges": [1, 1, 1], "ansatz": "basic_entangler"}, "expected ansatz='strongly_entangling'"),
])
def test_bad_ranges_name_the_argument(kw, match):
    with pytest.raises(ConfigError, match=match):
        QuantumLayer.from_config(7, 3, **kw)
