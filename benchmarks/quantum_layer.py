"""Benchmark: the LiteSpineNet quantum block (7 qubits, RY AngleEmbedding, 3 StronglyEntanglingLayers).

Forward + backward time per batch at batch sizes 1, 32 and 256, side by side in one run:

* hqmed           QuantumLayer(backend="torch"), fused exact simulator, autograd
* pl.default      PennyLane default.qubit, diff_method="backprop", batch broadcasting (TorchLayer)
* pl.lightning    PennyLane lightning.qubit, diff_method="adjoint" (TorchLayer)
* qujax, tensorcircuit (tensorcircuit-ng, pytorch backend), torchquantum (0.1.8) and qiskit
                  (qiskit-machine-learning EstimatorQNN + TorchConnector): the circuits of
                  benchmarks/rivals.py, each in a subprocess of the interpreter that has it
                  (--python NAME=PATH, default this one); a rival it lacks is skipped with the
                  reason, and a batch whose predicted step exceeds --rival-budget is skipped

plus batch-1 inference (eval mode, no_grad; hqmed uses its cached unitary), the torch ops per
training step (each is a kernel launch on a GPU) and a check that every method agrees with hqmed
(max |difference| of the outputs; the rivals compute in float32, qiskit in float64).
Prints a table of mean +- std over repeats with speed-up ratios and writes JSON to
benchmarks/results/quantum_layer.json. Timings are wall-clock on a possibly shared machine:
compare the ratios, which are measured in the same run under the same load.

    python benchmarks/quantum_layer.py            # full run (a few minutes with qiskit)
    python benchmarks/quantum_layer.py --quick    # a few seconds per method
    python benchmarks/quantum_layer.py --python tensorcircuit=/work/venv-tc/bin/python \\
        --python torchquantum=/work/venv-tq/bin/python --python qiskit=/work/venv-qiskit/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import rivals  # same folder: the rivals' circuits and their subprocess worker
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hqmed.quantum import QuantumLayer
from hqmed.utils.io import atomic_write_json
from hqmed.utils.runtime import environment_info

N_QUBITS, N_LAYERS = 7, 3
METHODS = {
    "hqmed": dict(backend="torch"),
    "pl.default": dict(backend="pennylane", device="default.qubit", diff_method="backprop"),
    "pl.lightning": dict(backend="pennylane", device="lightning.qubit", diff_method="adjoint"),
}


class OpCounter(TorchDispatchMode):
    """Counts ATen ops dispatched (views separately: they launch no kernel)."""

    def __init__(self):
        super().__init__()
        self.ops, self.views = Counter(), 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.is_view or func.overloadpacket.__name__ == "_unsafe_view":
            self.views += 1
        else:
            self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def count_ops(layer: QuantumLayer, batch: int) -> dict:
    x = torch.rand(batch, N_QUBITS, requires_grad=True)
    layer(x).sum().backward()  # warm caches
    with OpCounter() as fwd:
        out = layer(x)
    with OpCounter() as bwd:
        out.sum().backward()
    return {"forward": sum(fwd.ops.values()), "backward": sum(bwd.ops.values()),
            "views": fwd.views + bwd.views, "forward_by_op": dict(fwd.ops),
            "backward_by_op": dict(bwd.ops)}


def time_train_step(layer: QuantumLayer, batch: int, repeats: int, budget_s: float) -> dict:
    """Seconds per forward+backward, wall-clock and process CPU time, one sample per repeat
    (each the mean of an inner loop)."""
    x = torch.rand(batch, N_QUBITS) * 3.14
    x.requires_grad_(True)
    proj = torch.randn(N_QUBITS)

    def step():
        layer.weights.grad = None
        x.grad = None
        (layer(x) @ proj).sum().backward()

    return rivals.time_calls(step, repeats, budget_s)


def time_inference(layer: QuantumLayer, repeats: int, budget_s: float) -> dict:
    """Seconds per batch-1 no-grad call in eval mode, wall-clock and process CPU time."""
    x = torch.rand(1, N_QUBITS)
    layer.eval()
    with torch.no_grad():
        out = rivals.time_calls(lambda: layer(x), repeats, budget_s)
    layer.train()
    return out


def fmt(samples: list[float]) -> str:
    mean = statistics.fmean(samples) * 1e3
    std = statistics.stdev(samples) * 1e3 if len(samples) > 1 else 0.0
    return f"{mean:8.3f} ± {std:6.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run (few repeats, less time)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256],
                        help="batch sizes to time (default 1 32 256)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per point (default: chosen from the batch size)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch/OpenMP threads for every method (default 1: the ops are small "
                             "and one thread is robust on a shared machine; 0 = library default)")
    parser.add_argument("--rivals", nargs="+", default=list(rivals.RIVALS), choices=list(rivals.RIVALS),
                        help="rivals run in subprocesses (default: all; those not installed are "
                             "skipped with the reason)")
    parser.add_argument("--python", action="append", type=rivals.python_arg, default=[],
                        metavar="NAME=PATH",
                        help="interpreter that has rival NAME, e.g. tensorcircuit=/work/venv-tc/bin/python "
                             "(repeatable; default: this interpreter)")
    parser.add_argument("--rival-budget", type=float, default=None,
                        help="seconds one rival training step may take; a batch predicted slower "
                             "is skipped and listed (default 90, 5 with --quick)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quantum_layer.json"),
                        help="JSON results file (default benchmarks/results/quantum_layer.json)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # lightning reads it when imported
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 7)
    budget = 0.3 if args.quick else 2.0  # seconds per (method, batch) for the fast methods

    env = environment_info()
    print(f"# hqmed quantum layer benchmark: {N_QUBITS} qubits, {N_LAYERS} layers, RY embedding, "
          "StronglyEntanglingLayers, forward+backward per batch")
    print(f"# cpu: {env['cpu']} ({env['cpu_count']} cores, torch threads {torch.get_num_threads()})"
          f"  python {env['python']}  torch {env['packages']['torch']}  "
          f"pennylane {env['packages']['pennylane']}  hqmed {env['packages']['hqmed']}  "
          f"commit {str(env['git_commit'])[:10]}  load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))

    torch.manual_seed(0)
    layers = {}
    for name, kw in METHODS.items():
        try:
            layers[name] = QuantumLayer.from_config(N_QUBITS, N_LAYERS, rotation="Y", **kw)
        except ImportError as exc:
            print(f"# skipping {name}: {exc}")
    ref = layers["hqmed"]
    for layer in layers.values():
        layer.load_state_dict(ref.state_dict())

    # agreement check (the benchmark compares equal computations)
    x = torch.rand(4, N_QUBITS, dtype=torch.float64)
    agree = {}
    for name, layer in layers.items():
        agree[name] = float((layer.double()(x) - ref.double()(x)).abs().max())
        layer.float()
    print("# max |difference| to hqmed (float64): " +
          ", ".join(f"{k} {v:.1e}" for k, v in agree.items()))

    results: dict = {"train_step_s": {}, "inference_batch1_s": {}}
    for batch in args.batches:
        for name, layer in layers.items():
            slow = name == "pl.lightning"
            reps = min(repeats, 3) if slow else repeats
            results["train_step_s"].setdefault(name, {})[str(batch)] = time_train_step(
                layer, batch, reps, budget / (4 if slow else 1))
    for name, layer in layers.items():
        results["inference_batch1_s"][name] = time_inference(layer, repeats, budget / 4)
    skipped: dict = {}
    payload = json.dumps({"x": x.tolist(), "w": ref.weights.detach().double().tolist()})
    pythons = dict(args.python)
    point_budget = args.rival_budget or (5.0 if args.quick else 90.0)
    for name in args.rivals:
        python = pythons.get(name, sys.executable)
        if why := rivals.skip_reason(name, python):
            print(f"# skipping {name}: {why}")
            skipped[name] = why
            continue
        cmd = [python, rivals.__file__, "--method", name, "--batches", *map(str, args.batches),
               "--repeats", str(repeats), "--budget", str(budget), "--point-budget",
               str(point_budget), "--threads", str(args.threads or os.cpu_count())]
        got = rivals.run_json(cmd, args.threads or os.cpu_count(),
                              timeout=point_budget * (len(args.batches) + 2) * 2 + 300, stdin=payload)
        if "error" in got:
            print(f"# {name} failed: {got['error']}")
            skipped[name] = f"failed: {got['error']}"
            continue
        agree[name] = float(np.abs(np.asarray(got["outputs"]) - ref.double()(x).detach().numpy()).max())
        ref.float()
        note = "; ".join(f"batch {b} skipped: {why}" for b, why in got["skipped"].items())
        print(f"# {name} {got['version']} ({python}): max |difference| to hqmed {agree[name]:.1e}"
              + (f"; {note}" if note else ""))
        results["train_step_s"][name] = got["train_step_s"]
        results["inference_batch1_s"][name] = got["inference_batch1_s"]
        results.setdefault("versions", {})[name] = got["version"]
        skipped.update({f"{name} batch {b}": why for b, why in got["skipped"].items()})

    names = list(results["inference_batch1_s"])  # hqmed, PennyLane devices, rivals that ran
    others = [n for n in names if n != "hqmed"]
    ratios = {}
    for clock in ("wall", "cpu"):
        title = "wall-clock" if clock == "wall" else "process CPU time (robust to other load)"
        print(f"\nforward+backward per batch, {title}, mean ± std over repeats [ms]")
        print(f"{'batch':>5} | " + " | ".join(f"{n:>19}" for n in names) +
              " | speed-up vs fastest rival")
        for batch in args.batches:
            row = {n: results["train_step_s"][n].get(str(batch), {}).get(clock) for n in names}
            means = {n: statistics.fmean(v) for n, v in row.items() if v}
            best = min((n for n in others if n in means), key=means.get, default=None)
            ratio = means[best] / means["hqmed"] if best else float("nan")
            ratios.setdefault(clock, {})[str(batch)] = {
                "fastest_rival": best, "speedup": ratio,
                **{f"vs_{n}": means[n] / means["hqmed"] for n in others if n in means}}
            print(f"{batch:>5} | " + " | ".join(f"{fmt(row[n]) if row[n] else 'skip':>19}" for n in names)
                  + f" | {ratio:7.1f}x (vs {best})")
    inf = results["inference_batch1_s"]
    for clock in ("wall", "cpu"):
        print("infer | " + " | ".join(f"{fmt(inf[n][clock]):>19}" for n in names)
              + f"  (batch 1, eval, no_grad, {'wall-clock' if clock == 'wall' else 'process CPU time'})")

    ops = {b: count_ops(ref, b) for b in (1, 32)}
    print(f"\nops per training step (hqmed, batch 32): {ops[32]['forward']} forward + "
          f"{ops[32]['backward']} backward ATen kernels (+{ops[32]['views']} views); "
          f"the same at batch 1: {ops[1]['forward']} + {ops[1]['backward']}")
    res = ref.circuit_resources().to_dict()
    print(f"circuit: {res['qubits']} qubits, depth {res['depth']}, gates {res['gate_counts']}, "
          f"{res['trainable_parameters']} parameters, {res['shift_evaluations_weights']} "
          f"parameter-shift evaluations, state vector {res['state_vector_size']}")

    payload = {"benchmark": "quantum_layer", "n_qubits": N_QUBITS, "n_layers": N_LAYERS,
               "quick": args.quick, "environment": env, "load_average": os.getloadavg(),
               "agreement_max_abs": agree, "skipped": skipped,
               "results": results, "ratios": ratios, "ops_per_step": ops, "resources": res}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, payload)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
