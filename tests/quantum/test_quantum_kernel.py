"""The compiled kernel (hqmed.quantum.kernel): values and gradients against PennyLane and the torch
simulators, the engine's dispatch, the fallback when it cannot be built, and its build cache."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from quantum_oracles import circuit_seed, hq_values_and_grads, pl_circuit, pl_values_and_grads, qml

from hqmed.errors import ConfigError, ShapeError
from hqmed.quantum import EngineOptions, QuantumLayer
from hqmed.quantum import kernel as K


@pytest.fixture(scope="module", autouse=True)
def kernel_loaded():
    """The kernel must build wherever a C compiler exists (CI has gcc); without one, or with
    HQMED_NO_KERNEL set, these tests are skipped with the reason."""
    status = K.load_kernel(refresh=True)
    if not status.available:
        cc = shlex.split(os.environ.get("CC") or "cc")
        if os.environ.get(K.DISABLE_ENV) or not cc or shutil.which(cc[0]) is None:
            pytest.skip(f"compiled kernel not available here: {status.reason}")
        pytest.fail(f"a C compiler exists but the kernel did not build: {status.reason}")
    return status


@pytest.fixture
def reload_after():
    """Tests that change the kernel's environment reload it (from the cache) afterwards."""
    yield
    K.load_kernel(refresh=True)


def _draw(seed: int, count: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n = 1 + i % 10  # every n from 1 to 10
        layers = int(rng.integers(1, 4))
        ansatz = str(rng.choice(["strongly_entangling", "basic_entangler", "random", "ry"]))
        cfg = dict(n=n, layers=layers, ansatz=ansatz, rotation=str(rng.choice(list("XYZ"))),
                   entangler_rotation=str(rng.choice(list("XYZ"))), seed=int(rng.integers(0, 1000)),
                   batch=int(rng.choice([1, 3, 17])), ranges=None, ratio_imprim=0.3)
        if ansatz == "strongly_entangling" and n > 1 and rng.random() < 0.6:
            cfg["ranges"] = [int(r) for r in rng.integers(1, n, size=layers)]
        if ansatz == "random":
            cfg["ratio_imprim"] = float(rng.choice([0.0, 0.3, 0.7]))
        out.append(cfg)
    return out


CONFIGS = _draw(circuit_seed(), 20)
_ID = "{n}q{layers}L-{ansatz}-{rotation}{entangler_rotation}-b{batch}-r{ranges}-i{ratio_imprim}"


def _layer(cfg: dict, **engine) -> QuantumLayer:
    torch.manual_seed(cfg["seed"])
    kw = {"ranges": cfg["ranges"]} if cfg["ranges"] else {}
    if cfg["ansatz"] == "random":
        kw.update(seed=cfg["seed"], ratio_imprim=cfg["ratio_imprim"])
    if cfg["ansatz"] == "basic_entangler":
        kw["entangler_rotation"] = cfg["entangler_rotation"]
    return QuantumLayer.from_config(cfg["n"], cfg["layers"], rotation=cfg["rotation"],
                                    ansatz=cfg["ansatz"], **kw, **engine)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: _ID.format(**c))
def test_kernel_equals_pennylane_float64(cfg):
    layer = _layer(cfg, simulator="kernel").double()
    x = torch.rand(cfg["batch"], cfg["n"], dtype=torch.float64) * 4 - 2
    coef = torch.randn(cfg["n"], dtype=torch.float64)
    oracle = pl_circuit(cfg["n"], cfg["ansatz"], cfg["rotation"], cfg["entangler_rotation"],
                        cfg["seed"], cfg["ranges"], cfg["ratio_imprim"])
    for name, a, b in zip(("values", "d/dinputs", "d/dweights"), hq_values_and_grads(layer, x, coef),
                          pl_values_and_grads(oracle, x, layer.weights, coef)):
        assert a.shape == b.shape, name
        assert (a - b).abs().max().item() <= 1e-10, f"{name} {cfg}"


@pytest.mark.parametrize("cfg", CONFIGS[:10], ids=lambda c: _ID.format(**c))
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_kernel_equals_the_torch_simulators(cfg, dtype, tol):
    """Same layer, same weights: the kernel against the torch path "auto" would take without it
    (fused / closed form / state vector), also through leading batch dims."""
    kernel = _layer(cfg, simulator="kernel").to(dtype)
    torch_path = _layer(cfg, kernel_max_batch=0).to(dtype)
    assert torch_path.simulator_for(cfg["batch"]) in ("fused", "statevector")
    x = torch.rand(2, cfg["batch"], cfg["n"], dtype=dtype) * 3
    coef = torch.randn(cfg["n"], dtype=dtype)
    for a, b in zip(hq_values_and_grads(kernel, x, coef), hq_values_and_grads(torch_path, x, coef)):
        assert a.dtype == dtype
        torch.testing.assert_close(a, b, atol=tol, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(kernel.eval()(x), torch_path.eval()(x), atol=tol, rtol=0)


def test_kernel_float32_against_pennylane():
    torch.manual_seed(0)
    layer = QuantumLayer.from_config(7, 3, simulator="kernel")
    x = torch.rand(5, 7) * 3
    coef = torch.randn(7)
    oracle = pl_circuit(7, "strongly_entangling", "Y")
    got = hq_values_and_grads(layer, x, coef)
    want = pl_values_and_grads(oracle, x, layer.weights, coef)
    for a, b in zip(got, want):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, atol=2e-6, rtol=0)


def test_kernel_gates_beyond_the_templates_against_pennylane():
    """Hadamard, CZ and every rotation, with repeated wires and gates after entanglers, on a
    hand-written gate list (a circuit spec the templates do not produce)."""

    class Spec:
        n_qubits, weight_shape = 3, (6,)

        def encoding_ops(self, x):
            return [("Hadamard", (0,), ()), ("RX", (0,), (x[..., 0],)), ("RY", (1,), (x[..., 1],)),
                    ("CZ", (0, 2), ()), ("RZ", (2,), (x[..., 2],)), ("RY", (0,), (x[..., 2],))]

        def variational_ops(self, w):
            return [("Rot", (1,), (w[..., 0], w[..., 1], w[..., 2])), ("CNOT", (1, 0), ()),
                    ("RZ", (0,), (w[..., 3],)), ("Hadamard", (2,), ()), ("CZ", (2, 1), ()),
                    ("RX", (2,), (w[..., 4],)), ("CNOT", (2, 0), ()), ("RY", (1,), (w[..., 5],)),
                    ("RX", (2,), (w[..., 3],))]  # w[3] used twice: its gradients add up

    gates = {"Hadamard": qml.Hadamard, "RX": qml.RX, "RY": qml.RY, "RZ": qml.RZ, "Rot": qml.Rot,
             "CNOT": qml.CNOT, "CZ": qml.CZ}

    @qml.qnode(qml.device("default.qubit", wires=3), interface="torch", diff_method="backprop")
    def oracle(x, w):
        for name, wires, params in Spec().encoding_ops(x) + Spec().variational_ops(w):
            gates[name](*params, wires=list(wires))
        return [qml.expval(qml.PauliZ(i)) for i in range(3)]

    program = K.kernel_program(Spec())
    torch.manual_seed(5)
    coef = torch.randn(3, dtype=torch.float64)
    w = (torch.rand(6, dtype=torch.float64) * 6).requires_grad_(True)
    for sample in torch.rand(4, 3, dtype=torch.float64) * 4 - 2:
        x = sample[None].clone().requires_grad_(True)
        out = K.kernel_expval(program, x, w)
        gx, gw = torch.autograd.grad((out * coef).sum(), (x, w))
        xo = sample.clone().requires_grad_(True)
        ref = torch.stack(list(oracle(xo, w)))
        rx, rw = torch.autograd.grad((ref * coef).sum(), (xo, w))
        for a, b in ((out[0], ref), (gx[0], rx), (gw, rw)):
            torch.testing.assert_close(a.detach(), b.detach(), atol=1e-10, rtol=0)


def test_kernel_gradcheck_float64():
    torch.manual_seed(1)
    for ansatz in ("strongly_entangling", "random"):
        layer = QuantumLayer(4, 2, ansatz=ansatz).double()
        program = K.kernel_program(layer.circuit)
        x = (torch.rand(3, 4, dtype=torch.float64) * 3).requires_grad_(True)
        w = layer.weights.detach().clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b, p=program: K.kernel_expval(p, a, b), (x, w))


def test_kernel_results_are_deterministic_and_independent_of_the_batch():
    torch.manual_seed(2)
    layer = QuantumLayer.from_config(6, 3, simulator="kernel")
    x = torch.rand(9, 6)
    coef = torch.randn(6)
    first = hq_values_and_grads(layer, x, coef)
    for a, b in zip(first, hq_values_and_grads(layer, x, coef)):
        assert torch.equal(a, b)  # bit for bit, run to run
    alone = hq_values_and_grads(layer, x[4:5], coef)
    assert torch.equal(alone[0], first[0][4:5]) and torch.equal(alone[1], first[1][4:5])
    strided = torch.rand(9, 12)[:, ::2]  # not contiguous
    torch.testing.assert_close(layer(strided), layer(strided.contiguous()), atol=0, rtol=0)


def test_kernel_edge_cases_empty_batch_frozen_weights_and_second_order():
    layer = QuantumLayer.from_config(3, 2, simulator="kernel")
    x = torch.rand(0, 3, requires_grad=True)
    out = layer(x)
    assert out.shape == (0, 3)
    out.sum().backward()
    assert layer.weights.grad is not None and layer.weights.grad.abs().sum() == 0
    frozen = QuantumLayer.from_config(3, 2, simulator="kernel").requires_grad_(False)
    x = torch.rand(2, 3, requires_grad=True)
    frozen(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and frozen.weights.grad is None
    x = torch.rand(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="create_graph=True: the kernel backward .* first order"):
        torch.autograd.grad(layer(x).sum(), x, create_graph=True)


def test_copies_and_pickles_of_a_layer_own_their_program(tmp_path):
    """The program's address must follow its array: a deep copy used after the original is gone,
    and a whole-module torch.save/load, give the original's results."""
    import copy
    import gc

    torch.manual_seed(6)
    layer = QuantumLayer.from_config(5, 2, simulator="kernel")
    x = torch.rand(3, 5)
    want = layer(x).detach()
    clone = copy.deepcopy(layer)
    assert clone._program.address != layer._program.address
    del layer
    gc.collect()
    _ = [np.full(64, -1, dtype=np.int32) for _ in range(1000)]  # reuse the freed memory
    torch.testing.assert_close(clone(x).detach(), want, atol=0, rtol=0)
    torch.save(clone, tmp_path / "layer.pt")
    loaded = torch.load(tmp_path / "layer.pt", weights_only=False)
    torch.testing.assert_close(loaded(x).detach(), want, atol=0, rtol=0)


def test_kernel_rejects_a_bad_program_instead_of_crashing():
    bad = [2, 1, 0, K._CODES["RX"], 5, 0, K._SRC_INPUTS, 0, 0, 0]  # wire 5 of 2
    program = K.KernelProgram.from_array(2, 0, bad)
    with pytest.raises(RuntimeError, match="invalid circuit program"):
        K.kernel_expval(program, torch.rand(1, 2), torch.zeros(0))
    good = K.kernel_program(QuantumLayer(3, 1).circuit)  # 9 weights
    with pytest.raises(ShapeError, match=r"expected x \(B, 3\) and 9 weights; got x \(1, 4\)"):
        K.kernel_expval(good, torch.rand(1, 4), torch.rand(9))
    with pytest.raises(ShapeError, match="and 8 weights"):
        K.kernel_expval(good, torch.rand(1, 3), torch.rand(8))
    with pytest.raises(ShapeError, match="got torch.float32 on cpu and torch.float64 on cpu"):
        K.kernel_expval(good, torch.rand(1, 3), torch.rand(9, dtype=torch.float64))


def test_auto_dispatch_uses_the_kernel_where_it_was_measured_to_win():
    layer = QuantumLayer(7, 3)
    assert layer.simulator_for(1) == "kernel" and layer.simulator_for(256) == "fused"
    assert layer.simulator_for(1, "cuda") == "fused"  # CUDA tensors keep the torch path
    assert layer.simulator_for(32) == "kernel" and layer.simulator_for(64) == "fused"
    assert layer.simulator_for(32, grad=False) == "kernel"
    assert layer.simulator_for(64, grad=False) == "fused"  # the cached unitary
    assert QuantumLayer(4, 3).simulator_for(256) == "kernel"
    assert QuantumLayer(7, 3, ansatz="random").simulator_for(256) == "kernel"  # vs state vector
    assert QuantumLayer(16, 1).simulator_for(64) == "kernel"  # beyond the fused path's range
    lcnet = QuantumLayer(4, ansatz="ry")
    assert lcnet.simulator_for(16) == "kernel" and lcnet.simulator_for(32) == "fused"
    assert QuantumLayer(7, ansatz="ry").simulator_for(2) == "kernel"
    assert QuantumLayer(7, ansatz="ry").simulator_for(4) == "fused"
    assert QuantumLayer(7, 3, engine=EngineOptions(kernel_max_batch=0)).simulator_for(1) == "fused"
    assert QuantumLayer(7, 3, engine=EngineOptions(kernel_max_batch=512)).simulator_for(512) == "kernel"
    assert QuantumLayer(7, 3, diff_method="parameter-shift").simulator_for(1) == "fused"
    with pytest.raises(ConfigError, match="kernel_max_batch: expected an int >= 0"):
        EngineOptions(kernel_max_batch=-1)
    with pytest.raises(ConfigError, match="expected diff_method='backprop' for simulator='kernel'"):
        QuantumLayer.from_config(3, 1, simulator="kernel", diff_method="parameter-shift")


def test_disabled_kernel_falls_back_to_torch_with_the_same_results(monkeypatch, reload_after, caplog):
    torch.manual_seed(3)
    layer = QuantumLayer(5, 2).double()
    x = torch.rand(2, 5, dtype=torch.float64)
    coef = torch.randn(5, dtype=torch.float64)
    assert layer.simulator_for(2) == "kernel"
    with_kernel = hq_values_and_grads(layer, x, coef)
    monkeypatch.setenv(K.DISABLE_ENV, "1")
    with caplog.at_level(logging.INFO, logger="hqmed.quantum.kernel"):
        status = K.load_kernel(refresh=True)
    assert not status.available and K.DISABLE_ENV in status.reason and K.kernel_status() == status
    assert any(K.DISABLE_ENV in r.getMessage() for r in caplog.records)
    assert layer.simulator_for(2) == "fused"
    for a, b in zip(with_kernel, hq_values_and_grads(layer, x, coef)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    with pytest.raises(ConfigError, match="expected the compiled kernel for simulator='kernel'; "
                                          f"got none \\(disabled by {K.DISABLE_ENV}=1\\)"):
        QuantumLayer.from_config(3, 1, simulator="kernel")


def test_failing_compiler_falls_back_and_says_why(monkeypatch, reload_after, tmp_path, caplog):
    monkeypatch.setenv("HQMED_CACHE", str(tmp_path))  # nothing cached: it must compile
    monkeypatch.setenv("CC", "false")
    with caplog.at_level(logging.WARNING, logger="hqmed.quantum.kernel"):
        status = K.load_kernel(refresh=True)
        K.kernel_status()  # logged once, not per call
    assert not status.available and "failed (exit 1)" in status.reason
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    layer = QuantumLayer(4, 2)
    assert layer.simulator_for(1) == "fused"
    out = layer(torch.rand(1, 4))
    assert out.shape == (1, 4) and torch.isfinite(out).all()
    monkeypatch.setenv("CC", "no-such-compiler-hqmed")
    assert "could not run" in K.load_kernel(refresh=True).reason
    assert list(tmp_path.rglob("*")) in ([], [tmp_path / "kernels"])  # no half-written library


def test_build_is_cached_atomic_and_a_damaged_entry_is_rebuilt(monkeypatch, reload_after, tmp_path):
    cache = tmp_path / "cache"
    path, compiled = K.build_kernel(cache, cc="cc")
    assert compiled and path.parent == cache / "kernels"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary files left
    stamp = path.stat().st_mtime_ns
    again, compiled = K.build_kernel(cache, cc="cc")
    assert again == path and not compiled and path.stat().st_mtime_ns == stamp
    # a new process loads the cached library without compiling: its `cc` is a stub that leaves a
    # mark and fails
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "cc").write_text(f"#!/bin/sh\ntouch {tmp_path / 'called'}\nexit 1\n")
    (stub / "cc").chmod(0o755)
    code = textwrap.dedent("""
        from hqmed.quantum.kernel import kernel_status
        s = kernel_status()
        print(s.available, s.compiled, s.path)
    """)
    env = {**os.environ, "HQMED_CACHE": str(cache), "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}"}
    for name in ("CC", K.DISABLE_ENV):
        env.pop(name, None)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["True", "False", str(path)]
    assert not (tmp_path / "called").exists()
    path.write_bytes(b"not a shared library")  # e.g. a copy from another platform
    monkeypatch.setenv("HQMED_CACHE", str(cache))
    monkeypatch.setenv("CC", "cc")
    monkeypatch.delenv(K.DISABLE_ENV, raising=False)
    status = K.load_kernel(refresh=True)
    assert status.available and status.compiled and status.path == str(path)
    layer = QuantumLayer.from_config(3, 1, simulator="kernel")
    assert layer(torch.rand(2, 3)).shape == (2, 3)
