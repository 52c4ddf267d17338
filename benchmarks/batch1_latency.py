"""Benchmark: batch-1 latency of the quantum layer against jitted JAX (qujax), interleaved.

Forward + backward, and no-grad inference, of AngleEmbedding(RY) + 3 StronglyEntanglingLayers +
<Z> on every wire at batch 1 (``--batch``), for n = 4, 7 and 10 qubits (``--qubits``), one thread:

* hqmed        QuantumLayer with simulator "auto" (the compiled kernel where it is available)
* hqmed.torch  the same layer held on the pure-torch path (``kernel_max_batch=0``): the fallback
* qujax        jax.jit of value_and_grad of the same circuit (the one of benchmarks/rivals.py),
               when installed

The methods take turns, one sample each per round (``--rounds``), so load from other processes hits
them alike; a sample is the mean over an inner loop. Prints mean +- std of wall-clock and process
CPU time (which other processes do not inflate) and, per round, the ratio qujax / hqmed (median
and interquartile range; issue 15 asks for >= 2). Writes JSON to --out.

    python benchmarks/batch1_latency.py            # ~1 min
    python benchmarks/batch1_latency.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np
import rivals  # same folder: the benchmarks' one timer and one qujax circuit
import torch

from hqmed.eval.cost import load_average
from hqmed.quantum import EngineOptions, QuantumLayer, kernel_status
from hqmed.quantum.scaling import layer_calls
from hqmed.utils.io import atomic_write_json
from hqmed.utils.runtime import environment_info

N_LAYERS = 3


def _methods(n: int, batch: int) -> dict:
    """name -> (train, inference) closures; qujax only when installed."""
    torch.manual_seed(0)
    out = {"hqmed": QuantumLayer(n, N_LAYERS, rotation="Y"),
           "hqmed.torch": QuantumLayer(n, N_LAYERS, rotation="Y", engine=EngineOptions(kernel_max_batch=0))}
    out["hqmed.torch"].load_state_dict(out["hqmed"].state_dict())
    calls = {name: layer_calls(layer, n, batch) for name, layer in out.items()}
    if rivals.skip_reason("qujax", sys.executable):  # not installed here
        return calls
    calls["qujax"] = rivals.qujax_calls(n, batch)
    # agreement on the same inputs and weights (float32)
    x = torch.rand(3, n) * 3
    w = out["hqmed"].weights.detach()
    got = rivals.qujax_calls(n, 3, x.numpy(), w.numpy())[1]()
    with torch.no_grad():
        ref = out["hqmed"].eval()(x).numpy()
    out["hqmed"].train()
    calls["agreement"] = float(np.abs(got - ref).max())
    return calls


def _summary(samples: list[float]) -> dict:
    return {"mean_ms": 1e3 * statistics.fmean(samples),
            "std_ms": 1e3 * statistics.stdev(samples) if len(samples) > 1 else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, nargs="+", default=[4, 7, 10], help="circuit sizes n")
    parser.add_argument("--batch", type=int, default=1, help="samples per call (default 1)")
    parser.add_argument("--rounds", type=int, default=15,
                        help="round-robin rounds: one sample of each method per round")
    parser.add_argument("--quick", action="store_true", help="3 rounds, short inner loops")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "batch1_latency.json"),
                        help="JSON results file (default benchmarks/results/batch1_latency.json)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    torch.set_num_threads(1)
    rounds, budget = (3, 0.02) if args.quick else (args.rounds, 0.1)
    env = environment_info()
    status = kernel_status()
    print(f"# batch-{args.batch} latency: AngleEmbedding(RY) + {N_LAYERS} StronglyEntanglingLayers, "
          f"float32, one thread, {rounds} interleaved rounds")
    print(f"# cpu: {env['cpu']} ({env['cpu_count']} cores)  torch {env['packages']['torch']}  "
          f"commit {str(env['git_commit'])[:10]}  load average {load_average()}")
    print(f"# compiled kernel: {'available' if status.available else 'NOT available: ' + status.reason}")
    results: dict = {}
    for n in args.qubits:
        calls = _methods(n, args.batch)
        agreement = calls.pop("agreement", None)
        samples = {f"{name}/{mode}": {"wall": [], "cpu": []} for name in calls for mode in ("train", "infer")}
        for _ in range(rounds):
            for name, (train, infer) in calls.items():
                for mode, fn in (("train", train), ("infer", infer)):
                    got = rivals.time_calls(fn, 1, budget)
                    for clock in ("wall", "cpu"):
                        samples[f"{name}/{mode}"][clock] += got[clock]
        point = {"agreement_max_abs": agreement, "samples_s": samples,
                 "summary": {k: {c: _summary(v[c]) for c in ("wall", "cpu")} for k, v in samples.items()}}
        print(f"\nn = {n}" + (f"  (qujax agrees with hqmed to {agreement:.1e})" if agreement is not None else ""))
        print(f"{'method':>18} | {'wall ms':>17} | {'process CPU ms':>17}")
        for key, summ in point["summary"].items():
            print(f"{key:>18} | {summ['wall']['mean_ms']:8.4f} ± {summ['wall']['std_ms']:6.4f} | "
                  f"{summ['cpu']['mean_ms']:8.4f} ± {summ['cpu']['std_ms']:6.4f}")
        if "qujax" in calls:
            point["qujax_over_hqmed"] = {}
            for mode in ("train", "infer"):
                for clock in ("wall", "cpu"):
                    r = np.asarray(samples[f"qujax/{mode}"][clock]) / np.asarray(samples[f"hqmed/{mode}"][clock])
                    q1, med, q3 = (float(v) for v in np.percentile(r, [25, 50, 75]))
                    point["qujax_over_hqmed"][f"{mode}/{clock}"] = {"median": med, "q1": q1, "q3": q3}
                    print(f"  qujax / hqmed, {mode:5} {clock:4}: {med:5.2f}x (IQR {q1:.2f}-{q3:.2f})")
        results[str(n)] = point
    payload = {"benchmark": "batch1_latency", "batch": args.batch, "n_layers": N_LAYERS,
               "rounds": rounds, "kernel": status.__dict__, "environment": env,
               "load_average_end": load_average(), "results": results}
    out = Path(args.out)
    atomic_write_json(out, payload)
    print(f"\n# load average at the end {load_average()}\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
