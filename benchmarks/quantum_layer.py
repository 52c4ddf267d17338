"""Benchmark: the LiteSpineNet quantum block (7 qubits, RY AngleEmbedding, 3 StronglyEntanglingLayers).

Forward + backward time per batch at batch sizes 1, 32 and 256, side by side in one run:

* hqmed           QuantumLayer(backend="torch"), fused exact simulator, autograd
* pl.default      PennyLane default.qubit, diff_method="backprop", batch broadcasting (TorchLayer)
* pl.lightning    PennyLane lightning.qubit, diff_method="adjoint" (TorchLayer)
* qujax           pure JAX (qujax), jax.jit of vmap + value_and_grad, when installed (the
                  circuit of benchmarks/qubit_scaling.py; one XLA thread)

plus batch-1 inference (eval mode, no_grad; hqmed uses its cached unitary), the torch ops per
training step (each is a kernel launch on a GPU) and a check that all three agree numerically.
Prints a table of mean +- std over repeats with speed-up ratios and writes JSON to
benchmarks/results/quantum_layer.json. Timings are wall-clock on a possibly shared machine:
compare the ratios, which are measured in the same run under the same load.

    python benchmarks/quantum_layer.py            # full run (< 2 min)
    python benchmarks/quantum_layer.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

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

    t0 = time.perf_counter()
    step()
    step()
    one = max((time.perf_counter() - t0) / 2, 1e-6)
    inner = max(1, min(200, int(budget_s / repeats / one)))
    wall, cpu = [], []
    for _ in range(repeats):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(inner):
            step()
        wall.append((time.perf_counter() - t0) / inner)
        cpu.append((time.process_time() - c0) / inner)
    return {"wall": wall, "cpu": cpu}


def qujax_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("qujax") is not None


def time_calls(fn, repeats: int, budget_s: float) -> dict:
    """Like :func:`time_train_step` for a ready-made callable (wall and process CPU time)."""
    t0 = time.perf_counter()
    fn()
    fn()
    one = max((time.perf_counter() - t0) / 2, 1e-6)
    inner = max(1, min(200, int(budget_s / repeats / one)))
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(inner):
            fn()
        wall.append((time.perf_counter() - t0) / inner)
        cpu.append((time.process_time() - c0) / inner)
    return {"wall": wall, "cpu": cpu}


def time_inference(layer: QuantumLayer, repeats: int, budget_s: float) -> list[float]:
    x = torch.rand(1, N_QUBITS)
    layer.eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        layer(x)
        layer(x)
        one = max((time.perf_counter() - t0) / 2, 1e-6)
        inner = max(1, min(2000, int(budget_s / repeats / one)))
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                layer(x)
            samples.append((time.perf_counter() - t0) / inner)
    layer.train()
    return samples


def fmt(samples: list[float]) -> str:
    mean = statistics.fmean(samples) * 1e3
    std = statistics.stdev(samples) * 1e3 if len(samples) > 1 else 0.0
    return f"{mean:8.3f} ± {std:6.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (few repeats, less time)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256],
                        help="batch sizes to time (default 1 32 256)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per point (default: chosen from the batch size)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch/OpenMP threads for every method (default 1: the ops are small "
                             "and one thread is robust on a shared machine; 0 = library default)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quantum_layer.json"),
                        help="JSON results file (default benchmarks/results/quantum_layer.json)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # lightning reads it when imported
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                              f"intra_op_parallelism_threads={args.threads}")  # jax, when imported
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 7)
    budget = 0.3 if args.quick else 2.0  # seconds per (method, batch) for the fast methods

    env = environment_info()
    print(f"# hqmed quantum layer benchmark: {N_QUBITS} qubits, {N_LAYERS} layers, RY embedding, "
          "StronglyEntanglingLayers, forward+backward per batch")
    print(f"# cpu: {env['cpu']} ({env['cpu_count']} cores, torch threads {torch.get_num_threads()})"
          f"  python {env['python']}  torch {env['packages']['torch']}  "
          f"pennylane {env['packages']['pennylane']}  hqmed {env['packages']['hqmed']}  "
          f"commit {str(env['git_commit'])[:10]}")

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
    if qujax_available():
        import numpy as np
        from qubit_scaling import (
            _qujax_calls,  # same folder: the one qujax circuit of the benchmarks
        )

        xq = torch.rand(4, N_QUBITS, dtype=torch.float64)
        got = np.asarray(_qujax_calls(N_QUBITS, 4, xq.numpy(), ref.weights.detach().numpy())[1]())
        agree["qujax"] = float(np.abs(got - ref.double()(xq).detach().numpy()).max())
        ref.float()
        print(f"# qujax: max |difference| to hqmed {agree['qujax']:.1e} (float32)")
        for batch in args.batches:
            train, _ = _qujax_calls(N_QUBITS, batch)
            results["train_step_s"].setdefault("qujax", {})[str(batch)] = time_calls(train, repeats, budget)
        results["inference_batch1_s"]["qujax"] = time_calls(_qujax_calls(N_QUBITS, 1)[1], repeats, budget / 4)["wall"]
        layers["qujax"] = None  # a column of the tables below

    pl_names = [n for n in layers if n != "hqmed"]  # every rival (PennyLane devices, qujax)
    ratios = {}
    for clock in ("wall", "cpu"):
        title = "wall-clock" if clock == "wall" else "process CPU time (robust to other load)"
        print(f"\nforward+backward per batch, {title}, mean ± std over repeats [ms]")
        print(f"{'batch':>5} | " + " | ".join(f"{n:>19}" for n in layers) +
              " | speed-up vs fastest rival")
        for batch in args.batches:
            row = {n: results["train_step_s"][n][str(batch)][clock] for n in layers}
            means = {n: statistics.fmean(row[n]) for n in layers}
            best = min(pl_names, key=lambda n: means[n]) if pl_names else None
            ratio = means[best] / means["hqmed"] if best else float("nan")
            ratios.setdefault(clock, {})[str(batch)] = {
                "fastest_pennylane": best, "speedup": ratio,
                **{f"vs_{n}": means[n] / means["hqmed"] for n in pl_names}}
            print(f"{batch:>5} | " + " | ".join(f"{fmt(row[n]):>19}" for n in layers) +
                  f" | {ratio:7.1f}x (vs {best})")
    inf = results["inference_batch1_s"]
    print("infer | " + " | ".join(f"{fmt(inf[n]):>19}" for n in layers) + "  (batch 1, eval, no_grad)")

    ops = {b: count_ops(ref, b) for b in (1, 32)}
    print(f"\nops per training step (hqmed, batch 32): {ops[32]['forward']} forward + "
          f"{ops[32]['backward']} backward ATen kernels (+{ops[32]['views']} views); "
          f"the same at batch 1: {ops[1]['forward']} + {ops[1]['backward']}")
    res = ref.circuit_resources().to_dict()
    print(f"circuit: {res['qubits']} qubits, depth {res['depth']}, gates {res['gate_counts']}, "
          f"{res['trainable_parameters']} parameters, {res['shift_evaluations_weights']} "
          f"parameter-shift evaluations, state vector {res['state_vector_size']}")

    payload = {"benchmark": "quantum_layer", "n_qubits": N_QUBITS, "n_layers": N_LAYERS,
               "quick": args.quick, "environment": env, "agreement_max_abs": agree,
               "results": results, "ratios": ratios, "ops_per_step": ops, "resources": res}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, payload)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
