"""Every benchmark flag has help text, and every benchmark can write its JSON where asked (--out)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))
# not benchmarks: helpers of the benchmarks (rivals.py's worker prints its JSON to the benchmark that runs it)
HELPERS = {"__init__.py", "rivals.py"}


def _add_argument_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "attr", "") == "add_argument"]


@pytest.mark.parametrize("path", BENCH, ids=[p.name for p in BENCH])
def test_every_benchmark_flag_has_help(path):
    calls = _add_argument_calls(path)
    missing = [ast.unparse(c.args[0]) for c in calls
               if c.args and not any(k.arg == "help" for k in c.keywords)]
    assert missing == [], f"{path.name}: flags without help: {missing}"


@pytest.mark.parametrize("path", [p for p in BENCH if p.name not in HELPERS],
                         ids=[p.name for p in BENCH if p.name not in HELPERS])
def test_every_benchmark_takes_out(path):
    flags = {c.args[0].value for c in _add_argument_calls(path)
             if c.args and isinstance(c.args[0], ast.Constant)}
    assert "--out" in flags, f"{path.name}: expected an --out flag for its JSON; got {sorted(flags)}"


def test_batch1_latency_benchmark_runs_and_writes_its_json(tmp_path):
    """A quick run at 2 qubits (it imports the timer and the qujax circuit of its sibling
    scripts, so this also catches them drifting apart)."""
    import json
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "batch1_latency.py"
    out = tmp_path / "b1.json"
    res = subprocess.run([sys.executable, str(script), "--quick", "--qubits", "2", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    point = json.loads(out.read_text())["results"]["2"]
    assert {"hqmed/train", "hqmed.torch/train", "hqmed/infer"} <= set(point["summary"])
    assert all(v["cpu"]["mean_ms"] > 0 for v in point["summary"].values())
    if "qujax/train" in point["summary"]:
        assert point["agreement_max_abs"] < 1e-5
