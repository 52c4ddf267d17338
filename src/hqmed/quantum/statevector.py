"""Batched state vectors and the generic gate application.

A state of ``n`` qubits is a complex tensor of shape ``(B, 2, ..., 2)`` (``n`` axes of size 2
after the batch axis). Axis ``1 + w`` belongs to wire ``w``; flattened, wire 0 is the most
significant bit of the basis index (PennyLane's order: |q0 q1 ... q_{n-1}>).

Everything is functional: gates return new tensors and measurements never touch their input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import torch

from hqmed.errors import ShapeError
from hqmed.quantum.gates import GATES, complex_dtype

__all__ = ["zero_state", "apply_matrix", "apply_ops", "probabilities", "expval_z", "n_qubits_of",
           "sign_matrix", "Op"]

#: one gate of a circuit: (gate name in gates.GATES, wires, angle tensors)
Op = tuple[str, tuple[int, ...], tuple[torch.Tensor, ...]]


def zero_state(n_qubits: int, batch_shape: int | Sequence[int] = 1,
               dtype: torch.dtype = torch.complex64, device=None) -> torch.Tensor:
    """|0...0> for a batch: ``(B, 2, ..., 2)``. ``batch_shape`` is ``B`` or ``(B,)``."""
    if isinstance(batch_shape, int):
        batch = batch_shape
    else:
        batch_shape = tuple(batch_shape)
        if len(batch_shape) != 1:
            raise ShapeError(f"batch_shape: expected an int or a 1-tuple; got {batch_shape}")
        batch = batch_shape[0]
    if n_qubits < 1:
        raise ShapeError(f"n_qubits: expected >= 1; got {n_qubits}")
    state = torch.zeros(batch, 2**n_qubits, dtype=complex_dtype(dtype), device=device)
    state[:, 0] = 1
    return state.reshape(batch, *([2] * n_qubits))


def n_qubits_of(state: torch.Tensor) -> int:
    """Number of qubits of a ``(B, 2, ..., 2)`` state (validated)."""
    if state.ndim < 2 or any(s != 2 for s in state.shape[1:]):
        raise ShapeError(f"state: expected shape (B, 2, ..., 2); got {tuple(state.shape)}")
    return state.ndim - 1


def apply_matrix(state: torch.Tensor, matrix: torch.Tensor, wires: Iterable[int]) -> torch.Tensor:
    """Apply a ``k``-qubit matrix to ``wires`` of a batched state.

    Args:
        state: ``(B, 2, ..., 2)`` complex.
        matrix: ``(2^k, 2^k)`` shared by the batch, or ``(B, 2^k, 2^k)`` one per sample (a state
            with ``B == 1`` is broadcast). Row/column index bits follow ``wires``, ``wires[0]``
            most significant.
        wires: ``k`` distinct wire indices.

    Returns:
        The new state, same shape and dtype as ``state``.
    """
    n = n_qubits_of(state)
    wires = tuple(int(w) for w in wires)
    k = len(wires)
    if k == 0 or len(set(wires)) != k or min(wires) < 0 or max(wires) >= n:
        raise ShapeError(f"wires: expected {k} distinct wires in [0, {n}); got {wires}")
    dim = 2**k
    if matrix.shape[-2:] != (dim, dim) or matrix.ndim not in (2, 3) or (
            matrix.ndim == 3 and 1 not in (matrix.shape[0], state.shape[0])
            and matrix.shape[0] != state.shape[0]):
        raise ShapeError(f"matrix: expected ({dim}, {dim}) or ({state.shape[0]}, {dim}, {dim}); "
                         f"got {tuple(matrix.shape)}")
    matrix = matrix.to(state.dtype)
    if matrix.ndim == 3 and state.shape[0] == 1 and matrix.shape[0] > 1:
        state = state.expand(matrix.shape[0], *state.shape[1:])
    src = [1 + w for w in wires]
    dst = list(range(n + 1 - k, n + 1))
    moved = torch.movedim(state, src, dst)
    shape = moved.shape
    flat = moved.reshape(shape[0], -1, dim)
    out = torch.matmul(flat, matrix.transpose(-1, -2))
    return torch.movedim(out.reshape(shape), dst, src)


def apply_ops(state: torch.Tensor, ops: Iterable[Op]) -> torch.Tensor:
    """Apply a gate list ``[(name, wires, angles), ...]`` in order (the general, gate-by-gate path)."""
    for name, wires, params in ops:
        fn, n_params = GATES[name]
        matrix = fn(*params) if n_params else fn(state.dtype, state.device)
        state = apply_matrix(state, matrix, wires)
    return state


def probabilities(state: torch.Tensor) -> torch.Tensor:
    """Computational-basis probabilities ``(B, 2^n)`` (real)."""
    n = n_qubits_of(state)
    flat = state.reshape(state.shape[0], 2**n)
    return flat.real.square() + flat.imag.square() if flat.is_complex() else flat.square()


@lru_cache(maxsize=64)
def _sign_matrix_cpu(n_qubits: int) -> torch.Tensor:
    j = torch.arange(2**n_qubits).unsqueeze(1)
    shift = torch.arange(n_qubits - 1, -1, -1).unsqueeze(0)
    return (1 - 2 * ((j >> shift) & 1)).to(torch.float64)


def sign_matrix(n_qubits: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """``S`` of shape ``(2^n, n)`` with ``S[j, i] = +1`` if bit ``i`` of ``j`` is 0 else ``-1``.

    ``probabilities(state) @ S`` are the PauliZ expectations of all wires.
    """
    return _sign_matrix_cpu(n_qubits).to(dtype=dtype, device=device, copy=True)  # never the cached one


def expval_z(state: torch.Tensor) -> torch.Tensor:
    """<PauliZ> on every wire: ``(B, 2, ..., 2)`` -> ``(B, n)`` real. Does not modify ``state``."""
    n = n_qubits_of(state)
    probs = probabilities(state)
    return probs @ sign_matrix(n, probs.dtype, probs.device)
