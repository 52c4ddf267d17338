"""Hybrid/classical time ratios: how much the quantum block costs in training and inference.

Pairs measured in one run with the rivals interleaved (A, B, B, A, ...) so that machine
drift and other processes hit both equally:

- ``litespinenet`` vs ``hq_litespinenet`` at 224x224: training step (forward + cross-entropy
  backward + Adam step) at batch 32, inference (eval mode, no_grad) at batch 1.
  Targets: ratio <= 1.05 for both. The same pair at the demo study's size (48x48; no target:
  the CNN is ~20x cheaper there and the circuit costs the same, so its share is larger), the
  range the demo report's cost rows are to be read against.
- ``lcnet_050_tanh4`` vs ``hq_lcnet_050`` at 28x28 with the small-input ``stride_list``:
  training step and inference at batch 64. Target: ratio <= 1.10.

Each repeat times a block of ``inner`` calls of each rival back to back (the order
alternates); the table shows the mean ± std (ddof=1) and the median of the per-repeat ratios hybrid/classical, and the
median times. The target is judged on the median ratio: on a shared machine the ratios have a
heavy right tail (a stall in either call), which the mean follows. "circuit ms" is the quantum
layers alone (forward, + backward when training) on the inputs they get inside the model, the
noise-free part of the overhead. A third pair, ``hq_litespinenet`` with ``quantum_block="none"`` (its exact
classical twin) against the same model with the circuit, isolates the circuit's own cost:
``litespinenet`` has a different, larger head (flatten 5488 -> 84) than ``hq_litespinenet``. The paper
measured 49.7x (training) and 25.8x (inference) with PennyLane simulators.

    python benchmarks/hybrid_overhead.py            # full run (a few minutes on 2 cores)
    python benchmarks/hybrid_overhead.py --quick    # smoke run
    python benchmarks/hybrid_overhead.py --profile  # also print where the hybrids spend time

Batch-1 inference cases also time both models as exported ONNX graphs (``hqmed export``'s
folding: the circuit as real matmuls) in onnxruntime, interleaved the same way, with as many
intra-op threads as torch uses; the "ort" columns. Skipped when onnxruntime is not installed.

Writes benchmarks/results/hybrid_overhead.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from hqmed.eval.cost import make_train_step, paired_timing, quantum_layers
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
    target: float | None
    kwargs: tuple = ()
    hybrid_kwargs: tuple = ()
    classical_kwargs: tuple = ()
    repeats: int = 10  # timed (classical, hybrid) pairs
    inner: int = 1  # calls per timed block (averages out short stalls on fast cases)


def cases() -> list[Case]:
    lc = (("stride_list", tuple(model_default_cfg("hq_lcnet_050")["small_input_stride_list"])),)
    twin = (("quantum_block", "none"),)
    return [
        Case("LiteSpineNet train step 224x224 b32", "litespinenet", "hq_litespinenet", "train",
             224, 32, 8, 1.05, repeats=10),
        Case("LiteSpineNet inference 224x224 b1", "litespinenet", "hq_litespinenet", "infer",
             224, 1, 8, 1.05, repeats=30, inner=10),
        # the same HQ network with the circuit removed (quantum_block="none"): isolates the
        # circuit's cost from the different head of the two paper models
        Case("HQ-LSN twin train step 224x224 b32", "hq_litespinenet", "hq_litespinenet", "train",
             224, 32, 8, None, classical_kwargs=twin, repeats=10),
        Case("HQ-LSN twin inference 224x224 b1", "hq_litespinenet", "hq_litespinenet", "infer",
             224, 1, 8, None, classical_kwargs=twin, repeats=30, inner=10),
        # the demo study's size (configs/demo.yaml: 48 px crops)
        Case("LiteSpineNet train step 48x48 b32 (demo)", "litespinenet", "hq_litespinenet",
             "train", 48, 32, 8, None, repeats=20),
        Case("LiteSpineNet inference 48x48 b1 (demo)", "litespinenet", "hq_litespinenet",
             "infer", 48, 1, 8, None, repeats=40, inner=10),
        Case("LCNet050 train step 28x28 b64", "lcnet_050_tanh4", "hq_lcnet_050", "train",
             28, 64, 7, 1.10, lc, repeats=10),
        Case("LCNet050 inference 28x28 b64", "lcnet_050_tanh4", "hq_lcnet_050", "infer",
             28, 64, 7, 1.10, lc, repeats=20, inner=3),
    ]


def _runner(case: Case, which: str, device: torch.device, extra: dict | None = None):
    """A zero-argument callable running one training step or one inference of one rival."""
    name = case.hybrid if which == "hybrid" else case.classical
    own = case.hybrid_kwargs if which == "hybrid" else case.classical_kwargs
    kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in case.kwargs + own}
    if which == "hybrid":
        kwargs.update(extra or {})
    set_seed(0)
    model = create_model(name, case.num_classes, in_chans=3, **kwargs).to(device)
    shape = (3, case.input_size, case.input_size)
    if case.mode == "train":
        return make_train_step(model, shape, case.batch_size, case.num_classes, device), model
    model.eval()
    x = torch.randn((case.batch_size, *shape), device=device)

    def infer():
        with torch.no_grad():
            return model(x)
    return infer, model


def _ort_runner(model: torch.nn.Module, case: Case):
    """The same inference through onnxruntime: the model folded and exported like ``hqmed export``."""
    import onnxruntime as ort  # optional extra hqmed[export]: only this column needs it

    from hqmed.export.fold import fold_for_export
    from hqmed.export.onnx import onnx_bytes

    x = torch.randn(case.batch_size, 3, case.input_size, case.input_size)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes(fold_for_export(model.cpu(), x), x),
                                   options, providers=["CPUExecutionProvider"])
    feed = {"image": x.numpy()}
    return lambda: session.run(None, feed)


def _ort_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def circuit_time(model: torch.nn.Module, fn, mode: str, device: torch.device,
                 repeats: int = 50) -> float | None:
    """Median seconds the quantum layers alone take in one call of ``fn`` (forward, plus
    backward in training), timed on the inputs they receive inside the model. Far less noisy
    than the difference of two whole-model timings."""
    layers = quantum_layers(model)
    if not layers:
        return None
    inputs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda _m, a, _o, n=n: inputs.setdefault(n, a[0].detach()))
             for n, m in layers]
    fn()
    for h in hooks:
        h.remove()
    grad = mode == "train"

    def run():
        for name, layer in layers:
            x = inputs[name].clone().requires_grad_(grad)
            with torch.set_grad_enabled(grad):
                out = layer(x)
                if grad:
                    out.sum().backward()
    run()
    return statistics.median(_time(run, device) for _ in range(repeats))


def _time(fn, device: torch.device, inner: int = 1) -> float:
    """Mean seconds per call over ``inner`` back-to-back calls."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / inner


def _ort_times(case: Case, repeats: int, warmup: int, hybrid_kwargs: dict | None) -> dict:
    """Median ms of the exported classical and hybrid graphs in onnxruntime (interleaved)."""
    cpu = torch.device("cpu")
    runs = {w: _ort_runner(_runner(case, w, cpu, hybrid_kwargs)[1], case) for w in ("classical", "hybrid")}
    for _ in range(warmup):
        runs["classical"](), runs["hybrid"]()
    times: dict[str, list[float]] = {"classical": [], "hybrid": []}
    for r in range(repeats):
        for w in (("classical", "hybrid") if r % 2 == 0 else ("hybrid", "classical")):
            times[w].append(_time(runs[w], cpu, case.inner))
    ratios = [h / c for h, c in zip(times["hybrid"], times["classical"])]
    return {"classical_ms_median": 1e3 * statistics.median(times["classical"]),
            "hybrid_ms_median": 1e3 * statistics.median(times["hybrid"]),
            "ratio_median": statistics.median(ratios)}


def run_case(case: Case, repeats: int, warmup: int, device: torch.device,
             hybrid_kwargs: dict | None = None, with_ort: bool = False) -> dict:
    """Time ``repeats`` (classical, hybrid) pairs, alternating which runs first; with
    ``with_ort`` also their exported ONNX graphs in onnxruntime."""
    fc, _ = _runner(case, "classical", device)
    fh, hybrid_model = _runner(case, "hybrid", device, hybrid_kwargs)
    timing = paired_timing(fc, fh, repeats, warmup, case.inner, device)  # hqmed cost's method
    tc = [ms / 1e3 for ms in timing["a_ms"]["all"]]
    th = [ms / 1e3 for ms in timing["b_ms"]["all"]]
    ratios = timing["ratios"]
    t_circuit = circuit_time(hybrid_model, fh, case.mode, device)
    ort_ms = _ort_times(case, repeats, warmup, hybrid_kwargs) if with_ort else None
    mean = statistics.fmean(ratios)
    std = statistics.stdev(ratios) if len(ratios) > 1 else float("nan")
    return {
        "case": case.name, "classical": case.classical, "hybrid": case.hybrid, "mode": case.mode,
        "classical_options": dict(case.kwargs + case.classical_kwargs),
        "hybrid_options": {**dict(case.kwargs + case.hybrid_kwargs), **(hybrid_kwargs or {})},
        "input_size": case.input_size, "batch_size": case.batch_size, "target": case.target,
        "classical_ms_median": 1e3 * statistics.median(tc),
        "hybrid_ms_median": 1e3 * statistics.median(th),
        "ratio_mean": mean, "ratio_std": std, "ratio_median": statistics.median(ratios),
        "ratio_of_medians": statistics.median(th) / statistics.median(tc),
        "ratios": ratios,
        "circuit_ms_median": None if t_circuit is None else 1e3 * t_circuit,
        "circuit_share_of_hybrid": None if t_circuit is None else t_circuit / statistics.median(th),
        "meets_target": (None if case.target is None
                         else bool(statistics.median(ratios) <= case.target)),
        "verdict": timing["verdict"], "ratio_q1": timing["ratio"]["q1"],
        "ratio_q3": timing["ratio"]["q3"], "load_average": timing["load_average_before"],
        "repeats": repeats, "inner": case.inner,
        "onnxruntime": ort_ms,
    }


def profile_case(case: Case, device: torch.device, rows: int = 12,
                 hybrid_kwargs: dict | None = None) -> str:
    """Top ops (self CPU time) of the hybrid model for this case."""
    from torch.profiler import ProfilerActivity, profile

    fh, _ = _runner(case, "hybrid", device, hybrid_kwargs)
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
    p.add_argument("--repeats", type=int, default=None,
                   help="timed pairs per case (default: per case, 10-40; --quick: 3)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:i]")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads (default: torch's; use 1 on a shared, busy CPU)")
    p.add_argument("--only", default=None, help="run only cases whose name contains this")
    p.add_argument("--profile", action="store_true", help="print the hybrids' top ops")
    p.add_argument("--quantum-block", default=None,
                   help="hybrid quantum_block option (default: the model's, i.e. 'quantum')")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results file (default {RESULTS})")
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = auto_device(args.device)
    env = environment_info()
    print(f"# hybrid_overhead  device={device}  cpu={env['cpu']}  cores={env['cpu_count']}  "
          f"torch_threads={env['torch_threads']}  cuda={env['cuda']}")
    print(f"# torch={env['packages']['torch']}  hqmed={env['packages']['hqmed']}  "
          f"commit={(env['git_commit'] or '?')[:10]}  python={env['python']}")
    hybrid_kwargs = {"quantum_block": args.quantum_block} if args.quantum_block else {}
    ort_ok = _ort_available()
    if not ort_ok:
        print("# onnxruntime not installed: no 'ort' columns (pip install 'hqmed[export]')")
    results = []
    header = (f"{'case':36s} {'classical ms':>12s} {'hybrid ms':>10s} "
              f"{'ratio mean ± std':>17s} {'median':>7s} {'n':>3s} {'circuit ms':>10s} "
              f"{'ort c ms':>8s} {'ort h ms':>8s}  target")
    print(header)
    print("-" * len(header))
    for case in cases():
        if args.only and args.only not in case.name:
            continue
        repeats = args.repeats or (3 if args.quick else case.repeats)
        with_ort = ort_ok and case.mode == "infer" and case.batch_size == 1
        res = run_case(case, repeats, warmup=1 if args.quick else 2, device=device,
                       hybrid_kwargs=hybrid_kwargs, with_ort=with_ort)
        ort_ms = res["onnxruntime"] or {}
        results.append(res)
        verdict = ("" if case.target is None else
                   f"<= {case.target:.2f} {'ok' if res['meets_target'] else 'MISS'}")
        print(f"{case.name:36s} {res['classical_ms_median']:12.2f} {res['hybrid_ms_median']:10.2f} "
              f"{res['ratio_mean']:8.3f} ± {res['ratio_std']:6.3f} {res['ratio_median']:7.3f} "
              f"{repeats:3d} {res['circuit_ms_median'] or float('nan'):10.3f} "
              f"{ort_ms.get('classical_ms_median', float('nan')):8.2f} "
              f"{ort_ms.get('hybrid_ms_median', float('nan')):8.2f}  {verdict}",
              flush=True)
        if args.profile:
            print(profile_case(case, device, hybrid_kwargs=hybrid_kwargs))
    atomic_write_json(args.out, {"environment": env, "device": str(device),
                                 "hybrid_options": hybrid_kwargs, "results": results})
    print(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
