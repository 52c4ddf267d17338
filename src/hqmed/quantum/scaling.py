"""The simulator's cost against the number of qubits, measured on this machine (the O(2^n) claim).

:func:`simulated_cost_curve` times a :class:`~hqmed.quantum.QuantumLayer` of ``n`` qubits for each
``n`` in a sweep (forward + backward at a batch, and no-grad inference), records the process's
peak resident memory after each point, and :func:`fit_growth_exponent` fits
``time = c * 2^(alpha n)`` by least squares on ``log2(time)`` (``alpha = 1`` is the textbook
state-vector growth; smaller at small ``n`` where fixed per-call costs dominate, so the fit uses
the points with ``n >= fit_from``).

Points whose predicted time (the previous point's time times the growth between the previous two)
exceeds ``budget_s`` are skipped and listed as such, never silently dropped. Memory is the
process's resident high-water mark (``getrusage``): the sweep goes up in ``n``, so after each point
it is that point's peak (plus the interpreter and torch, reported as ``baseline_rss_bytes``).
"""

from __future__ import annotations

import math
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from hqmed.errors import ConfigError

__all__ = ["parse_qubit_range", "time_callable", "peak_rss_bytes", "fit_growth_exponent",
           "layer_calls", "sweep_qubits", "simulated_cost_curve"]


def parse_qubit_range(text: str) -> list[int]:
    """``"4:20:2"`` -> ``[4, 6, ..., 20]`` (start:stop:step, stop included); ``"7"`` -> ``[7]``."""
    parts = str(text).split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--qubits: expected START:STOP[:STEP] integers such as 4:20:2; got {text!r}") from None
    if len(nums) == 1:
        nums = [nums[0], nums[0], 1]
    elif len(nums) == 2:
        nums.append(1)
    start, stop, step = nums[:3]
    if len(nums) > 3 or start < 1 or stop < start or step < 1:
        raise ConfigError(f"--qubits: expected START:STOP[:STEP] with 1 <= START <= STOP and "
                          f"STEP >= 1; got {text!r}")
    return list(range(start, stop + 1, step))


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def time_callable(fn: Callable[[], object], budget_s: float, max_repeats: int = 5) -> dict:
    """Seconds per call: one warm-up call, then up to ``max_repeats`` timed calls within
    ``budget_s`` (at least one). Returns ``mean``, ``std``, ``samples`` and ``warmup``."""
    t0 = time.perf_counter()
    fn()
    warm = time.perf_counter() - t0
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < max_repeats and (not samples or time.perf_counter() - start + samples[-1] <= budget_s):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return {"mean": statistics.fmean(samples),
            "std": statistics.stdev(samples) if len(samples) > 1 else 0.0,
            "samples": samples, "warmup": warm}


def fit_growth_exponent(ns: Sequence[int], seconds: Sequence[float], fit_from: int = 10) -> dict:
    """Least-squares fit of ``log2(t) = alpha n + b`` over points with ``n >= fit_from``
    (all points when fewer than two qualify). Returns ``alpha``, ``b`` and the ``ns`` used;
    ``alpha`` is None with fewer than two points."""
    pts = [(n, t) for n, t in zip(ns, seconds) if t and t > 0]
    use = [p for p in pts if p[0] >= fit_from]
    if len(use) < 2:
        use = pts
    if len(use) < 2:
        return {"alpha": None, "b": None, "ns": [p[0] for p in use]}
    x = np.array([p[0] for p in use], dtype=float)
    y = np.log2([p[1] for p in use])
    alpha, b = np.polyfit(x, y, 1)
    return {"alpha": float(alpha), "b": float(b), "ns": [int(v) for v in x]}


def _predict(prev: list[tuple[int, float]], n: int) -> float | None:
    """Next time from the last two points' growth (None with fewer than two points)."""
    if len(prev) < 2:
        return None
    (n1, t1), (n2, t2) = prev[-2], prev[-1]
    rate = max(t2 / t1, 1.0) ** (1 / max(n2 - n1, 1))
    return t2 * rate ** (n - n2)


Calls = tuple[Callable[[], object], Callable[[], object]]


def layer_calls(layer: torch.nn.Module, n: int, batch: int, seed: int = 0) -> Calls:
    """``(train_step, inference)`` closures for a layer ``(B, n) -> (B, n)``: forward + backward
    of a fixed projection of the outputs (train mode), and a no-grad forward (eval mode)."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, n, generator=gen) * math.pi).requires_grad_(True)
    proj = torch.randn(n, generator=gen)

    def train_step():
        layer.train()
        layer.zero_grad(set_to_none=True)
        (layer(x) @ proj).sum().backward()

    def inference():
        layer.eval()
        with torch.no_grad():
            layer(x.detach())

    return train_step, inference


def sweep_qubits(qubits: Sequence[int], make_calls: Callable[[int], Calls], budget_s: float = 20.0,
                 max_repeats: int = 3, state_bytes: Callable[[int], int] | None = None,
                 deadline: float | None = None) -> dict:
    """Time ``make_calls(n)`` for each ``n`` in ``qubits`` (ascending); see the module doc.
    ``deadline`` (a ``time.time()`` value) bounds the whole sweep: later points are skipped.

    Returns ``{"points": [{"n", "train_s", "inference_s", "peak_rss_bytes"} | {"n", "skipped"}],
    "fit": {"train": ..., "inference": ...}, "baseline_rss_bytes"}`` (times in seconds).
    """
    points: list[dict] = []
    done: dict[str, list[tuple[int, float]]] = {"train": [], "inference": []}
    baseline = peak_rss_bytes()
    for n in sorted(qubits):
        guess = _predict(done["train"], n)
        if guess is not None and guess > budget_s:
            points.append({"n": n, "skipped": f"predicted {guess:.1f} s per step > budget {budget_s:g} s"})
            continue
        left = None if deadline is None else deadline - time.time()
        if left is not None and (left <= 0 or (guess is not None and 3 * guess > left)):
            points.append({"n": n, "skipped": f"run time budget: {max(left, 0):.0f} s left"})
            continue
        train_step, inference = make_calls(n)
        train = time_callable(train_step, budget_s, max_repeats)
        infer = time_callable(inference, budget_s, max_repeats)
        done["train"].append((n, train["mean"]))
        done["inference"].append((n, infer["mean"]))
        point = {"n": n, "train_s": train, "inference_s": infer, "peak_rss_bytes": peak_rss_bytes()}
        if state_bytes is not None:
            point["state_bytes"] = state_bytes(n)
        points.append(point)
        del train_step, inference
    return {"points": points, "baseline_rss_bytes": baseline,
            "fit": {k: fit_growth_exponent([p[0] for p in v], [p[1] for p in v]) for k, v in done.items()}}


def simulated_cost_curve(qubits: Sequence[int], make_layer: Callable[[int], torch.nn.Module],
                         batch: int = 32, budget_s: float = 20.0, max_repeats: int = 3) -> dict:
    """:func:`sweep_qubits` of ``make_layer(n)`` at ``batch`` (``state_bytes``: one complex64
    state vector per sample, ``8 B 2^n``)."""
    out = sweep_qubits(qubits, lambda n: layer_calls(make_layer(n), n, batch), budget_s,
                       max_repeats, state_bytes=lambda n: 8 * batch * 2**n)
    return {"batch": batch, **out}
