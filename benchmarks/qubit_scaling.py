"""Benchmark: simulator time and memory against the number of qubits, hqmed and its rivals.

Circuit: AngleEmbedding (RY) + 3 StronglyEntanglingLayers, <Z> on every wire, float32 (complex64)
everywhere. For n = 4, 6, ..., --max-qubits, at batch 32 (and batches 1 and 256 while they fit
the time budget), per method:

* train:     forward + backward of a fixed projection of the outputs (inputs and weights)
* inference: forward without gradients (eval mode)

Methods (each in its own subprocess, so imports and memory high-water marks never mix):

* hqmed         QuantumLayer(backend="torch"): fused path up to the crossover, then the
                state-vector path with the adjoint backward (hqmed.quantum.engine)
* pl.default    PennyLane default.qubit, diff_method="backprop" (TorchLayer, broadcasting)
* pl.lightning  PennyLane lightning.qubit, diff_method="adjoint" (TorchLayer)
* qujax         pure JAX (qujax 1.x), jax.jit of vmap(value_and_grad), when installed

A point whose predicted time (the last point's growth extrapolated) exceeds --point-budget, or
that would not fit its sweep's share of --time-budget (default 540 s, so the default run ends
within 10 minutes however loaded the machine is; 60% of it goes to the first batch), is
skipped and listed. Memory is the worker process's resident high-water mark (getrusage) after
each point, minus its value after imports; the sweep goes upward in n, so it is that point's peak.
The fitted exponent alpha is the least-squares slope of log2(time) against n for n >= 10
(alpha = 1: time doubles per qubit). Output: a table, and JSON in benchmarks/results/.

    python benchmarks/qubit_scaling.py --max-qubits 16     # < 10 min on 2 cores
    python benchmarks/qubit_scaling.py --quick             # n = 4..10, a minute
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

N_LAYERS = 3
METHODS = ("hqmed", "pl.default", "pl.lightning", "qujax")


# ----------------------------------------------------------------------------- workers
def _torch_calls(method: str, n: int, batch: int):
    import torch

    from hqmed.quantum import QuantumLayer
    from hqmed.quantum.scaling import layer_calls

    kw = {"hqmed": {}, "pl.default": dict(backend="pennylane", device="default.qubit", diff_method="backprop"),
          "pl.lightning": dict(backend="pennylane", device="lightning.qubit", diff_method="adjoint")}[method]
    torch.manual_seed(0)
    return layer_calls(QuantumLayer.from_config(n, N_LAYERS, rotation="Y", **kw), n, batch)


def _qujax_calls(n: int, batch: int, x=None, w=None):
    """(train, inference) closures of the circuit in qujax; ``x`` (B, n) and ``w`` (L, n, 3)
    radians (random when None); inference returns the (B, n) expectations."""
    import jax
    import jax.numpy as jnp
    import qujax

    # qujax angles are in half turns: RY(t) = qujax "Ry"(t / pi); Rot(phi, theta, omega) = RZ RY RZ
    # (parameters in hqmed's order: inputs, then weights (L, n, 3) flattened)
    gates, qubits, params = [], [], []
    for i in range(n):
        gates.append("Ry"), qubits.append([i]), params.append([i])
    p = n
    for layer in range(N_LAYERS):
        r = (layer % (n - 1)) + 1 if n > 1 else 0
        for i in range(n):
            for g in ("Rz", "Ry", "Rz"):
                gates.append(g), qubits.append([i]), params.append([p])
                p += 1
        for i in range(n if n > 1 else 0):
            gates.append("CX"), qubits.append([i, (i + r) % n]), params.append([])
    to_state = qujax.get_params_to_statetensor_func(gates, qubits, params, n)
    signs = jnp.asarray(1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1), jnp.float32)
    rng = np.random.default_rng(0)
    w = jnp.asarray(rng.uniform(0, 2 * np.pi, (p - n,)) if w is None else np.ravel(w), jnp.float32)
    x = jnp.asarray(rng.uniform(0, np.pi, (batch, n)) if x is None else x, jnp.float32)
    proj = jnp.asarray(rng.standard_normal(n), jnp.float32)

    def expvals(xi, wv):
        st = to_state(jnp.concatenate([xi, wv]) / jnp.pi)
        return (jnp.abs(st.reshape(-1)) ** 2) @ signs

    def loss(xb, wv):
        return jnp.sum(jax.vmap(expvals, (0, None))(xb, wv) @ proj)

    train = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    infer = jax.jit(jax.vmap(expvals, (0, None)))
    return (lambda: jax.block_until_ready(train(x, w)), lambda: jax.block_until_ready(infer(x, w)))


def worker(args) -> int:
    """One method, one batch, an upward sweep of n: prints one JSON line."""
    import torch

    from hqmed.quantum.scaling import peak_rss_bytes, sweep_qubits

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    qubits = [int(q) for q in args.qubits.split(",")]
    if args.worker == "qujax":
        import jax  # noqa: F401  (import cost outside the measured points)

        make = lambda n: _qujax_calls(n, args.batch)  # noqa: E731
    else:
        import pennylane  # noqa: F401

        make = lambda n: _torch_calls(args.worker, n, args.batch)  # noqa: E731
    base = peak_rss_bytes()
    out = sweep_qubits(qubits, make, args.point_budget, args.repeats, deadline=args.deadline)
    out["baseline_rss_bytes"] = base
    print(json.dumps(out))
    return 0


# ----------------------------------------------------------------------------- driver
def available(method: str) -> str | None:
    """None when the method can run here, else the reason it cannot."""
    mod = {"hqmed": "torch", "pl.default": "pennylane", "pl.lightning": "pennylane_lightning",
           "qujax": "qujax"}[method]
    import importlib.util

    return None if importlib.util.find_spec(mod) else f"{mod} not installed"


def run_worker(method: str, qubits: list[int], batch: int, args, deadline: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--qubits", ",".join(map(str, qubits)),
           "--batch", str(batch), "--point-budget", str(args.point_budget),
           "--repeats", str(args.repeats), "--threads", str(args.threads), "--deadline", str(deadline)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
           "JAX_PLATFORMS": "cpu"}
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=max(deadline - time.time(), 0) + args.point_budget * 4 + 30)
    except subprocess.TimeoutExpired:
        return {"error": "worker overran its share of the time budget"}
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def _cell(point: dict | None, key: str) -> str:
    if point is None:
        return "-"
    if "skipped" in point:
        return "skip"
    t = point[key]
    return f"{t['mean'] * 1e3:.3g}±{t['std'] * 1e3:.2g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-qubits", type=int, default=20, help="largest n of the sweep (even steps from 4)")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 1, 256],
                        help="batch sizes (the first is the main sweep)")
    parser.add_argument("--point-budget", type=float, default=15.0,
                        help="seconds one call may take; slower points are skipped and listed")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per point (after 1 warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="threads per method (default 1)")
    parser.add_argument("--time-budget", type=float, default=540.0,
                        help="seconds for the whole run, shared out among the (method, batch) "
                             "sweeps; points that would not fit are skipped and listed (default 540)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                        help="methods to run (default: all; rivals that are not installed are skipped)")
    parser.add_argument("--quick", action="store_true", help="n = 4..10, one repeat (smoke run)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "qubit_scaling.json"),
                        help="JSON output path")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--qubits", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.max_qubits, args.repeats = min(args.max_qubits, 10), 1

    from hqmed.utils.io import atomic_write_json
    from hqmed.utils.runtime import environment_info

    env = environment_info()
    load = os.getloadavg()
    qubits = list(range(4, args.max_qubits + 1, 2))
    print(f"# qubit scaling: AngleEmbedding(RY) + {N_LAYERS} StronglyEntanglingLayers, float32, "
          f"n = {qubits[0]}..{qubits[-1]}, {args.threads} thread(s) per method, one subprocess per method")
    print(f"# cpu: {env['cpu']} ({env['cpu_count']} cores)  python {env['python']}  torch "
          f"{env['packages']['torch']}  pennylane {env['packages']['pennylane']}  commit "
          f"{str(env['git_commit'])[:10]}  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    skipped = {m: why for m in args.methods if (why := available(m))}
    for m, why in skipped.items():
        print(f"# skipping {m}: {why}")
    methods = [m for m in args.methods if m not in skipped]
    results: dict = {}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    # interleaved: every method at one batch before the next batch, so load drifts hit all alike
    # the main batch (the first) gets 60% of the budget, the other batches share the rest;
    # within a batch every method gets an equal share, unused time passes on to later sweeps
    start = time.time()
    main = 0.6 if len(args.batches) > 1 else 1.0
    jobs = [(batch, m) for batch in args.batches for m in methods]
    for i, (batch, m) in enumerate(jobs):
        first = i < len(methods)
        stage_end = start + args.time_budget * (main if first else 1.0)
        left_jobs = (len(methods) if first else len(jobs)) - i
        share = max(stage_end - time.time(), 0) / left_jobs
        results.setdefault(m, {})[str(batch)] = run_worker(m, qubits, batch, args, time.time() + share)
        print(f"# {m} batch {batch}: done at {time.perf_counter() - t_start:.0f} s", flush=True)
        atomic_write_json(out, {"benchmark": "qubit_scaling", "partial": True, "results": results})
    for batch in args.batches:
        for mode in ("train_s", "inference_s"):
            title = "forward+backward" if mode == "train_s" else "inference (no grad)"
            print(f"\n{title}, batch {batch}: mean±std ms per call")
            print(f"{'n':>3} | " + " | ".join(f"{m:>16}" for m in methods) + " | hqmed speed-up vs best rival")
            for n in qubits:
                pts = {m: next((p for p in results[m][str(batch)].get("points", []) if p["n"] == n), None)
                       for m in methods}
                ours = pts.get("hqmed")
                rivals = [pts[m][mode]["mean"] for m in methods if m != "hqmed" and pts[m] and mode in pts[m]]
                ratio = (min(rivals) / ours[mode]["mean"]) if ours and mode in ours and rivals else math.nan
                print(f"{n:>3} | " + " | ".join(f"{_cell(pts[m], mode):>16}" for m in methods) +
                      f" | {ratio:6.2f}x")
    print("\nfitted growth time ∝ 2^(alpha n) (n >= 10), train / inference, and peak memory at the largest n:")
    for batch in args.batches:
        for m in methods:
            r = results[m][str(batch)]
            if "error" in r:
                print(f"  batch {batch:>3} {m:>13}: failed: {r['error']}")
                continue
            done = [p for p in r["points"] if "skipped" not in p]
            skips = [f"n={p['n']} ({p['skipped']})" for p in r["points"] if "skipped" in p]
            fit = r["fit"]
            fmt = lambda a: "n/a" if a is None else f"{a:.2f}"  # noqa: E731
            peak = (done[-1]["peak_rss_bytes"] - r["baseline_rss_bytes"]) / 2**20 if done else math.nan
            print(f"  batch {batch:>3} {m:>13}: alpha {fmt(fit['train']['alpha'])} / "
                  f"{fmt(fit['inference']['alpha'])}; peak +{peak:.0f} MiB at n={done[-1]['n'] if done else '-'}"
                  + (f"; skipped {', '.join(skips)}" if skips else ""))
    elapsed = time.perf_counter() - t_start
    print(f"\n# total {elapsed:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    payload = {"benchmark": "qubit_scaling", "n_layers": N_LAYERS, "qubits": qubits,
               "batches": args.batches, "threads": args.threads, "point_budget_s": args.point_budget,
               "load_average_start": load, "load_average_end": os.getloadavg(), "elapsed_s": elapsed,
               "environment": env, "skipped_methods": skipped, "results": results}
    atomic_write_json(out, payload)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
