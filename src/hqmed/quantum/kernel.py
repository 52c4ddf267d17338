"""The compiled simulator: a whole circuit, forward and adjoint backward, in one C call.

At the papers' sizes (4-7 qubits, batch 1) the torch simulators spend their time in per-op
overhead (a training step is ~25 forward + ~40 backward ATen kernels), not in arithmetic. The
kernel (``_kernel.c`` beside this module; see its header for the algorithm) runs the whole
circuit on state vectors in double precision, two samples at a time (the two lanes of a GNU C
vector: SSE2 on x86-64), so a training step is one autograd node and two C calls.

Build. On first use ``_kernel.c`` (C99 with GNU vector types, as gcc and clang compile it, and
libm: no torch headers, no ``-march`` flags) is compiled with the system C compiler (``$CC``, else ``cc``) and :data:`CFLAGS` into
``<cache>/kernels/hqmed_kernel-<key>.so``, ``<cache>`` being ``$HQMED_CACHE`` or
``~/.hqmed/cache`` and ``<key>`` a hash of the source, the compiler command, the flags and the
platform. The compiler writes into a temporary folder and the library is then copied in
atomically, so concurrent processes never load half a file; later processes load the cached
library without compiling (a compile takes ~1 s).

Fallback. ``HQMED_NO_KERNEL=1`` disables the kernel. Without a compiler, or when the compile or
the load fails, the reason is logged once (logger ``hqmed.quantum.kernel``, WARNING) and
:func:`kernel_status` returns it; ``simulator="auto"`` then uses the pure-torch simulators
(:mod:`hqmed.quantum.engine`), and ``simulator="kernel"`` raises a ConfigError naming the reason.

Programs. :func:`kernel_program` turns a circuit spec's gate lists (``encoding_ops`` and
``variational_ops``, the templates' one definition) into the kernel's integer program by
evaluating them on index tensors, so any circuit of the gates below (RX, RY, RZ, Rot, Hadamard,
CNOT, CZ) runs: every layered ansatz, RandomLayers, any encoding rotation and CNOT ranges.
Tensors must be on the CPU, float32 or float64 (outputs and gradients in the inputs' dtype).
Gradients are first order (``create_graph=True`` raises, like the fused path).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hqmed.errors import ShapeError
from hqmed.quantum.adjoint import SECOND_ORDER
from hqmed.utils.io import atomic_write_bytes, default_cache_dir

__all__ = ["KernelStatus", "KernelProgram", "kernel_status", "load_kernel", "build_kernel",
           "kernel_program", "kernel_expval", "DISABLE_ENV", "CFLAGS", "SOURCE"]

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("_kernel.c")
CFLAGS = ("-O2", "-std=c99", "-shared", "-fPIC")
DISABLE_ENV = "HQMED_NO_KERNEL"
ABI = 3  # must equal HQMED_KERNEL_ABI in _kernel.c
MAX_QUBITS = 40  # the C code's fixed per-wire arrays (memory limits come first in practice)

# program of _kernel.c: header (n qubits, gates, weights), then per gate: code, wire a, wire b,
# source, index 0, index 1, index 2
_CODES = {"RX": 0, "RY": 1, "RZ": 2, "Rot": 3, "Hadamard": 4, "CNOT": 5, "CZ": 6}
_SRC_NONE, _SRC_WEIGHTS, _SRC_INPUTS = 0, 1, 2
_DTYPES = (torch.float32, torch.float64)
_ERRORS = {1: "could not allocate the state vectors", 2: "invalid circuit program"}


class KernelBuildError(RuntimeError):
    """The kernel could not be compiled or loaded (the message says why)."""


@dataclass(frozen=True)
class KernelStatus:
    """Whether this process can use the compiled kernel.

    Attributes:
        available: the library is loaded.
        reason: why it is not (empty when available).
        path: the shared library (None when none was built).
        compiled: compiled by this process (False: loaded from the cache, or not available).
    """

    available: bool
    reason: str = ""
    path: str | None = None
    compiled: bool = False


_STATE: dict = {}  # the process's one loaded library: {"status": KernelStatus, "lib": CDLL}


def _library_path(cache_dir: Path, cc: str) -> Path:
    h = hashlib.sha256(SOURCE.read_bytes())
    for part in (cc, *CFLAGS, platform.machine(), sys.platform, str(ABI)):
        h.update(b"\0" + part.encode())
    return cache_dir / "kernels" / f"hqmed_kernel-{h.hexdigest()[:16]}.so"


def build_kernel(cache_dir: str | os.PathLike | None = None, cc: str | None = None,
                 force: bool = False) -> tuple[Path, bool]:
    """Compile ``_kernel.c`` into the cache unless it is there: ``(path, compiled now)``.

    ``cc``: the compiler command (default ``$CC``, else ``cc``). Raises KernelBuildError.
    """
    cc = cc or os.environ.get("CC") or "cc"
    path = _library_path(default_cache_dir(cache_dir), cc)
    if path.exists() and not force:
        return path, False
    with tempfile.TemporaryDirectory(prefix="hqmed-kernel-") as tmp:
        out = Path(tmp) / path.name
        cmd = [*shlex.split(cc), *CFLAGS, "-o", str(out), str(SOURCE), "-lm"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KernelBuildError(f"C compiler {cc!r} could not run: {exc}") from exc
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise KernelBuildError(f"`{shlex.join(cmd)}` failed (exit {proc.returncode})"
                                   + (f": {detail[-1]}" if detail else ""))
        try:
            atomic_write_bytes(path, out.read_bytes())
        except OSError as exc:
            raise KernelBuildError(f"could not write the kernel cache: {exc}") from exc
    return path, True


def _open(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.hqmed_kernel_abi.restype = ctypes.c_int
    if lib.hqmed_kernel_abi() != ABI:
        raise KernelBuildError(f"{path}: ABI {lib.hqmed_kernel_abi()} (expected {ABI})")
    i, p = ctypes.c_int, ctypes.c_void_p
    lib.hqmed_expval.argtypes = [p, i, i, p, p, p]
    lib.hqmed_expval_grad.argtypes = [p, i, i, p, p, p, p, p]
    lib.hqmed_expval.restype = lib.hqmed_expval_grad.restype = i
    return lib


def load_kernel(refresh: bool = False) -> KernelStatus:
    """Load (compiling when needed) the kernel for this process, once; ``refresh`` reloads
    (after changing ``$HQMED_NO_KERNEL``, ``$CC`` or ``$HQMED_CACHE``)."""
    if "status" in _STATE and not refresh:
        return _STATE["status"]
    _STATE.clear()
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        status = KernelStatus(False, f"disabled by {DISABLE_ENV}={os.environ[DISABLE_ENV]}")
        logger.info("hqmed kernel: %s; using the pure-torch simulators", status.reason)
    else:
        try:
            path, compiled = build_kernel()
            try:
                lib = _open(path)
            except OSError:
                if compiled:
                    raise
                path, compiled = build_kernel(force=True)  # a damaged cache entry: rebuild once
                lib = _open(path)
            status = KernelStatus(True, "", str(path), compiled)
            _STATE["lib"] = lib
        except (KernelBuildError, OSError) as exc:
            status = KernelStatus(False, str(exc))
            logger.warning("hqmed kernel unavailable (%s); using the pure-torch simulators", exc)
    _STATE["status"] = status
    return status


def kernel_status() -> KernelStatus:
    """The kernel's status in this process (loads it on first call)."""
    return _STATE["status"] if "status" in _STATE else load_kernel()


# ----------------------------------------------------------------------------- programs
@dataclass(frozen=True, eq=False)
class KernelProgram:
    """A circuit as the kernel's program: int32 header ``(n, gates, weights)`` then ``(gates, 7)``
    (see ``_kernel.c``); ``address`` is where ``program`` lives (passed to every call)."""

    n_qubits: int
    n_weights: int
    program: np.ndarray
    address: int

    @classmethod
    def from_array(cls, n_qubits: int, n_weights: int, program) -> KernelProgram:
        program = np.array(program, dtype=np.int32)  # a fresh contiguous copy owned here
        return cls(n_qubits, n_weights, program, program.ctypes.data)

    def __reduce__(self):  # copies and pickles rebuild the address of their own array
        return (KernelProgram.from_array, (self.n_qubits, self.n_weights, self.program))


def kernel_program(circuit) -> KernelProgram:
    """The op table of a circuit spec (``n_qubits``, ``weight_shape``, ``encoding_ops``,
    ``variational_ops``): angles are traced to input columns and flat weight indices by
    evaluating the gate lists on index tensors."""
    n, shape = circuit.n_qubits, tuple(circuit.weight_shape)
    n_w = math.prod(shape)
    x_index = torch.arange(n, dtype=torch.float64)
    w_index = torch.arange(n_w, dtype=torch.float64).reshape(shape)
    rows = []
    for source, ops in ((_SRC_INPUTS, circuit.encoding_ops(x_index)),
                        (_SRC_WEIGHTS, circuit.variational_ops(w_index))):
        for name, wires, params in ops:
            idx = [int(p) for p in params]
            rows.append([_CODES[name], wires[0], wires[1] if len(wires) > 1 else 0,
                         source if idx else _SRC_NONE, *idx, *[0] * (3 - len(idx))])
    return KernelProgram.from_array(n, n_w, np.concatenate([[n, len(rows), n_w], np.ravel(rows)]))


# ----------------------------------------------------------------------------- calls
def _check(rc: int) -> None:
    if rc == 1:
        raise MemoryError(f"hqmed kernel: {_ERRORS[1]}")
    if rc:
        raise RuntimeError(f"hqmed kernel: {_ERRORS.get(rc, f'error {rc}')}")


def _expval(program: KernelProgram, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    _check(_STATE["lib"].hqmed_expval(program.address, x.shape[0], x.dtype == torch.float32,
                                      x.data_ptr(), weights.data_ptr(), out.data_ptr()))
    return out


class _Kernel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weights, program):
        ctx.program = program
        ctx.save_for_backward(x, weights)
        return _expval(program, x, weights)

    @staticmethod
    def backward(ctx, g):
        if torch.is_grad_enabled():  # create_graph=True: refuse rather than return a constant
            raise RuntimeError(SECOND_ORDER.format(path="kernel"))
        x, weights = ctx.saved_tensors
        program = ctx.program
        g = (g if g.dtype == x.dtype else g.to(x.dtype)).contiguous()
        gx = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        gw = torch.empty_like(weights) if ctx.needs_input_grad[1] else None
        _check(_STATE["lib"].hqmed_expval_grad(
            program.address, x.shape[0], x.dtype == torch.float32, x.data_ptr(),
            weights.data_ptr(), g.data_ptr(), None if gx is None else gx.data_ptr(),
            None if gw is None else gw.data_ptr()))
        return gx, gw, None


def kernel_expval(program: KernelProgram, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """<Z_i> ``(B, n)`` of inputs ``(B, n)`` and weights (the circuit's ``weight_shape``): CPU
    tensors of one dtype, float32 or float64. Needs :func:`kernel_status` ``.available``."""
    n = program.n_qubits
    if x.ndim != 2 or x.shape[1] != n or weights.numel() != program.n_weights:
        raise ShapeError(f"kernel inputs: expected x (B, {n}) and {program.n_weights} weights; "
                         f"got x {tuple(x.shape)} and {weights.numel()} weights")
    if x.dtype != weights.dtype or x.dtype not in _DTYPES or not (x.is_cpu and weights.is_cpu):
        raise ShapeError(f"kernel inputs: expected CPU tensors of one dtype, float32 or float64; "
                         f"got {x.dtype} on {x.device} and {weights.dtype} on {weights.device}")
    x, weights = x.contiguous(), weights.contiguous()
    if torch.is_grad_enabled() and (x.requires_grad or weights.requires_grad):
        return _Kernel.apply(x, weights, program)
    return _expval(program, x, weights)
