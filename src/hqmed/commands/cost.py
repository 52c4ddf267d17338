"""``hqmed cost MODEL``: the LiteSpineNet paper's Table 8 for a registered model.

    hqmed cost litespinenet
    hqmed cost hq_litespinenet --n-train-samples 27320 --json
    hqmed cost hq_lcnet_050 --input-size 28 28 --in-chans 3 --num-classes 2 \
        -o "stride_list=[1,1,2,2,2]" --batch-size 64
    hqmed cost hq_litespinenet --qubits 4:20:2 --plot cost_curve.png   # simulator cost vs qubits
    hqmed cost hq_litespinenet --vs litespinenet --input-size 48 48 --in-chans 1   # B / A ratio

Timings are measured on this machine with torch pinned to --threads (default 1), after warm-up,
as medians with their interquartile range, and the load average is printed beside them. Two
models are compared only by timing them interleaved (``--vs``, as benchmarks/hybrid_overhead.py):
the ratio B / A per pair, median and IQR, "no measurable difference" when the IQR contains 1.
The QPU column is an estimate from stated gate times and shots (see docs/eval.md), not a
measurement.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from hqmed.commands._common import parse_model_options
from hqmed.eval.cost import QPUTiming, compare_timing, describe_ratio, measure_cost
from hqmed.eval.cost_curve import model_quantum_layer, qubit_cost_curve
from hqmed.models import create_model, model_default_cfg
from hqmed.quantum.scaling import parse_qubit_range
from hqmed.report.plots import cost_curve
from hqmed.utils.io import atomic_write_bytes, dumps_json
from hqmed.utils.runtime import auto_device

HELP = "parameters, FLOPs, latency, training time, memory and quantum resources of a model (Table 8)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name (see `hqmed models`)")
    parser.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="input height and width (default: the model's default_cfg)")
    parser.add_argument("--in-chans", type=int, default=3, help="input channels (default 3)")
    parser.add_argument("--num-classes", type=int, default=None,
                        help="number of classes (default: the model's default_cfg)")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model option as YAML, e.g. -o bridge=linear -o stride_list=[1,1,2,2,2]")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (default 32)")
    parser.add_argument("--repeats", type=int, default=20,
                        help="timed repeats for inference latency (default 20)")
    parser.add_argument("--train-repeats", type=int, default=5,
                        help="timed repeats of the training step (default 5)")
    parser.add_argument("--n-train-samples", type=int, default=None,
                        help="training-set size, to turn the step time into an epoch time")
    parser.add_argument("--no-timing", action="store_true",
                        help="skip latency and training-step timings (counts only)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads the timings are pinned to (default 1)")
    parser.add_argument("--vs", default=None, metavar="MODEL_A",
                        help="also time MODEL (as B) against this registered model (A), "
                             "interleaved, and print the ratio B / A with its spread")
    parser.add_argument("--shots", type=int, default=1000, help="QPU estimate: shots per circuit")
    parser.add_argument("--gate-1q-ns", type=float, default=50.0, help="QPU estimate: 1-qubit gate")
    parser.add_argument("--gate-2q-ns", type=float, default=300.0, help="QPU estimate: 2-qubit gate")
    parser.add_argument("--readout-ns", type=float, default=1000.0, help="QPU estimate: readout")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--qubits", default=None, metavar="START:STOP[:STEP]",
                        help="instead of Table 8: the model's quantum layer resized to each n "
                             "(e.g. 4:20:2), simulated time and memory on this machine with the "
                             "fitted 2^(alpha n) growth, and the QPU estimate per n")
    parser.add_argument("--qubits-batch", type=int, default=32,
                        help="--qubits: batch size of the timed calls (default 32)")
    parser.add_argument("--qubits-budget", type=float, default=20.0,
                        help="--qubits: seconds one call may take; larger n are skipped (default 20)")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help="--qubits: also write the curve as a PNG figure")


def _fmt_int(v: Any) -> str:
    return "-" if v is None else f"{int(v):,}"


def _mb(v: Any) -> str:
    return "-" if v is None else f"{v / 2**20:.1f} MiB"


def format_cost_table(cost: dict, name: str) -> str:
    """Table-8-style text: metric | measured here | QPU estimate | description."""
    q = cost["quantum"]

    def qjoin(key: str) -> str:  # a hqmed.quantum.CircuitResources field of every layer
        return " + ".join(_fmt_int(layer["resources"][key]) for layer in q) if q else "N/A"

    def qval(key: str) -> str:
        return " + ".join(_fmt_int(layer[key]) for layer in q) if q else "N/A"

    lat = cost.get("latency_ms")
    step = cost.get("train_step_ms")
    qpu_ms = cost.get("qpu_inference_ms_per_sample")
    mem = cost["memory"]
    h, w = cost["input_shape"][1:]
    rows = [
        ("Qubits used", qjoin("qubits"), qjoin("qubits") if q else "N/A", "qubits per circuit"),
        ("Circuit depth", qjoin("depth"), qjoin("depth") if q else "N/A", "as reported by the layer"),
        ("1-qubit gates", qjoin("one_qubit_gates"), qjoin("one_qubit_gates") if q else "N/A", "encoding + rotations"),
        ("2-qubit gates", qjoin("two_qubit_gates"), qjoin("two_qubit_gates") if q else "N/A", "entangling gates"),
        ("Circuit parameters", qjoin("trainable_parameters"), qjoin("trainable_parameters") if q else "N/A",
         "trainable circuit weights"),
        ("Gradient evals.", qjoin("shift_evaluations_weights"), qjoin("shift_evaluations_weights") if q else "N/A",
         "parameter shift: 2 per parameter (backprop here)"),
        ("Circuit evals./sample", qval("evaluations_per_sample"),
         qval("evaluations_per_sample") if q else "N/A", "circuit runs per input image"),
        ("State-vector size", qjoin("state_vector_size"), "N/A", "amplitudes, simulation only"),
        ("Trainable params.", _fmt_int(cost["params"]), _fmt_int(cost["params"]) if q else "N/A",
         "total learnable parameters"),
        ("FLOPs (torch)", _fmt_int(cost["flops_classical"]), "N/A",
         "FlopCounterMode, 1 sample, outside the circuit"),
        ("FLOPs (circuit est.)", _fmt_int(cost["flops_circuit_estimate"]) if q else "N/A", "N/A",
         "state-vector simulation, analytic"),
        ("Inference (1 sample)", f"{lat['median']:.2f} ms" if lat else "-",
         f"~{qpu_ms:.1f} ms (est.)" if qpu_ms is not None else "N/A", f"median, {h}x{w} input"),
        (f"Train step (batch {cost['train_batch_size']})",
         f"{step['median']:.1f} ms" if step else "-", "N/A", "forward + backward + Adam"),
        ("Train time / epoch",
         f"{cost['epoch_seconds']:.1f} s" if cost.get("epoch_seconds") else "-", "N/A",
         f"{cost.get('steps_per_epoch') or '-'} steps"),
        ("Activations (train)", _mb(mem["activation_bytes"]), "N/A", "saved for backward"),
        ("Train memory est.", _mb(mem["train_estimate_bytes"]), "N/A",
         "weights+grads+Adam+activations"),
        ("Peak memory", _mb(mem["cuda_peak_bytes"] or mem["process_peak_rss_bytes"]), "N/A",
         "CUDA allocator peak" if mem["cuda_peak_bytes"] else "process peak RSS"),
        ("Backend", cost["device"], "QPU" if q else "N/A", "execution environment"),
    ]
    header = ("Metric", f"{name} (here)", "QPU estimated", "Description")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    lines = ["  ".join(str(c).ljust(wd) for c, wd in zip(header, widths))]
    lines.append("  ".join("-" * wd for wd in widths))
    lines += ["  ".join(str(c).ljust(wd) for c, wd in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def format_curve_table(curve: dict) -> str:
    """Text table of :func:`hqmed.eval.cost_curve.qubit_cost_curve`: one row per n."""
    sim = {p["n"]: p for p in curve["simulated"]["points"]}
    base = curve["simulated"]["baseline_rss_bytes"]
    lines = [f"{'n':>3}  {'train ms':>10}  {'infer ms':>10}  {'peak MiB':>9}  {'depth':>5}  "
             f"{'QPU s/eval (est.)':>17}"]
    for hw in curve["hardware"]:
        p = sim.get(hw["n"], {})
        if "skipped" in p:
            t = i = "skipped"
            mem = "-"
        else:
            t, i = (f"{p[k]['mean'] * 1e3:.3g}" for k in ("train_s", "inference_s"))
            mem = f"{(p['peak_rss_bytes'] - base) / 2**20:.0f}"
        lines.append(f"{hw['n']:>3}  {t:>10}  {i:>10}  {mem:>9}  {hw['depth']:>5}  "
                     f"{hw['seconds_per_evaluation']:>17.4g}")
    fits = curve["simulated"]["fit"]
    fmt = lambda a: "n/a" if a is None else f"{a:.2f}"  # noqa: E731
    lines.append(f"fit time = c 2^(alpha n) (n >= 10 where measured): alpha {fmt(fits['train']['alpha'])} "
                 f"(train), {fmt(fits['inference']['alpha'])} (inference); batch {curve['batch']}; "
                 "QPU column is arithmetic from gate times and shots, not a measurement")
    skipped = [f"n={p['n']}: {p['skipped']}" for p in curve["simulated"]["points"] if "skipped" in p]
    return "\n".join(lines + ([f"skipped {'; '.join(skipped)}"] if skipped else []))


def run_curve(args: argparse.Namespace, model, qpu) -> int:
    qubits = parse_qubit_range(args.qubits)
    layer = model_quantum_layer(model, args.model)
    curve = qubit_cost_curve(layer, qubits, args.qubits_batch, args.qubits_budget, qpu)
    curve["model_name"] = args.model
    if args.plot:
        atomic_write_bytes(Path(args.plot), cost_curve(curve))
    print(dumps_json(curve, indent=2) if args.json else format_curve_table(curve))
    return 0


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    cfg = model_default_cfg(args.model)
    h, w = args.input_size or tuple(cfg.get("input_size", (3, 224, 224)))[1:]
    device = auto_device(args.device)
    model = create_model(args.model, args.num_classes, in_chans=args.in_chans,
                         **parse_model_options(args.option)).to(device)
    qpu = QPUTiming(gate_1q_ns=args.gate_1q_ns, gate_2q_ns=args.gate_2q_ns,
                    readout_ns=args.readout_ns, shots=args.shots)
    if args.qubits is not None:
        return run_curve(args, model, qpu)
    cost = measure_cost(model, (args.in_chans, h, w), device=device,
                        train_batch_size=args.batch_size, repeats=args.repeats,
                        train_repeats=args.train_repeats, n_train_samples=args.n_train_samples,
                        qpu=qpu, timing=not args.no_timing)
    cost["model_name"] = args.model
    if args.vs is not None:
        other = create_model(args.vs, args.num_classes, in_chans=args.in_chans,
                             **parse_model_options(args.option)).to(device)
        cost["compared_with"] = {"a": args.vs, "b": args.model, **compare_timing(
            other, model, (args.in_chans, h, w), device=device, train_batch_size=args.batch_size,
            repeats=args.repeats, train_repeats=args.train_repeats, threads=args.threads)}
    if args.json:
        print(dumps_json(cost, indent=2))
        return 0
    print(format_cost_table(cost, args.model))
    print(f"timed with {cost.get('timing_threads', args.threads)} torch thread(s); load average "
          f"(1, 5, 15 min) {cost.get('timing_load_average') or 'unknown'}")
    if args.vs is not None:
        print(format_ratio(cost["compared_with"]))
    return 0


def format_ratio(cmp: dict) -> str:
    """The interleaved B / A timing of ``hqmed cost B --vs A`` as text."""
    lines = [f"B = {cmp['b']} against A = {cmp['a']}, timed interleaved "
             f"({cmp['threads']} thread(s), load average {cmp['inference']['load_average_before']}):"]
    for key, what in (("inference", "inference, batch 1"),
                      ("train_step", f"training step, batch {cmp['train_batch_size']}")):
        t = cmp[key]
        lines.append(f"  {what}: A {t['a_ms']['median']:.2f} ms, B {t['b_ms']['median']:.2f} ms; "
                     f"{describe_ratio(t)}")
    return "\n".join(lines)
