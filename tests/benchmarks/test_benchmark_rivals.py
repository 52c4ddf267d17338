"""benchmarks/rivals.py, the benchmarks' rival harness, without any rival installed: --python
parsing, the skip reasons, the circuit's layout against PennyLane's own templates, and (where
qujax is installed, the bench extra) the worker's qujax outputs against PennyLane."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "rivals.py"
_spec = importlib.util.spec_from_file_location("bench_rivals", PATH)
rivals = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rivals)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench")
    p.add_argument("--python", action="append", type=rivals.python_arg, default=[])
    return p


def test_python_arg_parses_name_and_path():
    args = _parser().parse_args(["--python", "tensorcircuit=/opt/tc/bin/python",
                                 "--python", "qiskit=/x=y/python"])
    assert dict(args.python) == {"tensorcircuit": "/opt/tc/bin/python", "qiskit": "/x=y/python"}


@pytest.mark.parametrize("bad", ["tensorcircuit", "tc=/usr/bin/python", "qiskit=", "=/usr/bin/python"])
def test_python_arg_rejects_with_one_line(bad, capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--python", bad])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --python: expected NAME=PATH with NAME one of qujax, tensorcircuit" in err
    assert err.endswith(f"got {bad!r}")


def test_skip_reason_names_a_missing_interpreter(tmp_path):
    missing = str(tmp_path / "no-venv" / "bin" / "python")
    why = rivals.skip_reason("qiskit", missing)
    assert why == (f"--python qiskit={missing}: expected an executable Python interpreter; "
                   "got no such file")


def _wrapper(tmp_path) -> str:
    """Another interpreter path (as a venv's would be) that runs this Python."""
    path = tmp_path / "python"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("other", [False, True], ids=["this-interpreter", "subprocess-probe"])
def test_skip_reason_says_which_module_is_missing_where(tmp_path, monkeypatch, other):
    python = _wrapper(tmp_path) if other else sys.executable
    monkeypatch.setitem(rivals.RIVALS, "tensorcircuit", ("no_such_module_h15p", "x"))
    assert rivals.skip_reason("tensorcircuit", python) == (
        f"no_such_module_h15p not installed in {python} "
        "(point --python tensorcircuit=PATH at an interpreter that has it)")
    monkeypatch.setitem(rivals.RIVALS, "tensorcircuit", ("json", "x"))
    assert rivals.skip_reason("tensorcircuit", python) is None


@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_entangler_ranges_are_pennylanes(n):
    qml = pytest.importorskip("pennylane")  # the oracle (dev extra; hidden in runtime-deps-only runs)
    weights = np.zeros((rivals.N_LAYERS, n, 3))
    ops = qml.StronglyEntanglingLayers(weights, wires=range(n)).decomposition()
    cnots = [tuple(op.wires) for op in ops if op.name == "CNOT"]
    ours = [(i, (i + r) % n) for r in rivals.ranges(n) for i in range(n)]
    assert cnots == ours


@pytest.mark.parametrize("n", [1, 3, 4])
def test_z_signs_are_pennylanes_pauli_z_diagonals(n):
    qml = pytest.importorskip("pennylane")
    want = np.stack([np.diag(qml.matrix(qml.PauliZ(i), wire_order=range(n))).real
                     for i in range(n)], axis=1)
    np.testing.assert_array_equal(rivals.z_signs(n), want)


def test_time_calls_without_warmup_makes_one_call_per_sample():
    calls = []
    out = rivals.time_calls(lambda: calls.append(1), repeats=3, budget_s=0.0, warmup=0)
    assert len(calls) == 3 and len(out["wall"]) == len(out["cpu"]) == 3


def test_worker_env_makes_hqmed_and_the_benchmarks_importable():
    env = rivals.worker_env(1)
    parts = env["PYTHONPATH"].split(os.pathsep)
    assert parts[:2] == [str(rivals.SRC), str(PATH.parent)]
    assert env["OMP_NUM_THREADS"] == env["RAYON_NUM_THREADS"] == "1"


def test_qujax_worker_outputs_equal_pennylane():
    """The worker end to end (stdin JSON in, one JSON line out) in a subprocess, so JAX's threads
    never enter this test process (later tests fork)."""
    qml = pytest.importorskip("pennylane")
    if importlib.util.find_spec("qujax") is None:
        pytest.skip("qujax not installed (the bench extra)")
    n, rng = 4, np.random.default_rng(3)
    x, w = rng.uniform(0, np.pi, (2, n)), rng.uniform(0, 2 * np.pi, (rivals.N_LAYERS, n, 3))
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev)
    def circuit(xi):
        qml.AngleEmbedding(xi, wires=range(n), rotation="Y")
        qml.StronglyEntanglingLayers(w, wires=range(n))
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    want = np.array([circuit(xi) for xi in x])
    got = rivals.run_json([sys.executable, str(PATH), "--method", "qujax", "--batches", "1", "2",
                           "--repeats", "1", "--budget", "0.01"], threads=1, timeout=300,
                          stdin=json.dumps({"x": x.tolist(), "w": w.tolist()}))
    assert "error" not in got, got
    np.testing.assert_allclose(got["outputs"], want, atol=1e-5)
    assert set(got["train_step_s"]) == {"1", "2"} and got["skipped"] == {}
