"""The qubit sweep: range parsing, the growth fit (against scipy), budget skips, the QPU column's
arithmetic, and `hqmed cost MODEL --qubits` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from hqmed.cli import main
from hqmed.errors import ConfigError
from hqmed.eval.cost import QPUTiming
from hqmed.eval.cost_curve import qubit_cost_curve
from hqmed.quantum import QuantumLayer
from hqmed.quantum.scaling import fit_growth_exponent, parse_qubit_range, simulated_cost_curve


def test_parse_qubit_range():
    assert parse_qubit_range("4:20:2") == [4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert parse_qubit_range("3:5") == [3, 4, 5] and parse_qubit_range("7") == [7]
    for bad in ("4:x", "0:4", "8:4", "4:8:0", "1:2:3:4"):
        with pytest.raises(ConfigError, match="--qubits: expected"):
            parse_qubit_range(bad)


def test_growth_fit_equals_scipy_linregress():
    rng = np.random.default_rng(0)
    ns = np.arange(4, 21, 2)
    t = 3e-5 * 2 ** (0.93 * ns) * np.exp(rng.normal(0, 0.05, ns.size))
    fit = fit_growth_exponent(ns.tolist(), t.tolist(), fit_from=10)
    ref = stats.linregress(ns[ns >= 10], np.log2(t[ns >= 10]))
    assert fit["alpha"] == pytest.approx(ref.slope, abs=1e-12)
    assert fit["b"] == pytest.approx(ref.intercept, abs=1e-10)
    assert fit_growth_exponent([4], [1.0])["alpha"] is None


def test_points_over_budget_are_skipped_and_listed():
    curve = simulated_cost_curve([2, 3, 4, 5], lambda n: QuantumLayer(n, 1), batch=2, budget_s=0.0,
                                 max_repeats=1)
    done = [p["n"] for p in curve["points"] if "skipped" not in p]
    skipped = [p for p in curve["points"] if "skipped" in p]
    assert done == [2, 3] and [p["n"] for p in skipped] == [4, 5]
    assert all("> budget 0 s" in p["skipped"] for p in skipped)


def test_hardware_estimate_is_the_gate_time_arithmetic():
    """StronglyEntanglingLayers: n encoding + L n Rot one-qubit gates, L n CNOTs (n >= 3)."""
    qpu = QPUTiming(gate_1q_ns=40, gate_2q_ns=250, readout_ns=900, shots=500)
    layer = QuantumLayer(7, 3)
    curve = qubit_cost_curve(layer, [3, 4, 5], batch=2, budget_s=5, qpu=qpu, max_repeats=1)
    for hw in curve["hardware"]:
        n, L = hw["n"], 3
        expect = 500 * ((n + L * n) * 40 + L * n * 250 + 900) * 1e-9
        assert hw["seconds_per_evaluation"] == pytest.approx(expect, rel=1e-12)
    assert [p["n"] for p in curve["simulated"]["points"]] == [3, 4, 5]
    assert layer.resized(5).weights.shape == (3, 5, 3)


def test_cost_command_qubit_sweep(tmp_path, capsys):
    png = tmp_path / "curve.png"
    rc = main(["cost", "hq_litespinenet", "--qubits", "3:5", "--qubits-batch", "2",
               "--qubits-budget", "5", "--plot", str(png), "--json", "--device", "cpu"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["qubits"] == [3, 4, 5] and out["ansatz"] == "strongly_entangling"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["cost", "litespinenet", "--qubits", "3:4"]) == 1
    assert "expected a model with a quantum layer" in capsys.readouterr().err
