"""Hybrid/classical time ratios: how much the quantum block costs in training and inference.

Two pairs, measured in one run with the rivals interleaved (A, B, B, A, ...) so that machine
drift and other processes hit both equally:

- ``litespinenet`` vs ``hq_litespinenet`` at 224x224: training step (forward + cross-entropy
  backward + Adam step) at batch 32, inference (eval mode, no_grad) at batch 1.
  Targets: ratio <= 1.05 for both.
- ``lcnet_050_tanh4`` vs ``hq_lcnet_050`` at 28x28 with the small-input ``stride_list``:
  training step and inference at batch 64. Target: ratio <= 1.10.

For each repeat the ratio hybrid/classical of the mean time of ``inner`` calls is taken; the
table shows mean ± std (ddof=1) of the ratios over repeats and the median times. The paper
measured 49.7x (training) and 25.8x (inference) with PennyLane simulators.

    python benchmarks/hybrid_overhead.py            # full run (a few minutes on 2 cores)
    python benchmarks/hybrid_overhead.py --quick    # smoke run
    python benchmarks/hybrid_overhead.py --profile  # also print where the hybrids spend time

Writes benchmarks/results/hybrid_overhead.json.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from hqmed.eval.cost import make_train_step
from hqmed.models import create_model, model_default_cfg
from hqmed.utils.io import atomic_write_json
from hqmed.utils.runtime import auto_device, environment_info, set_seed

RESULTS = Path(__file__).resolve().parent / "results" / "hybrid_overhead.json"


@dataclass(frozen=True)
class Case:
    """One timed comparison: ``mode`` is "train" or "infer"."""

    name: str
    classical: str
    hybrid: str
    mode: str
    input_size: int
    batch_size: int
    num_classes: int
    target: float
    kwargs: tuple = ()


def cases() -> list[Case]:
    small = {"stride_list": list(model_default_cfg("hq_lcnet_050")["small_input_stride_list"])}
    lc = (("stride_list", tuple(small["stride_list"])),)
    return [
        Case("LiteSpineNet train step 224x224 b32", "litespinenet", "hq_litespinenet", "train",
             224, 32, 8, 1.05),
        Case("LiteSpineNet inference 224x224 b1", "litespinenet", "hq_litespinenet", "infer",
             224, 1, 8, 1.05),
        Case("LCNet050 train step 28x28 b64", "lcnet_050_tanh4", "hq_lcnet_050", "train",
             28, 64, 7, 1.10, lc),
        Case("LCNet050 inference 28x28 b64", "lcnet_050_tanh4", "hq_lcnet_050", "infer",
             28, 64, 7, 1.10, lc),
    ]


def _runner(name: str, case: Case, device: torch.device, hybrid_kwargs: dict | None = None):
    kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in case.kwargs}
    if name == case.hybrid:
        kwargs.update(hybrid_kwargs or {})
    set_seed(0)
    model = create_model(name, case.num_classes, in_chans=3, **kwargs).to(device)
    shape = (3, case.input_size, case.input_size)
    if case.mode == "train":
        return make_train_step(copy.deepcopy(model), shape, case.batch_size, case.num_classes, device)
    model.eval()
    x = torch.randn((case.batch_size, *shape), device=device)

    def infer():
        with torch.no_grad():
            return model(x)
    return infer


def _time(fn, inner: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / inner


def run_case(case: Case, repeats: int, inner: int, warmup: int, device: torch.device,
             hybrid_kwargs: dict | None = None) -> dict:
    fc = _runner(case.classical, case, device)
    fh = _runner(case.hybrid, case, device, hybrid_kwargs)
    for _ in range(warmup):
        fc(), fh()
    tc, th, ratios = [], [], []
    for r in range(repeats):
        order = (fc, fh) if r % 2 == 0 else (fh, fc)  # interleave to cancel drift
        times = {id(f): _time(f, inner, device) for f in order}
        tc.append(times[id(fc)])
        th.append(times[id(fh)])
        ratios.append(th[-1] / tc[-1])
    mean = statistics.fmean(ratios)
    std = statistics.stdev(ratios) if len(ratios) > 1 else float("nan")
    return {
        "case": case.name, "classical": case.classical, "hybrid": case.hybrid, "mode": case.mode,
        "input_size": case.input_size, "batch_size": case.batch_size, "target": case.target,
        "classical_ms_median": 1e3 * statistics.median(tc),
        "hybrid_ms_median": 1e3 * statistics.median(th),
        "ratio_mean": mean, "ratio_std": std, "ratios": ratios,
        "ratio_of_medians": statistics.median(th) / statistics.median(tc),
        "meets_target": bool(mean <= case.target), "repeats": repeats, "inner": inner,
    }


def profile_case(case: Case, device: torch.device, rows: int = 12,
                 hybrid_kwargs: dict | None = None) -> str:
    """Top ops (self CPU time) of the hybrid model for this case."""
    from torch.profiler import ProfilerActivity, profile

    fh = _runner(case.hybrid, case, device, hybrid_kwargs)
    fh()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(3):
            fh()
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few repeats (smoke test)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per case")
    p.add_argument("--device", default="auto")
    p.add_argument("--only", default=None, help="run only cases whose name contains this")
    p.add_argument("--profile", action="store_true", help="print the hybrids' top ops")
    p.add_argument("--quantum-block", default=None,
                   help="hybrid quantum_block option (default: the model's, i.e. 'quantum')")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    device = auto_device(args.device)
    env = environment_info()
    repeats = args.repeats or (3 if args.quick else 10)
    print(f"# hybrid_overhead  device={device}  cpu={env['cpu']}  cores={env['cpu_count']}  "
          f"torch_threads={env['torch_threads']}  cuda={env['cuda']}")
    print(f"# torch={env['packages']['torch']}  hqmed={env['packages']['hqmed']}  "
          f"commit={(env['git_commit'] or '?')[:10]}  python={env['python']}  repeats={repeats}")
    hybrid_kwargs = {"quantum_block": args.quantum_block} if args.quantum_block else {}
    results = []
    header = f"{'case':38s} {'classical ms':>12s} {'hybrid ms':>10s} {'ratio (mean ± std)':>20s} {'target':>7s}"
    print(header)
    print("-" * len(header))
    for case in cases():
        if args.only and args.only not in case.name:
            continue
        inner = 1 if (case.mode == "train" and case.input_size >= 224) else (2 if args.quick else 5)
        if case.mode == "infer" and case.batch_size == 1:
            inner = 5 if args.quick else 20
        res = run_case(case, repeats, inner, warmup=1 if args.quick else 2, device=device,
                       hybrid_kwargs=hybrid_kwargs)
        results.append(res)
        ok = "ok" if res["meets_target"] else "MISS"
        print(f"{case.name:38s} {res['classical_ms_median']:12.2f} {res['hybrid_ms_median']:10.2f} "
              f"{res['ratio_mean']:10.3f} ± {res['ratio_std']:.3f}  <= {case.target:.2f} {ok}",
              flush=True)
        if args.profile:
            print(profile_case(case, device, hybrid_kwargs=hybrid_kwargs))
    atomic_write_json(args.out, {"environment": env, "device": str(device),
                                 "hybrid_options": hybrid_kwargs, "results": results})
    print(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
