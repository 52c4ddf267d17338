"""End to end with real training: a tiny phantom study through run_experiment, cost, external."""

from __future__ import annotations

import json

import pytest
from tiny_phantoms import tiny_study

from hqmed.study.config import parse_study
from hqmed.study.runner import run_study

TINY = tiny_study(
    ["litespinenet", "hq_litespinenet"], [("litespinenet", "hq_litespinenet")],
    # the whole phantom radiographs of the test split, unlabelled, as an external folder
    external=[{"name": "ext",
               "data": {"source": "folder", "params": {"root": "{out}/data/ph/test_images",
                                                       "labelled": False, "image_size": 32}}}],
    cost={"enabled": True, "timing": False},
    diagnostics={"enabled": True, "qubits": [2, 3], "layers": [1], "inits": 3, "inputs": 8,
                 "pairs": 20, "max_samples": 16},
)


@pytest.mark.slow
def test_tiny_phantom_study_end_to_end(tmp_path, quick_report):
    report = run_study(parse_study(TINY), tmp_path)
    assert report.read_text() == "<html>2 runs</html>"  # rendering is tested in tests/report
    meta = json.loads((tmp_path / "study.json").read_text())
    assert len(meta["runs"]) == 2 and len(meta["comparisons"]) == 1 and len(meta["external"]) == 2
    cost = json.loads((tmp_path / "cost.json").read_text())
    assert cost["hq_litespinenet"]["n_qubits"] == 7 and cost["litespinenet"].get("n_qubits") is None
    assert cost["litespinenet"]["input_shape"] == "3x32x32"
    ext = json.loads((tmp_path / meta["external"][1]).read_text())
    assert sum(r["count"] for r in ext["summary"]) == ext["n"] > 0


@pytest.mark.slow
def test_tiny_study_diagnoses_its_hybrid_and_reports_it(tmp_path, quick_report):
    from hqmed.report.html import render
    from hqmed.report.results import load_study

    run_study(parse_study(TINY), tmp_path)
    meta = json.loads((tmp_path / "study.json").read_text())
    assert [d["model"] for d in meta["diagnostics"]] == ["hq_litespinenet"]  # the classical has none
    doc = json.loads((tmp_path / meta["diagnostics"][0]["path"]).read_text())
    block = doc["blocks"][0]
    assert block["n_qubits"] == 7 and block["data"]["n_samples"] == 16
    page = render(load_study(tmp_path))
    section = page[page.index('<section id="quantum-block">'):]
    section = section[:section.index("</section>")]
    assert 'id="tab-quantum-random"' in section and 'id="tab-quantum-trained"' in section
    assert 'id="fig-barren-plateau"' in section and "7-qubit block" in section
