"""hqmed.eval.cost: counts equal their formulas (no timing assertions)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from hqmed.errors import ShapeError
from hqmed.eval.cost import (
    QPUTiming,
    circuit_evaluations,
    circuit_flops,
    count_flops,
    count_trainable_parameters,
    measure_cost,
    quantum_layers,
    saved_activation_bytes,
)
from hqmed.models import create_model
from hqmed.quantum import CircuitResources
from hqmed.study.runner import flatten_cost


class FakeQuantum(nn.Module):
    """Stands in for hqmed.quantum.QuantumLayer: (..., n) -> (..., n) with circuit_resources."""

    def __init__(self, n: int = 4):
        super().__init__()
        self.n = n
        self.weights = nn.Parameter(torch.zeros(2, n, 3))

    def forward(self, x):
        return torch.cos(x + self.weights.sum())

    def circuit_resources(self):
        n, p = self.n, self.weights.numel()
        return CircuitResources(qubits=n, depth=2, variational_layers=2,
                                gate_counts={"Rot": 3 * n, "CNOT": 2 * n}, encoding_gates=0,
                                trainable_gates=3 * n, trainable_parameters=p,
                                one_qubit_gates=3 * n, two_qubit_gates=2 * n, cnot_gates=2 * n,
                                shift_evaluations_weights=2 * p, shift_evaluations_with_inputs=2 * p,
                                state_vector_size=2**n)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(32, 4)
        self.q = FakeQuantum(4)
        self.head = nn.Linear(4, 3)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)

    def forward(self, x):
        z = self.pool(self.conv(x))  # (B, 8, 2, 2)
        q = self.q(z.permute(0, 2, 3, 1).reshape(x.shape[0], 2, 2, 8)[..., :4])  # 4 evals/sample
        return self.head(self.fc(z.flatten(1)) + q.mean(dim=(1, 2)))


def test_params_and_flops_equal_formulas():
    net = Net()
    assert count_trainable_parameters(net) == sum(
        p.numel() for n, p in net.named_parameters() if not n.startswith("frozen"))
    f = count_flops(net, (3, 6, 6))
    conv = 2 * (8 * 6 * 6) * (3 * 3 * 3)  # 2 * output elements * MACs per output
    linears = 2 * 32 * 4 + 2 * 4 * 3
    assert f["total"] == conv + linears
    assert f["quantum_counted"] == 0 and f["classical"] == f["total"]


def test_flop_figures_do_not_depend_on_the_simulator():
    """The compiled kernel is invisible to torch's FLOP counter, the torch simulators are not:
    the layers outside the circuit (counted) and the circuit's analytic estimate are the same
    either way, and the study's Table 8 row is their sum."""
    def cost(**quantum_kwargs):
        torch.manual_seed(0)
        net = create_model("hq_litespinenet", num_classes=8, in_chans=3,
                           quantum_kwargs=quantum_kwargs or None)
        return measure_cost(net, (3, 48, 48), timing=False)

    torch_path = cost(kernel_max_batch=0)
    default = cost()
    assert torch_path["flops_quantum_counted"] > 0  # the torch simulator's matmuls are seen
    for key in ("flops_classical", "flops_circuit_estimate", "flops_total_estimate"):
        assert default[key] == torch_path[key], key
    assert torch_path["flops_total_estimate"] == (torch_path["flops_classical"]
                                                  + torch_path["flops_circuit_estimate"])
    assert flatten_cost(default)["flops"] == flatten_cost(torch_path)["flops"] \
        == default["flops_total_estimate"]


def test_quantum_layers_and_evaluations():
    net = Net()
    assert [n for n, _ in quantum_layers(net)] == ["q"]
    assert circuit_evaluations(net, (3, 6, 6)) == {"q": 4.0}
    q = measure_cost(net, (3, 6, 6), timing=False)["quantum"][0]
    assert q["resources"] == net.q.circuit_resources().to_dict()  # one set of names, as given


def test_a_resources_dict_of_other_names_is_refused():
    class Foreign(FakeQuantum):
        def circuit_resources(self):
            return {"num_wires": 4}

    net = Net()
    net.q = Foreign(4)
    with pytest.raises(TypeError, match="expected hqmed.quantum.CircuitResources; got dict"):
        measure_cost(net, (3, 6, 6), timing=False)


def test_circuit_flops_and_qpu_estimate():
    assert circuit_flops(1, 1, 0) == 2 * (16 + 3 + 1)
    assert circuit_flops(7, 70, 21) == 128 * (16 * 70 + 32 * 21 + 3 + 7)
    t = QPUTiming(gate_1q_ns=50, gate_2q_ns=300, readout_ns=1000, shots=1000)
    # 70 * 50 + 21 * 300 + 1000 = 10800 ns per shot -> 10.8 ms for 1000 shots
    assert t.circuit_seconds(70, 21) == pytest.approx(10.8e-3)


def test_saved_activation_bytes_linear():
    lin = nn.Linear(10, 5)
    # addmm saves its input (B, 10) float32 for the weight gradient
    assert saved_activation_bytes(lin_wrap(lin), (1, 1, 10), batch_size=6) == 6 * 10 * 4


def lin_wrap(lin):
    class W(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lin

        def forward(self, x):
            return self.lin(x.flatten(1))
    return W()


def test_measure_cost_json_and_qpu():
    net = Net()
    before = [p.detach().clone() for p in net.parameters()]
    out = measure_cost(net, (3, 6, 6), repeats=2, warmup=1, train_repeats=2,
                       train_batch_size=4, n_train_samples=10)
    json.dumps(out)
    assert out["params"] == count_trainable_parameters(net)
    q = out["quantum"][0]
    assert q["evaluations_per_sample"] == 4.0 and q["resources"]["shift_evaluations_weights"] == 48
    assert q["circuit_flops_estimate"] == circuit_flops(4, 12, 8)
    assert out["flops_circuit_estimate"] == 4 * circuit_flops(4, 12, 8)
    assert out["qpu_inference_ms_per_sample"] == pytest.approx(
        4 * 1e3 * QPUTiming().circuit_seconds(12, 8))
    assert out["steps_per_epoch"] == 3 and out["latency_ms"]["repeats"] == 2
    assert out["memory"]["activation_bytes"] > 0
    for a, b in zip(before, net.parameters()):  # the training-step timing used a copy
        assert torch.equal(a, b)
    assert measure_cost(net, (3, 6, 6), timing=False).get("latency_ms") is None


def test_input_shape_checked():
    with pytest.raises(ShapeError, match=r"expected \(C, H, W\)"):
        count_flops(Net(), (1, 3, 6, 6))


def test_measure_cost_with_real_quantum_layer():
    from hqmed import quantum

    layer = quantum.QuantumLayer(7, 3)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(12, 7)
            self.q = layer
            self.head = nn.Linear(7, 2)

        def forward(self, x):
            return self.head(self.q(torch.tanh(self.fc(x.flatten(1)))))

    out = measure_cost(Tiny(), (3, 2, 2), timing=False)
    q = out["quantum"][0]
    r = q["resources"]
    assert r["qubits"] == 7 and r["two_qubit_gates"] == 21 and r["one_qubit_gates"] == 28
    assert r["shift_evaluations_weights"] == 126  # the paper's Table 8 row
    assert q["evaluations_per_sample"] == 1.0 and r["state_vector_size"] == 128
    assert out["params"] == 12 * 7 + 7 + 63 + 7 * 2 + 2


class _FakeClock:
    """time.perf_counter stand-in: each rival call advances it by that rival's cost (no real
    timing in tests)."""

    def __init__(self):
        self.now, self.calls = 0.0, []

    def __call__(self):
        return self.now

    def rival(self, name, seconds):
        def fn():
            self.calls.append(name)
            self.now += seconds() if callable(seconds) else seconds
        return fn


@pytest.mark.parametrize("b_cost,verdict", [(2.0, "B slower"), (0.5, "B faster")])
def test_paired_timing_interleaves_and_reports_the_ratio(monkeypatch, b_cost, verdict):
    import hqmed.eval.cost as cost

    clock = _FakeClock()
    monkeypatch.setattr(cost.time, "perf_counter", clock)
    out = cost.paired_timing(clock.rival("a", 1.0), clock.rival("b", b_cost), repeats=4, warmup=1)
    assert clock.calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]  # warm-up, then A B, B A
    assert out["ratios"] == pytest.approx([b_cost] * 4)
    assert out["ratio"]["median"] == pytest.approx(b_cost) and out["verdict"] == verdict
    assert out["a_ms"]["median"] == pytest.approx(1e3) and out["threads"] >= 1
    assert "no measurable" not in cost.describe_ratio(out)


def test_a_ratio_whose_spread_contains_one_is_no_measurable_difference(monkeypatch):
    import hqmed.eval.cost as cost

    clock = _FakeClock()
    monkeypatch.setattr(cost.time, "perf_counter", clock)
    b_costs = iter([0.8, 1.3, 0.9, 1.2, 1.1, 0.95] * 3)
    out = cost.paired_timing(clock.rival("a", 1.0), clock.rival("b", lambda: next(b_costs)),
                             repeats=6, warmup=1)
    ratios = np.asarray(out["ratios"])
    assert (out["ratio"]["q1"], out["ratio"]["q3"]) == pytest.approx(
        tuple(np.percentile(ratios, [25, 75])))
    assert out["ratio"]["q1"] < 1 < out["ratio"]["q3"]
    assert out["verdict"] == "no measurable difference"
    assert cost.describe_ratio(out).endswith(": no measurable difference")


def test_compare_timing_pins_threads_and_restores_them():
    import torch

    from hqmed.eval.cost import compare_timing

    before = torch.get_num_threads()
    a, b = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), \
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    out = compare_timing(a, b, (1, 4, 4), num_classes=3, train_batch_size=4, repeats=2,
                         train_repeats=2, warmup=0, threads=1)
    assert out["threads"] == 1 and torch.get_num_threads() == before
    assert set(out) >= {"inference", "train_step"} and out["inference"]["inner"] > 1
