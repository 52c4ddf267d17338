"""The cost section shows the qubit cost curve when the study measured one (cost.qubits)."""

from __future__ import annotations

from report_fakes import make_study

from hqmed.eval.cost_curve import qubit_cost_curve
from hqmed.quantum import QuantumLayer
from hqmed.report.html import render
from hqmed.report.results import load_study
from hqmed.study.config import CostSpec
from hqmed.utils.io import atomic_write_json, read_json


def test_cost_section_gets_the_curve_only_when_measured(tmp_path):
    root = make_study(tmp_path / "study")
    assert 'id="fig-cost-curve"' not in render(load_study(root))
    curve = qubit_cost_curve(QuantumLayer(7, 3), [2, 3], batch=2, budget_s=5, max_repeats=1)
    curve["model"] = "hq_litespinenet"
    atomic_write_json(root / "cost_curve.json", curve)
    meta = read_json(root / "study.json")
    atomic_write_json(root / "study.json", {**meta, "cost_curve": "cost_curve.json"})
    text = render(load_study(root))
    assert 'id="fig-cost-curve"' in text and "QPU estimate" in text


def test_cost_spec_checks_the_qubit_range():
    assert CostSpec(qubits="4:16:2").qubits == "4:16:2"
    try:
        CostSpec(qubits="16:4")
    except ValueError as exc:
        assert "expected START:STOP" in str(exc)
    else:
        raise AssertionError("a reversed range was accepted")
