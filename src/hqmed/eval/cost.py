"""Computational cost of a model (LiteSpineNet paper, Table 8).

:func:`measure_cost` returns, for one model and one input shape:

- ``params``: trainable parameters (sum of ``numel`` of parameters with ``requires_grad``).
- ``flops``: forward FLOPs for one sample counted by ``torch.utils.flop_counter.FlopCounterMode``
  (2 FLOPs per multiply-accumulate of matmul/conv/bmm ops; elementwise ops, activations, norms
  and pooling are not counted). Ops inside quantum layers are split out
  (``flops_quantum_counted``): a simulator's complex matmuls are counted as if real (about 4x
  too few) and its elementwise gate updates not at all, so the circuit's own analytic estimate
  (:func:`circuit_flops`) is reported next to it and used in ``flops_total_estimate``. The
  compiled circuit kernel (:mod:`hqmed.quantum.kernel`) runs outside torch, so the counter sees
  none of its work (``flops_quantum_counted`` is 0 where it runs): ``flops_classical`` and
  ``flops_total_estimate`` are the figures that do not depend on which simulator ran.
- ``latency_ms``: inference at batch 1 (eval mode, ``torch.no_grad``), median and IQR over
  ``repeats`` after ``warmup`` runs.
- ``train_step_ms``: one forward + cross-entropy backward + Adam step at ``train_batch_size``
  (on a copy of the model), median and IQR; ``epoch_seconds`` = median step x steps per epoch
  when ``n_train_samples`` or ``steps_per_epoch`` is given.
- ``memory``: on CUDA ``torch.cuda.max_memory_allocated`` during a training step; everywhere the
  bytes of parameters, gradients and Adam state plus the activations autograd saves for the
  backward pass (counted exactly with ``saved_tensors_hooks``), and the process's peak RSS
  (``resource.getrusage``; a high-water mark of the whole process, not of this model).
  ``tracemalloc`` is not used: it does not see torch's C++ allocations.
- ``quantum``: for each quantum layer (any submodule with a ``circuit_resources()`` method
  returning :class:`hqmed.quantum.CircuitResources`, whose field names are used unchanged),
  its resources, how many circuit evaluations one sample needs (counted with a forward hook:
  elements of the input's leading dims / batch), parameter-shift gradient evaluations
  (2 per circuit parameter) and a QPU latency *estimate* from :class:`QPUTiming`.

The QPU estimate is arithmetic, not a measurement: one shot of a circuit takes
``n_1q * gate_1q_ns + n_2q * gate_2q_ns + readout_ns`` (gates run one after another: an upper
bound, real devices parallelise gates on different qubits), one evaluation takes ``shots`` shots,
and a sample needs ``evaluations_per_sample`` evaluations. Queueing, compilation and
classical-quantum transfer are excluded.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hqmed.errors import ShapeError
from hqmed.quantum.resources import CircuitResources
from hqmed.utils.runtime import torch_threads

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- parameters, FLOPs
def count_trainable_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def quantum_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every submodule with a callable ``circuit_resources``;
    nested quantum layers inside a quantum layer are not listed twice."""
    found: list[tuple[str, nn.Module]] = []
    for name, mod in model.named_modules():
        if callable(getattr(mod, "circuit_resources", None)):
            if not any(name.startswith(f"{outer}.") for outer, _ in found if outer):
                found.append((name, mod))
    return found


def _check_input_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ShapeError(f"input_shape: expected (C, H, W) of one sample; got {tuple(input_shape)}")
    return shape


def _device_of(model: nn.Module, device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def count_flops(model: nn.Module, input_shape: Sequence[int], device=None) -> dict[str, int]:
    """Forward FLOPs of one sample: ``{"total", "quantum_counted", "classical"}``."""
    shape = _check_input_shape(input_shape)
    dev = _device_of(model, device)

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros((1, *shape), device=dev))
    finally:
        model.train(was_training)
    per_module = counter.get_flop_counts()
    root = type(model).__name__
    q = 0
    for name, _ in quantum_layers(model):
        key = f"{root}.{name}" if name else root
        q += int(sum(per_module.get(key, {}).values()))
    total = int(counter.get_total_flops())
    return {"total": total, "quantum_counted": q, "classical": total - q}


# --------------------------------------------------------------------------- quantum resources
def circuit_flops(n_qubits: int, n_1q: int, n_2q: int) -> int:
    """Real FLOPs of one state-vector evaluation of a circuit (analytic estimate).

    A k-qubit gate multiplies 2^(n-k) sub-vectors by a 2^k x 2^k complex matrix: 2^n * 2^k
    complex multiply-adds = 8 * 2^n * 2^k real FLOPs. Reading out n PauliZ expectations costs
    about 2^n * (3 + n) (|amplitude|^2 and signed sums).
    """
    dim = 2**n_qubits
    return int(dim * (16 * n_1q + 32 * n_2q + 3 + n_qubits))


@dataclass
class QPUTiming:
    """Stated hardware timings for the QPU latency estimate (typical superconducting values)."""

    gate_1q_ns: float = 50.0  # one single-qubit gate
    gate_2q_ns: float = 300.0  # one two-qubit gate
    readout_ns: float = 1000.0  # measuring all qubits (in parallel)
    shots: int = 1000  # repetitions per expectation-value estimate

    def circuit_seconds(self, n_1q: int, n_2q: int) -> float:
        """Seconds for one circuit evaluation (all shots, gates in sequence)."""
        shot_ns = n_1q * self.gate_1q_ns + n_2q * self.gate_2q_ns + self.readout_ns
        return self.shots * shot_ns * 1e-9


def circuit_evaluations(model: nn.Module, input_shape: Sequence[int], device=None) -> dict[str, float]:
    """Circuit evaluations per sample for each quantum layer, counted with forward hooks on a
    batch of 2 (input (..., n) -> prod of leading dims / batch)."""
    shape = _check_input_shape(input_shape)
    dev = _device_of(model, device)
    counts: dict[str, float] = {}
    handles = []
    batch = 2
    for name, mod in quantum_layers(model):
        def hook(_m, args, _out, name=name):
            x = args[0]
            counts[name] = counts.get(name, 0.0) + math.prod(x.shape[:-1]) / batch
        handles.append(mod.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((batch, *shape), device=dev))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return counts


def quantum_cost(model: nn.Module, input_shape: Sequence[int], qpu: QPUTiming | None = None,
                 device=None) -> list[dict]:
    """Per quantum layer: resources, evaluations per sample, FLOP and QPU-latency estimates."""
    qpu = qpu or QPUTiming()
    evals = circuit_evaluations(model, input_shape, device) if quantum_layers(model) else {}
    out = []
    for name, mod in quantum_layers(model):
        res = mod.circuit_resources()
        if not isinstance(res, CircuitResources):
            raise TypeError(f"{name}.circuit_resources(): expected hqmed.quantum.CircuitResources; "
                            f"got {type(res).__name__}")
        per_sample = float(evals.get(name, 0.0))
        t_eval = qpu.circuit_seconds(res.one_qubit_gates, res.two_qubit_gates)
        out.append({
            "name": name,
            "resources": res.to_dict(),
            "evaluations_per_sample": per_sample,
            "circuit_flops_estimate": circuit_flops(res.qubits, res.one_qubit_gates, res.two_qubit_gates),
            "qpu_seconds_per_evaluation": t_eval,
            "qpu_inference_ms_per_sample": 1e3 * t_eval * per_sample,
            "qpu_timing": asdict(qpu),
        })
    return out


# --------------------------------------------------------------------------- timing, memory
def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    q1, med, q3 = np.percentile(ms, [25, 50, 75])
    return {"median": float(med), "iqr": float(q3 - q1), "mean": float(ms.mean()),
            "repeats": int(ms.size)}


def inference_latency(model: nn.Module, input_shape: Sequence[int], batch_size: int = 1,
                      repeats: int = 20, warmup: int = 3, device=None) -> dict[str, float]:
    """Eval-mode forward time (ms) at ``batch_size``: median/IQR/mean over ``repeats``."""
    shape = _check_input_shape(input_shape)
    dev = _device_of(model, device)
    x = torch.randn((batch_size, *shape), device=dev)
    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + repeats):
                _sync(dev)
                t0 = time.perf_counter()
                model(x)
                _sync(dev)
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return _summary_ms(times)


def make_train_step(model: nn.Module, input_shape: Sequence[int], batch_size: int,
                    num_classes: int, device=None, lr: float = 1e-4, seed: int = 0):
    """A closure running one forward + cross-entropy backward + Adam step on fixed random data.

    The model is trained in place (pass a copy to keep the original unchanged).
    """
    shape = _check_input_shape(input_shape)
    dev = _device_of(model, device)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *shape), generator=g).to(dev)
    y = torch.randint(0, num_classes, (batch_size,), generator=g).to(dev)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def train_step_time(model: nn.Module, input_shape: Sequence[int], num_classes: int,
                    batch_size: int = 32, repeats: int = 10, warmup: int = 2,
                    device=None) -> dict[str, float]:
    """Training-step time (ms) on a deep copy of ``model``: median/IQR/mean over ``repeats``."""
    dev = _device_of(model, device)
    step = make_train_step(copy.deepcopy(model), input_shape, batch_size, num_classes, dev)
    times = []
    for i in range(warmup + repeats):
        _sync(dev)
        t0 = time.perf_counter()
        step()
        _sync(dev)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return _summary_ms(times)


def saved_activation_bytes(model: nn.Module, input_shape: Sequence[int], batch_size: int,
                           device=None) -> int:
    """Bytes of the tensors autograd saves for backward in one training forward (deterministic)."""
    shape = _check_input_shape(input_shape)
    dev = _device_of(model, device)
    seen: dict[int, int] = {}
    params = {id(p) for p in model.parameters()}

    def pack(t: torch.Tensor):
        if id(t) not in params:  # parameters are counted separately
            try:  # views share a storage: count it once
                key, nbytes = t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()
            except (RuntimeError, NotImplementedError):  # tensors without a plain storage
                key, nbytes = id(t), t.numel() * t.element_size()
            seen[key] = max(seen.get(key, 0), nbytes)
        return t

    m = copy.deepcopy(model).train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = m(torch.randn((batch_size, *shape), device=dev))
    del out
    return int(sum(seen.values()))


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (bytes; Linux reports KiB, macOS bytes)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def training_memory(model: nn.Module, input_shape: Sequence[int], num_classes: int,
                    batch_size: int = 32, device=None) -> dict[str, int | None]:
    """Memory of training at ``batch_size`` (bytes): parameters + gradients + Adam state
    (2 per parameter) + saved activations, CUDA peak when on CUDA, process peak RSS."""
    dev = _device_of(model, device)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    act = saved_activation_bytes(model, input_shape, batch_size, dev)
    cuda_peak = None
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        make_train_step(copy.deepcopy(model), input_shape, batch_size, num_classes, dev)()
        _sync(dev)
        cuda_peak = int(torch.cuda.max_memory_allocated(dev))
    return {
        "param_bytes": int(param_bytes),
        "activation_bytes": act,
        "train_estimate_bytes": int(4 * param_bytes + act),  # weights, grads, Adam m and v
        "cuda_peak_bytes": cuda_peak,
        "process_peak_rss_bytes": peak_rss_bytes(),
    }


# --------------------------------------------------------------------------- all together
def _num_classes(model: nn.Module, input_shape: Sequence[int], device) -> int:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return int(model(torch.zeros((1, *input_shape), device=device)).shape[-1])
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------- paired timing
#: Threads the paired timings pin torch to (one thread: the least disturbed on a shared CPU).
TIMING_THREADS = 1
NO_DIFFERENCE = "no measurable difference"
#: Batch-1 inferences per timed block (a few ms each: single calls are dominated by stalls).
INFERENCE_INNER = 10


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # Windows has no load average
        return None


def _block_seconds(fn, dev: torch.device, inner: int) -> float:
    """Mean seconds per call over ``inner`` back-to-back calls (synchronised on CUDA)."""
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    _sync(dev)
    return (time.perf_counter() - t0) / inner


def paired_timing(fn_a, fn_b, repeats: int = 20, warmup: int = 2, inner: int = 1,
                  device=None) -> dict:
    """Time two rivals the way ``benchmarks/hybrid_overhead.py`` does, and their ratio B / A.

    Warm-up calls of both, then ``repeats`` pairs, each a block of ``inner`` calls of A and of
    B back to back, the order alternating (A B, B A, ...) so drift and other processes hit
    both alike. The ratio of each pair is B / A; its median and interquartile range are the
    answer. ``verdict`` is "no measurable difference" when that range contains 1, else "B
    slower" / "B faster". The load average before and after is recorded: on a shared machine
    the spread, not the median, tells how far to trust it.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if repeats < 2:
        raise ValueError(f"repeats: expected >= 2 timed pairs; got {repeats}")
    load_before = load_average()
    for _ in range(warmup):
        fn_a(), fn_b()
    ta, tb = [], []
    for r in range(repeats):
        if r % 2 == 0:
            ta.append(_block_seconds(fn_a, dev, inner))
            tb.append(_block_seconds(fn_b, dev, inner))
        else:
            tb.append(_block_seconds(fn_b, dev, inner))
            ta.append(_block_seconds(fn_a, dev, inner))
    ratios = np.asarray(tb) / np.asarray(ta)
    q1, med, q3 = (float(v) for v in np.percentile(ratios, [25, 50, 75]))
    verdict = NO_DIFFERENCE if q1 <= 1.0 <= q3 else ("B slower" if med > 1.0 else "B faster")
    return {"a_ms": _summary_ms(ta) | {"all": [1e3 * t for t in ta]},
            "b_ms": _summary_ms(tb) | {"all": [1e3 * t for t in tb]},
            "ratio": {"median": med, "q1": q1, "q3": q3, "mean": float(ratios.mean()),
                      "std": float(ratios.std(ddof=1))},
            "verdict": verdict, "ratios": ratios.tolist(), "repeats": repeats, "inner": inner,
            "warmup": warmup, "threads": torch.get_num_threads(),
            "load_average_before": load_before, "load_average_after": load_average()}


def _inference_fn(model: nn.Module, shape: tuple[int, ...], batch_size: int, dev: torch.device):
    model = copy.deepcopy(model).to(dev).eval()
    x = torch.randn((batch_size, *shape), generator=torch.Generator().manual_seed(0)).to(dev)

    def infer():
        with torch.no_grad():
            return model(x)
    return infer


def compare_timing(model_a: nn.Module, model_b: nn.Module, input_shape: Sequence[int], *,
                   num_classes: int | None = None, device=None, train_batch_size: int = 32,
                   repeats: int = 20, train_repeats: int = 10, warmup: int = 2,
                   threads: int | None = TIMING_THREADS) -> dict:
    """Inference (batch 1) and training-step (``train_batch_size``) times of B against A.

    :func:`paired_timing` of each, with torch pinned to ``threads`` (None: as it is). Returns
    ``{"inference": ..., "train_step": ..., "threads", "input_shape", "train_batch_size"}``.
    """
    shape = _check_input_shape(input_shape)
    dev = _device_of(model_a, device)
    k = num_classes or _num_classes(model_a, shape, dev)
    with torch_threads(threads):
        inference = paired_timing(_inference_fn(model_a, shape, 1, dev),
                                  _inference_fn(model_b, shape, 1, dev), repeats, warmup,
                                  inner=INFERENCE_INNER, device=dev)
        train = paired_timing(
            make_train_step(copy.deepcopy(model_a), shape, train_batch_size, k, dev),
            make_train_step(copy.deepcopy(model_b), shape, train_batch_size, k, dev),
            train_repeats, warmup, device=dev)
        pinned = torch.get_num_threads()
    return {"inference": inference, "train_step": train, "threads": pinned,
            "input_shape": list(shape), "train_batch_size": train_batch_size}


def describe_ratio(timing: dict) -> str:
    """One line for a :func:`paired_timing` result, e.g. "B / A = 1.02 (IQR 0.98-1.05): no
    measurable difference"."""
    r = timing["ratio"]
    text = f"B / A = {r['median']:.2f} (IQR {r['q1']:.2f}-{r['q3']:.2f}, {timing['repeats']} pairs)"
    return f"{text}: {timing['verdict']}"


def measure_cost(model: nn.Module, input_shape: Sequence[int], *, num_classes: int | None = None,
                 device=None, train_batch_size: int = 32, repeats: int = 20, warmup: int = 3,
                 train_repeats: int = 5, n_train_samples: int | None = None,
                 steps_per_epoch: int | None = None, qpu: QPUTiming | None = None,
                 timing: bool = True, threads: int | None = None) -> dict:
    """Everything of Table 8 for ``model`` on inputs of ``input_shape`` = (C, H, W).

    ``timing=False`` skips the (slow, machine-dependent) latency and training-step timings;
    ``threads`` pins torch's CPU threads while timing (None: as it is). The timings record the
    thread count and the load average. To compare two models, time them together with
    :func:`compare_timing` (interleaved): two separate timings of one model each are not a ratio.
    Steps per epoch: ``steps_per_epoch`` or ``ceil(n_train_samples / train_batch_size)``.
    """
    shape = _check_input_shape(input_shape)
    dev = _device_of(model, device)
    k = num_classes or _num_classes(model, shape, dev)
    flops = count_flops(model, shape, dev)
    quantum = quantum_cost(model, shape, qpu, dev)
    circuit_total = sum(q["circuit_flops_estimate"] * q["evaluations_per_sample"] for q in quantum)
    out: dict = {
        "model": type(model).__name__,
        "input_shape": list(shape),
        "device": str(dev),
        "params": count_trainable_parameters(model),
        "flops": flops["total"],
        "flops_classical": flops["classical"],
        "flops_quantum_counted": flops["quantum_counted"],
        "flops_circuit_estimate": int(circuit_total),
        "flops_total_estimate": int(flops["classical"] + circuit_total),
        "quantum": quantum,
        "qpu_inference_ms_per_sample": (sum(q["qpu_inference_ms_per_sample"] for q in quantum)
                                        if quantum else None),
        "memory": training_memory(model, shape, k, train_batch_size, dev),
        "train_batch_size": train_batch_size,
    }
    if timing:
        with torch_threads(threads):
            out["timing_load_average"] = load_average()
            out["timing_threads"] = torch.get_num_threads()
            out["latency_ms"] = inference_latency(model, shape, 1, repeats, warmup, dev)
            out["train_step_ms"] = train_step_time(model, shape, k, train_batch_size,
                                                    train_repeats, 1, dev)
        steps = steps_per_epoch or (math.ceil(n_train_samples / train_batch_size)
                                    if n_train_samples else None)
        out["steps_per_epoch"] = steps
        out["epoch_seconds"] = (out["train_step_ms"]["median"] * steps / 1e3) if steps else None
    return out
