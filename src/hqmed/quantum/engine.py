"""Which simulator runs a circuit, and how big a circuit may get (the size-aware engine).

Three exact simulators give the same values and gradients (tested against PennyLane in float64):

* ``"kernel"`` (:mod:`hqmed.quantum.kernel`): the whole circuit, forward and adjoint backward, in
  one compiled C call per direction, two samples at a time (SSE2 lanes) on one thread. No per-op
  overhead (a training step is one autograd node), but little vectorisation over the batch:
  it wins at small batches, and whenever the alternative is the state-vector path. CPU only,
  and only where the system C compiler built it (else the torch paths run; see
  :func:`hqmed.quantum.kernel.kernel_status`).

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

When the kernel is available and the tensors are on the CPU, :func:`prefer_kernel` replaces the
torch path: always for the state-vector path (the kernel's cost per sample is lower at every size
measured, 4-16 qubits, and its memory is two state vectors whatever the batch), and up to
:data:`KERNEL_MAX_BATCH` samples (training) or :data:`KERNEL_MAX_BATCH_NO_GRAD` (no-grad calls,
against the cached unitary up to 8 qubits) for the fused path: the largest batch of 1, 2, 4, ...,
256 at which the kernel was clearly ahead. Measured on the same CPU, one thread, 3
StronglyEntanglingLayers, batches 1 to 256, process CPU time while other jobs kept the load
average near 5 (so both sides slower than on a quiet machine, alike): at 7 qubits a training step
takes 0.07 ms in the kernel against 0.77 ms fused at batch 1, 0.48 vs 0.91 ms at batch 32 and
0.88 vs 0.93 at 64, and the fused path leads from 128 (1.7 vs 1.5 ms); at 4 qubits the kernel
leads up to batch 256 (0.43 vs 0.63 ms); at 10 qubits up to 16 (2.4 vs 3.2 ms); from 13 qubits at
every batch measured (14 qubits, batch 256: 0.71 vs 1.18 s; 16 qubits, batch 32: 0.44 vs 3.5 s
against the state-vector path). Against the LCNet H+RY closed form (flat ~0.06 ms) the kernel
wins while ``batch * 2^n`` <= :data:`KERNEL_MAX_AMPLITUDES_CLOSED_FORM` (4 qubits, batch 16:
0.049 vs 0.058 ms; batch 64: 0.086 vs 0.059 ms). Override with
``EngineOptions(kernel_max_batch=...)`` (0: never) or ``simulator="kernel"``.

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
import sys
from functools import cache

import torch

from hqmed.errors import ConfigError

__all__ = ["FUSED_MAX_QUBITS", "FUSED_MAX_QUBITS_BATCHED", "FUSED_MIN_BATCH", "CACHE_MAX_QUBITS",
           "WORKING_STATES", "KERNEL_MAX_BATCH", "KERNEL_MAX_BATCH_NO_GRAD",
           "KERNEL_MAX_AMPLITUDES_CLOSED_FORM", "kernel_max_batch", "prefer_kernel", "select_simulator", "working_bytes", "physical_memory_bytes", "check_memory",
           "SIMULATORS"]

SIMULATORS = ("auto", "fused", "statevector", "gates", "kernel")
FUSED_MAX_QUBITS = 12
FUSED_MAX_QUBITS_BATCHED = 14
FUSED_MIN_BATCH = 8
CACHE_MAX_QUBITS = 8
WORKING_STATES = 6


#: largest batch at which the compiled kernel beats the fused path, by qubits (measured, see the
#: module doc), for training calls (forward + backward) and no-grad calls (against the cached
#: unitary up to CACHE_MAX_QUBITS); sizes past a table use its last entry.
KERNEL_MAX_BATCH = {1: 256, 2: 256, 3: 256, 4: 256, 5: 128, 6: 64, 7: 32, 8: 16, 9: 16, 10: 16,
                    11: 16, 12: 16, 13: 256, 14: sys.maxsize}
KERNEL_MAX_BATCH_NO_GRAD = {1: 256, 2: 256, 3: 128, 4: 64, 5: 64, 6: 32, 7: 32, 8: 32, 9: 256,
                            10: 256, 11: 256, 12: 256, 13: 256, 14: sys.maxsize}
#: against the closed form of the LCNet Hadamard + RY circuit (three elementwise ops, whatever n)
#: the kernel, which still simulates 2^n amplitudes, wins while batch * 2^n is at most this
KERNEL_MAX_AMPLITUDES_CLOSED_FORM = 256


def kernel_max_batch(n_qubits: int, grad: bool = True) -> int:
    """The measured kernel/fused crossover: the kernel runs batches up to this size."""
    table = KERNEL_MAX_BATCH if grad else KERNEL_MAX_BATCH_NO_GRAD
    return table[min(n_qubits, max(table))]


def prefer_kernel(torch_simulator: str, n_qubits: int, batch: int, grad: bool = True,
                  max_batch: int | None = None) -> bool:
    """Whether the compiled kernel (when it can run the call) replaces ``torch_simulator``
    (``"fused"``, ``"statevector"`` or ``"closed_form"``) at ``batch`` samples.

    The kernel always replaces the state-vector path (its cost per sample is lower at every
    size measured), and the fused path and the closed form up to the measured crossovers;
    ``max_batch`` overrides all three (0: never).
    """
    if max_batch is not None:
        return batch <= max_batch
    if torch_simulator == "statevector":
        return True
    if torch_simulator == "closed_form":
        return batch << n_qubits <= KERNEL_MAX_AMPLITUDES_CLOSED_FORM
    return batch <= kernel_max_batch(n_qubits, grad)


def select_simulator(n_qubits: int, batch: int, fused_max_qubits: int | None = None) -> str:
    """``"fused"`` or ``"statevector"`` for a layered circuit of ``n_qubits`` at ``batch`` samples
    (the torch simulators; :func:`prefer_kernel` says when the compiled kernel replaces them).

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


@cache
def physical_memory_bytes() -> int:
    """Physical memory of this machine (``os.sysconf``; read once per process)."""
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
