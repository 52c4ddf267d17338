"""Which simulator runs a circuit, and how big a circuit may get (the size-aware engine).

Two exact simulators give the same values and gradients (tested against PennyLane in float64):

* ``"fused"`` (:mod:`hqmed.quantum.layered`): the layered circuit as a handful of large real
  matmuls with a hand-written backward. Per-call overhead is tiny (the papers' 4-7 qubits), but
  its Kronecker-half matrices cost ``O(B 2^(1.5 n))`` time and its constant tables
  ``O(2^(1.5 n))`` memory.
* ``"statevector"`` (:mod:`hqmed.quantum.adjoint`): gate by gate with an adjoint backward,
  ``O(B n L 2^n)`` time and ``O(B 2^n)`` memory, no ``2^n x 2^n`` matrix.

``simulator="auto"`` picks by :func:`select_simulator`: fused up to :data:`FUSED_MAX_QUBITS`
qubits, and up to :data:`FUSED_MAX_QUBITS_BATCHED` when the batch has at least
:data:`FUSED_MIN_BATCH` samples (its large matmuls amortise better over a batch), the state-vector
path above. Measured on this project's 2-core CPU, one thread, 3 StronglyEntanglingLayers,
forward + backward (load average ~12, so +-30%): at batch 1 the state-vector path is ahead from
13 qubits (87 vs 172 ms); at batch 32 the fused path is still ahead at 14 qubits (0.8 vs 1.6 s),
and at 15 qubits its tables alone need ~0.5 GB. Override per layer with
``QuantumLayer(..., engine=EngineOptions(simulator="fused" | "statevector"))`` or
``EngineOptions(fused_max_qubits=...)``.

Eval-mode caching of the variational unitary (``(2N, N)`` real matrix) pays only for small
circuits: it is used up to :data:`CACHE_MAX_QUBITS` qubits (measured: at 8 qubits, batch 256,
0.7 ms cached against 1.0 ms uncached; at 9 qubits they tie, at 10 the cache is 2x slower and
takes 0.18 s to build).

Memory limit: a state-vector simulation of ``n`` qubits at batch ``B`` keeps about
:data:`WORKING_STATES` complex state vectors of ``B 2^n`` amplitudes (state, adjoint state and
the temporaries of one gate). :func:`check_memory` refuses a circuit whose working set exceeds
the limit (default: the machine's physical memory) with the bytes it would need; the layer checks
batch 1 when it is built and the real batch at every call.
"""

from __future__ import annotations

import os

import torch

from hqmed.errors import ConfigError

__all__ = ["FUSED_MAX_QUBITS", "FUSED_MAX_QUBITS_BATCHED", "FUSED_MIN_BATCH", "CACHE_MAX_QUBITS",
           "WORKING_STATES", "select_simulator", "working_bytes", "physical_memory_bytes",
           "check_memory", "SIMULATORS"]

SIMULATORS = ("auto", "fused", "statevector", "gates")
FUSED_MAX_QUBITS = 12
FUSED_MAX_QUBITS_BATCHED = 14
FUSED_MIN_BATCH = 8
CACHE_MAX_QUBITS = 8
WORKING_STATES = 6


def select_simulator(n_qubits: int, batch: int, fused_max_qubits: int | None = None) -> str:
    """``"fused"`` or ``"statevector"`` for a layered circuit of ``n_qubits`` at ``batch`` samples.

    ``fused_max_qubits`` overrides the measured crossover (fused up to and including it).
    """
    if fused_max_qubits is not None:
        return "fused" if n_qubits <= fused_max_qubits else "statevector"
    limit = FUSED_MAX_QUBITS_BATCHED if batch >= FUSED_MIN_BATCH else FUSED_MAX_QUBITS
    return "fused" if n_qubits <= limit else "statevector"


def working_bytes(n_qubits: int, batch: int, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the state-vector working set: ``WORKING_STATES * B * 2^n`` complex amplitudes."""
    amp = 16 if dtype in (torch.float64, torch.complex128) else 8
    return WORKING_STATES * max(batch, 1) * 2**n_qubits * amp


def physical_memory_bytes() -> int:
    """Physical memory of this machine (``os.sysconf``)."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def _gib(b: float) -> str:
    return f"{b / 2**30:.1f} GiB ({int(b):,} bytes)"


def check_memory(n_qubits: int, batch: int, dtype: torch.dtype = torch.float32,
                 limit_bytes: int | None = None) -> None:
    """Raise a ConfigError naming the bytes needed when the working set exceeds the limit."""
    limit = physical_memory_bytes() if limit_bytes is None else int(limit_bytes)
    need = working_bytes(n_qubits, batch, dtype)
    if need > limit:
        raise ConfigError(
            f"n_qubits: expected a circuit whose state vectors fit in memory (limit {_gib(limit)}); "
            f"got n_qubits={n_qubits} at batch {batch}, which needs {_gib(need)} "
            f"({WORKING_STATES} state vectors of {max(batch, 1)} x 2^{n_qubits} amplitudes)")
