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
* qujax, tensorcircuit, torchquantum, qiskit   the circuits of benchmarks/rivals.py (qujax and
                tensorcircuit-ng's pytorch backend, torchquantum 0.1.8, qiskit-machine-learning's
                EstimatorQNN), each in the interpreter that has it (--python NAME=PATH, default
                this one); a rival that is not installed there is skipped with the reason.
                Workers time with hqmed.quantum.scaling (from src/, put on PYTHONPATH), so the
                rival's interpreter needs hqmed's core dependencies too: torch, numpy, pyyaml

Before its sweep, each worker times a warm batch-1 step at the smallest n (the faster of two); a
sweep at batch B whose B-fold of that exceeds --point-budget is skipped whole. So qiskit, whose
parameter-shift gradients take about a second per sample, is measured at batch 1 only, and only
to small n (its later points are predicted over the budget and skipped, as for every method).

A point whose predicted time (the last point's growth extrapolated) exceeds --point-budget, or
that would not fit its sweep's share of --time-budget (default 540 s, so the default run ends
within 10 minutes however loaded the machine is; 60% of it goes to the first batch), is
skipped and listed. Memory is the worker process's resident high-water mark (getrusage) after
each point, minus its value after imports; the sweep goes upward in n, so it is that point's peak.
The fitted exponent alpha is the least-squares slope of log2(time) against n for n >= 10
(alpha = 1: time doubles per qubit). Output: a table, and JSON in benchmarks/results/.

    python benchmarks/qubit_scaling.py --max-qubits 16     # < 10 min on 2 cores
    python benchmarks/qubit_scaling.py --quick             # n = 4..10, a minute
    python benchmarks/qubit_scaling.py --max-qubits 16 --python tensorcircuit=/work/venv-tc/bin/python \\
        --python torchquantum=/work/venv-tq/bin/python --python qiskit=/work/venv-qiskit/bin/python
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import rivals  # same folder: the rivals' circuits, their interpreters and subprocess runner

N_LAYERS = 3
METHODS = ("hqmed", "pl.default", "pl.lightning", *rivals.RIVALS)


# ----------------------------------------------------------------------------- workers
def _hqmed_calls(method: str, n: int, batch: int):
    import torch

    from hqmed.quantum import QuantumLayer
    from hqmed.quantum.scaling import layer_calls

    kw = {"hqmed": {}, "pl.default": dict(backend="pennylane", device="default.qubit", diff_method="backprop"),
          "pl.lightning": dict(backend="pennylane", device="lightning.qubit", diff_method="adjoint")}[method]
    torch.manual_seed(0)
    return layer_calls(QuantumLayer.from_config(n, N_LAYERS, rotation="Y", **kw), n, batch)


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def worker(args) -> int:
    """One method, one batch, an upward sweep of n: prints one JSON line."""
    import torch

    from hqmed.quantum.scaling import fit_growth_exponent, peak_rss_bytes, sweep_qubits

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    qubits = [int(q) for q in args.qubits.split(",")]
    if args.worker in rivals.RIVALS:
        rivals.load(args.worker)  # import cost outside the measured points
        make = rivals.CALLS[args.worker]
    else:
        import pennylane  # noqa: F401

        make = lambda n, batch: _hqmed_calls(args.worker, n, batch)  # noqa: E731
    base = peak_rss_bytes()
    train, _ = make(qubits[0], 1)
    train()  # warm-up (compilation)
    guess = min(_seconds(train) for _ in range(2)) * args.batch
    if guess > args.point_budget:
        why = (f"predicted {guess:.0f} s per step (batch 1 at n={qubits[0]} times {args.batch}) "
               f"> budget {args.point_budget:g} s")
        none = fit_growth_exponent([], [])
        out = {"points": [{"n": n, "skipped": why} for n in qubits],
               "fit": {"train": none, "inference": none}}
    else:
        out = sweep_qubits(qubits, lambda n: make(n, args.batch), args.point_budget, args.repeats,
                           deadline=args.deadline)
    out["baseline_rss_bytes"] = base
    print(json.dumps(out))
    return 0


# ----------------------------------------------------------------------------- driver
def available(method: str, python: str) -> str | None:
    """None when the method can run here, else the reason it cannot."""
    if method in rivals.RIVALS:
        return rivals.skip_reason(method, python)
    mod = {"hqmed": "torch", "pl.default": "pennylane", "pl.lightning": "pennylane_lightning"}[method]
    import importlib.util

    return None if importlib.util.find_spec(mod) else f"{mod} not installed"


def run_worker(method: str, qubits: list[int], batch: int, args, deadline: float) -> dict:
    cmd = [dict(args.python).get(method, sys.executable), __file__, "--worker", method,
           "--qubits", ",".join(map(str, qubits)), "--batch", str(batch), "--point-budget",
           str(args.point_budget), "--repeats", str(args.repeats), "--threads", str(args.threads),
           "--deadline", str(deadline)]
    return rivals.run_json(cmd, args.threads,
                           timeout=max(deadline - time.time(), 0) + args.point_budget * 4 + 30)


def _cell(point: dict | None, key: str) -> str:
    if point is None:
        return "-"
    if "skipped" in point:
        return "skip"
    t = point[key]
    return f"{t['mean'] * 1e3:.3g}±{t['std'] * 1e3:.2g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser.add_argument("--python", action="append", type=rivals.python_arg, default=[],
                        metavar="NAME=PATH",
                        help="interpreter that has rival NAME, e.g. tensorcircuit=/work/venv-tc/bin/python "
                             "(repeatable; default: this interpreter)")
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
    pythons = dict(args.python)
    skipped = {m: why for m in args.methods if (why := available(m, pythons.get(m, sys.executable)))}
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
                others = [pts[m][mode]["mean"] for m in methods if m != "hqmed" and pts[m] and mode in pts[m]]
                ratio = (min(others) / ours[mode]["mean"]) if ours and mode in ours and others else math.nan
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
            if not done and len({p["skipped"] for p in r["points"]}) == 1:
                skips = [f"every n ({r['points'][0]['skipped']})"]
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
               "environment": env, "interpreters": {m: pythons.get(m, sys.executable) for m in methods},
               "skipped_methods": skipped, "results": results}
    atomic_write_json(out, payload)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
