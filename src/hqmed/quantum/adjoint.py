"""Gate-by-gate state-vector simulation with an adjoint (reversible) backward: the large-circuit path.

Memory is ``O(B 2^n)`` whatever the depth: the forward keeps only the final state, and the
backward un-computes the states gate by gate (``psi_before = M^dagger psi_after``) while it carries
the adjoint state ``lam = dL/dpsi`` backwards (Jones & Gacon 2020, "Efficient calculation of
gradients in classical simulations of variational quantum algorithms"). No ``2^n x 2^n`` matrix
and no per-gate saved state is ever built.

The gate list is compiled into steps first:

* runs of single-qubit gates on one wire are multiplied into one ``2 x 2`` matrix (gates on other
  wires commute with them), so StronglyEntanglingLayers costs ``n`` state passes per layer and the
  encoding is fused into the first layer's matrices;
* consecutive CNOTs become one basis permutation (one gather); CZs one sign vector;
* the leading matrices on distinct wires act on ``|0...0>``, so the forward starts from their
  product state (one Kronecker build instead of ``n`` passes).

The step matrices are the inputs of one autograd node (:class:`_Adjoint`); its backward returns
``dL/dM`` for every matrix (``sum lam_i conj(psi_j)`` over the other wires), and plain autograd
carries that through the small matrix products to the angles. First-order only: asking for a
graph of the gradient (``create_graph=True``) raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from hqmed.errors import ConfigError
from hqmed.quantum.gates import GATES, complex_dtype
from hqmed.quantum.statevector import Op

__all__ = ["adjoint_expval", "compile_steps", "Step"]

SECOND_ORDER = ("create_graph=True: the {path} backward of QuantumLayer is first order; "
                "use simulator='gates' (plain autograd) for second-order gradients")


@dataclass(frozen=True)
class Step:
    """One compiled step: ``kind`` ``"mat"`` (``wire``, index into the matrices), ``"perm"``
    (``pairs`` of CNOTs, applied in order) or ``"sign"`` (``pairs`` of CZs)."""

    kind: str
    wire: int = -1
    index: int = -1
    pairs: tuple[tuple[int, int], ...] = ()


def compile_steps(ops: list[Op], n: int, dtype: torch.dtype, device) -> tuple[list[Step], list[torch.Tensor]]:
    """Gate list -> (steps, matrices): fused single-qubit matrices ``(2, 2)`` or ``(B, 2, 2)``."""
    steps: list[Step] = []
    mats: list[torch.Tensor] = []
    pending: dict[int, torch.Tensor] = {}

    def flush(wire: int) -> None:
        m = pending.pop(wire, None)
        if m is not None:
            steps.append(Step("mat", wire, len(mats)))
            mats.append(m)

    for name, wires, params in ops:
        fn, n_params = GATES[name]
        if len(wires) == 1:
            g = fn(*params) if n_params else fn(dtype, device)
            w = wires[0]
            pending[w] = g.to(dtype) if w not in pending else g.to(dtype) @ pending[w]
            continue
        if name not in ("CNOT", "CZ"):
            raise ConfigError(f"gate: expected a 1-qubit gate, CNOT or CZ; got {name}")
        for w in wires:
            flush(w)
        kind = "perm" if name == "CNOT" else "sign"
        if steps and steps[-1].kind == kind:
            steps[-1] = Step(kind, pairs=steps[-1].pairs + (tuple(wires),))
        else:
            steps.append(Step(kind, pairs=(tuple(wires),)))
    for w in sorted(pending):
        flush(w)
    return steps, mats


# ----------------------------------------------------------------------------- state kernels
_TAIL = 3  # wires within _TAIL of the end are applied as one (2^k x 2^k) right-multiplication


def _apply_mat(psi: torch.Tensor, m: torch.Tensor, wire: int, n: int) -> torch.Tensor:
    """``psi`` ``(B, 2^n)`` with ``m`` ``(2, 2)`` or ``(B, 2, 2)`` on ``wire`` -> new ``(B, 2^n)``.

    One matmul: ``m @ (.., 2, R)`` when the wires after ``wire`` span ``R >= 2^_TAIL``
    amplitudes; otherwise ``(I (x) m (x) I_R)`` on the last ``_TAIL`` wires as a right-multiply,
    because 2 x 2 products with few columns are slow.
    """
    b, r = psi.shape[0], 2 ** (n - 1 - wire)
    if m.ndim == 3:
        return (m.reshape(b, 1, 2, 2) @ psi.view(b, -1, 2, r)).view(b, -1)
    if r >= 2**_TAIL or n <= _TAIL:
        return (m @ psi.view(-1, 2, r)).view(b, -1)
    k = _TAIL
    eye = torch.eye(2 ** (k - (n - wire)), dtype=m.dtype, device=m.device)
    big = torch.kron(torch.kron(eye, m), torch.eye(r, dtype=m.dtype, device=m.device))
    return (psi.view(-1, 2**k) @ big.T).view(b, -1)


def _matrix_grad(lam: torch.Tensor, psi: torch.Tensor, wire: int, n: int, batched: bool) -> torch.Tensor:
    """``sum_{other wires} lam_i conj(psi_j)``: ``(B, 2, 2)`` per sample or ``(2, 2)`` summed."""
    b, r = psi.shape[0], 2 ** (n - 1 - wire)
    lv = lam.view(b, -1, 2, r).transpose(1, 2).reshape(b, 2, -1)
    pv = psi.view(b, -1, 2, r).transpose(1, 2).reshape(b, 2, -1)
    g = lv @ pv.transpose(1, 2).conj()                                   # (B, 2, 2)
    return g if batched else g.sum(0)


def permutation_index(n_qubits: int, pairs: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Basis permutation of a CNOT sequence ``[(control, target), ...]`` applied in order.

    Returns ``(fwd, inv)``: basis state ``j`` goes to ``fwd[j]``; ``new_psi = psi[inv]``.
    """
    j = torch.arange(2**n_qubits)
    f = j.clone()
    for c, t in pairs:
        f = f ^ (((f >> (n_qubits - 1 - c)) & 1) << (n_qubits - 1 - t))
    inv = torch.empty_like(f)
    inv[f] = j
    return f, inv


@lru_cache(maxsize=64)
def _permutation(n: int, pairs: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather indices ``(new = psi[:, fwd_gather], old = new[:, inv_gather])`` of CNOT ``pairs``."""
    f, inv = permutation_index(n, list(pairs))
    return inv.to(device), f.to(device)


def _signs(n: int, pairs: tuple, dtype, device) -> torch.Tensor:
    j = torch.arange(2**n, device=device)
    s = torch.ones(2**n, dtype=dtype, device=device)
    for c, t in pairs:
        both = ((j >> (n - 1 - c)) & 1) & ((j >> (n - 1 - t)) & 1)
        s = s * (1 - 2 * both).to(dtype)
    return s


def _product_state(first: list[tuple[int, torch.Tensor]], n: int, b: int, dtype, device) -> torch.Tensor:
    """Kronecker product of the first column of each wire's leading matrix (|0> elsewhere)."""
    cols = {w: (m[..., :, 0] if m.ndim == 3 else m[:, 0].expand(b, 2)) for w, m in first}
    zero = torch.zeros(b, 2, dtype=dtype, device=device)
    zero[:, 0] = 1
    psi = torch.ones(b, 1, dtype=dtype, device=device)
    for w in range(n):
        psi = (psi.unsqueeze(-1) * cols.get(w, zero).unsqueeze(1)).reshape(b, -1)
    return psi


def _expval(psi: torch.Tensor, n: int) -> torch.Tensor:
    """<Z_w> of every wire ``(B, n)`` by per-wire reductions of ``|psi|^2`` (no ``2^n x n`` table)."""
    p = torch.view_as_real(psi).square().sum(-1)
    b = p.shape[0]
    out = [p.view(b, 2**w, 2, -1).sum((1, 3)) for w in range(n)]
    return torch.stack([o[:, 0] - o[:, 1] for o in out], 1)


def _observable(g: torch.Tensor, n: int) -> torch.Tensor:
    """``c_j = sum_w g[:, w] (+1 if bit w of j is 0 else -1)``: ``(B, 2^n)`` real."""
    b = g.shape[0]
    c = torch.zeros(b, 2**n, dtype=g.dtype, device=g.device)
    for w in range(n):
        v = c.view(b, 2**w, 2, -1)
        gw = g[:, w, None, None]
        v[:, :, 0] += gw
        v[:, :, 1] -= gw
    return c


class _Adjoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx, meta, *mats):
        steps, n, b, dtype = meta
        lead = 0
        seen: set[int] = set()
        for s in steps:  # leading matrices on distinct wires act on |0...0>
            if s.kind != "mat" or s.wire in seen:
                break
            seen.add(s.wire)
            lead += 1
        device = mats[0].device if mats else None
        psi = _product_state([(s.wire, mats[s.index]) for s in steps[:lead]], n, b, dtype, device)
        for s in steps[lead:]:
            psi = _step(psi, s, mats, n, forward=True)
        ctx.meta = meta
        ctx.save_for_backward(psi, *mats)
        return _expval(psi, n).to(torch.float64 if dtype == torch.complex128 else torch.float32)

    @staticmethod
    def backward(ctx, g):
        if torch.is_grad_enabled():
            raise RuntimeError(SECOND_ORDER.format(path="state-vector"))
        steps, n, b, dtype = ctx.meta
        psi, *mats = ctx.saved_tensors
        lam = psi * (2 * _observable(g, n))
        grads: list[torch.Tensor | None] = [None] * len(mats)
        for s in reversed(steps):
            psi = _step(psi, s, mats, n, forward=False)      # state before the step
            if s.kind == "mat":
                m = mats[s.index]
                if ctx.needs_input_grad[1 + s.index]:
                    grads[s.index] = _matrix_grad(lam, psi, s.wire, n, m.ndim == 3)
            lam = _step(lam, s, mats, n, forward=False)
        return (None, *grads)


def _step(psi: torch.Tensor, s: Step, mats, n: int, forward: bool) -> torch.Tensor:
    if s.kind == "mat":
        m = mats[s.index]
        return _apply_mat(psi, m if forward else m.mH.resolve_conj().contiguous(), s.wire, n)
    if s.kind == "perm":
        fwd, inv = _permutation(n, s.pairs, psi.device)  # cached, never written to
        return psi.index_select(1, fwd if forward else inv)
    return psi * _signs(n, s.pairs, psi.real.dtype, psi.device)


def adjoint_expval(circuit, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """<Z_i> of ``circuit`` (a spec with ``encoding_ops``/``variational_ops``) by the adjoint path.

    Inputs ``(B, n)`` and weights ``weight_shape`` (no broadcast dims) -> ``(B, n)``.
    """
    n, b = circuit.n_qubits, x.shape[0]
    dtype = complex_dtype(x.dtype)
    steps, mats = compile_steps(circuit.encoding_ops(x) + circuit.variational_ops(weights), n,
                                dtype, x.device)
    if b == 0:
        return torch.zeros(0, n, dtype=x.dtype, device=x.device) + 0 * weights.sum()
    mats = [m.expand(b, 2, 2) if m.ndim == 3 and m.shape[0] != b else m for m in mats]
    return _Adjoint.apply((steps, n, b, dtype), *mats)
