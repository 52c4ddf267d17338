"""The size-aware engine: the adjoint state-vector path against PennyLane, the fused/state-vector
switch, memory limits, and the eval cache's key (it must follow every change of the weights)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from quantum_oracles import hq_values_and_grads, pl_circuit, pl_values_and_grads

from hqmed.errors import ConfigError
from hqmed.quantum import EngineOptions, QuantumLayer, sign_matrix
from hqmed.quantum.engine import CACHE_MAX_QUBITS, select_simulator, working_bytes


def _draw(seed: int, count: int, n_max: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [dict(n=int(rng.integers(2, n_max + 1)), layers=int(rng.integers(1, 4)),
                 ansatz=str(rng.choice(["strongly_entangling", "basic_entangler", "random"])),
                 rotation=str(rng.choice(list("XYZ"))), entangler_rotation=str(rng.choice(list("XYZ"))),
                 seed=int(rng.integers(0, 1000))) for _ in range(count)]


CONFIGS = [dict(n=12, layers=2, ansatz="strongly_entangling", rotation="Y", entangler_rotation="X", seed=0),
           dict(n=11, layers=2, ansatz="random", rotation="X", entangler_rotation="X", seed=3)] + _draw(7, 8, 10)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "{n}q{layers}L-{ansatz}-{rotation}".format(**c))
def test_statevector_path_equals_pennylane_float64(cfg):
    torch.manual_seed(cfg["seed"])
    layer = QuantumLayer.from_config(cfg["n"], cfg["layers"], rotation=cfg["rotation"], ansatz=cfg["ansatz"],
                         entangler_rotation=cfg["entangler_rotation"], seed=cfg["seed"],
                         simulator="statevector").double()
    x = torch.rand(3, cfg["n"], dtype=torch.float64) * 4 - 2
    coef = torch.randn(cfg["n"], dtype=torch.float64)
    oracle = pl_circuit(cfg["n"], cfg["ansatz"], cfg["rotation"], cfg["entangler_rotation"], cfg["seed"])
    for name, a, b in zip(("values", "d/dinputs", "d/dweights"), hq_values_and_grads(layer, x, coef),
                          pl_values_and_grads(oracle, x, layer.weights, coef)):
        assert a.shape == b.shape, name
        assert (a - b).abs().max().item() <= 1e-10, f"{name} {cfg}"


@pytest.mark.parametrize("n,layers", [(3, 2), (7, 3), (10, 2)])
def test_switch_between_fused_and_statevector_is_invisible(n, layers):
    """Both sides of the crossover (forced with fused_max_qubits; the compiled kernel kept out)
    give the same values and grads."""
    torch.manual_seed(n)
    fused = QuantumLayer.from_config(n, layers, fused_max_qubits=n, kernel_max_batch=0).double()
    state = QuantumLayer.from_config(n, layers, fused_max_qubits=n - 1, kernel_max_batch=0).double()
    state.load_state_dict(fused.state_dict())
    assert fused.simulator_for(4) == "fused" and state.simulator_for(4) == "statevector"
    x = torch.rand(4, n, dtype=torch.float64) * 3
    coef = torch.randn(n, dtype=torch.float64)
    for a, b in zip(hq_values_and_grads(fused, x, coef), hq_values_and_grads(state, x, coef)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    with torch.no_grad():  # and in eval mode (cached unitary below the cache limit)
        torch.testing.assert_close(fused.eval()(x), state.eval()(x), atol=1e-12, rtol=0)


def test_auto_crossover_depends_on_qubits_and_batch_and_can_be_overridden():
    assert select_simulator(7, 1) == "fused" and select_simulator(16, 1) == "statevector"
    assert select_simulator(13, 1) == "statevector" and select_simulator(13, 32) == "fused"
    assert select_simulator(16, 1, fused_max_qubits=16) == "fused"
    no_kernel = EngineOptions(kernel_max_batch=0)
    assert QuantumLayer(4, 1, ansatz="random", engine=no_kernel).simulator_for(1) == "statevector"
    assert QuantumLayer(4, 1, ansatz="ry", engine=no_kernel).simulator_for(1) == "fused"  # closed form


def test_auto_at_13_qubits_gives_the_same_results_at_batch_1_and_32():
    torch.manual_seed(0)
    layer = QuantumLayer(13, 1, engine=EngineOptions(kernel_max_batch=0))
    assert layer.simulator_for(1) == "statevector" and layer.simulator_for(32) == "fused"
    x = torch.rand(32, 13)
    with torch.no_grad():
        torch.testing.assert_close(layer(x[:1]), layer(x)[:1], atol=2e-5, rtol=0)


def test_no_grad_16_qubits_batch_8_stays_below_1gb():
    """Peak RSS growth of a fresh process over the call (eval mode, n=16, batch 8): the call's
    own memory, whatever the interpreter and torch took before it."""
    code = textwrap.dedent("""
        import resource, torch
        from hqmed.quantum import QuantumLayer
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        layer = QuantumLayer(16, 3).eval()
        x = torch.rand(8, 16)
        before = peak()
        with torch.no_grad():
            out = layer(x)
        assert out.shape == (8, 16) and torch.isfinite(out).all()
        print(before, peak())
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    before, after = map(int, res.stdout.strip().splitlines()[-1].split())
    assert after - before < 2**30, f"the call raised peak RSS by {(after - before) / 2**20:.0f} MiB"


def test_qubit_limit_states_the_bytes_needed():
    with pytest.raises(ConfigError, match=r"n_qubits: expected .*fit in memory.*got n_qubits=40 at "
                                          r"batch 1, which needs .* bytes"):
        QuantumLayer(40, 1)
    need = working_bytes(10, 64)
    layer = QuantumLayer.from_config(10, 1, memory_limit_bytes=need)
    layer(torch.rand(64, 10))  # exactly fits
    with pytest.raises(ConfigError, match=f"batch 65, which needs .*{working_bytes(10, 65):,} bytes"):
        layer(torch.rand(65, 10))
    QuantumLayer(40, 1, ansatz="ry")  # product circuits need no state vector


OPTIMIZERS = [(torch.optim.Adam, {"fused": True}), (torch.optim.AdamW, {"fused": True}),
              (torch.optim.SGD, {"fused": True}), (torch.optim.Adagrad, {"fused": True}),
              (torch.optim.Adam, {"foreach": True})]


@pytest.mark.parametrize("opt_cls,kw", OPTIMIZERS, ids=lambda o: getattr(o, "__name__", str(o)))
def test_validation_outputs_track_weights_after_fused_optimizer_steps(opt_cls, kw):
    torch.manual_seed(0)
    layer = QuantumLayer(5, 2, engine=EngineOptions(kernel_max_batch=0))  # the cache, not the kernel
    opt = opt_cls(layer.parameters(), lr=0.3, **kw)
    x = torch.rand(6, 5)
    for _ in range(3):  # train a step, then validate (eval + no_grad uses the cache)
        layer.train()
        opt.zero_grad()
        layer(x).square().sum().backward()
        opt.step()
        layer.eval()
        with torch.no_grad():
            cached = layer(x)
            assert layer._cache is not None
            reference = layer.circuit.evaluate(x, layer.weights)  # no cache involved
        torch.testing.assert_close(cached, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("write", ["copy_", "mul_", "setitem", "numpy", "load_state_dict"])
def test_validation_outputs_track_in_place_weight_writes(write):
    torch.manual_seed(1)
    layer = QuantumLayer(4, 2, engine=EngineOptions(kernel_max_batch=0)).eval()  # the cache
    x = torch.rand(5, 4)
    with torch.no_grad():
        before = layer(x)
    new = torch.rand_like(layer.weights) * 6
    if write == "copy_":
        layer.weights.data.copy_(new)
    elif write == "mul_":
        layer.weights.data.mul_(0.5)
    elif write == "setitem":
        layer.weights.data[0] = new[0]
    elif write == "numpy":
        layer.weights.detach().numpy()[1, 2, 0] += 1.0
    else:
        layer.load_state_dict({"weights": new})
    with torch.no_grad():
        after = layer(x)
        reference = layer.circuit.evaluate(x, layer.weights)
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, reference, atol=1e-5, rtol=0)


def test_eval_cache_only_for_small_circuits():
    no_kernel = EngineOptions(kernel_max_batch=0)
    small = QuantumLayer(CACHE_MAX_QUBITS, 1, engine=no_kernel).eval()
    large = QuantumLayer(CACHE_MAX_QUBITS + 1, 1, engine=no_kernel).eval()
    with torch.no_grad():
        small(torch.rand(2, small.n_qubits))
        large(torch.rand(2, large.n_qubits))
    assert small._cache is not None and large._cache is None


def test_gradient_penalty_works_with_gates_simulator():
    torch.manual_seed(2)
    layer = QuantumLayer.from_config(3, 2, simulator="gates").double()
    x = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
    g.square().sum().backward()
    assert layer.weights.grad is not None and layer.weights.grad.abs().sum() > 0


def test_random_ansatz_ratio_imprim_one_is_refused_not_hung():
    with pytest.raises(ConfigError, match=r"ratio_imprim: expected a number in \[0, 1\); got 1.0"):
        QuantumLayer.from_config(3, 1, ansatz="random", ratio_imprim=1.0)
    with pytest.raises(ConfigError, match="n_rotations: expected an int >= 1"):
        QuantumLayer.from_config(3, 1, ansatz="random", n_rotations=0)


def test_sign_matrix_is_not_handed_out_mutable():
    s = sign_matrix(3, torch.float64)
    s.zero_()
    assert sign_matrix(3, torch.float64).abs().sum() == 24


def test_option_groups_and_flat_config_build_the_same_layer():
    from hqmed.quantum import AnsatzOptions

    torch.manual_seed(4)
    grouped = QuantumLayer(5, 2, "X", "strongly_entangling", options=AnsatzOptions(ranges=(2, 1)),
                           engine=EngineOptions(simulator="statevector"))
    torch.manual_seed(4)
    flat = QuantumLayer.from_config(5, 2, rotation="X", ranges=[2, 1], simulator="statevector")
    assert grouped.options == flat.options and grouped.engine == flat.engine
    x = torch.rand(3, 5)
    torch.testing.assert_close(grouped(x), flat(x))
    with pytest.raises(ConfigError, match="quantum option 'shotz': expected one of"):
        QuantumLayer.from_config(3, 1, shotz=10)


def test_weight_init_distributions_match_scipy():
    from scipy import stats

    from hqmed.quantum import WeightInit

    torch.manual_seed(5)
    uni = QuantumLayer(10, 60, ansatz="basic_entangler").weights.detach().numpy().ravel()
    assert stats.kstest(uni, stats.uniform(0, 2 * np.pi).cdf).pvalue > 1e-3
    normal = QuantumLayer(10, 60, ansatz="basic_entangler", init=WeightInit("normal", 0.05))
    w = normal.weights.detach().numpy().ravel()
    assert stats.kstest(w, stats.norm(0, 0.05).cdf).pvalue > 1e-3
    assert stats.kstest(w, stats.uniform(0, 2 * np.pi).cdf).pvalue < 1e-6  # the option acts
    flat = QuantumLayer.from_config(4, 1, init={"kind": "normal", "std": 0.01})
    assert flat.weights.abs().max() < 0.1
    assert QuantumLayer.from_config(4, 2, init="identity").weights.abs().max() == 0
    with pytest.raises(ConfigError, match="init: expected one of"):
        WeightInit("xavier")
