"""Fast exact simulation of "embedding + layered ansatz" circuits in a handful of large ops.

The circuits of both papers have the form

    |psi> = P_{L-1} K_{L-1} ... P_1 K_1 P_0 K_0  E(x) |0...0>        measure <Z_i> on every wire

with ``E(x)`` a product of single-qubit encoding rotations (optionally after a Hadamard on every
wire), ``K_l`` a tensor product of single-qubit gates (``Rot`` or a Pauli rotation, one per wire)
and ``P_l`` the permutation of basis states done by the layer's CNOT ring. The simulator uses that
structure instead of applying gates one by one:

* ``E(x)|0>`` and ``K_0 E(x)|0>`` are product states: per qubit a ``(2, 2) @ (2,)`` product (one
  batched matmul for all qubits), then a Kronecker product of the ``n`` 2-vectors.
* ``K_l`` acts on the state viewed as a ``(2^a, 2^b)`` matrix (``a = n // 2`` high wires, ``b``
  low wires) as ``K_hi @ psi @ K_lo^T``: two small batched matmuls per layer; the Kronecker
  factors of all layers are built at once.
* ``P_l`` is one gather with a precomputed index; the last one is folded into the sign matrix of
  the PauliZ measurement, so ``<Z> = |psi|^2 @ S'`` is one matmul.

For the 7-qubit, 3-layer block this is ~35 tensor ops forward, independent of batch size. With
weights shared across the batch, :meth:`LayeredCircuit.unitary_t` builds the whole variational
unitary once (the same code applied to the identity), which the eval-mode cache of
:class:`~hqmed.quantum.QuantumLayer` reuses: inference is then one ``(B, 2^n) @ (2^n, 2^n)`` matmul.

Leading dimensions broadcast: ``x`` is ``(..., n)`` and the layer matrices ``(..., L, n, 2, 2)``
(their leading dims broadcast against those of ``x``), which is how the parameter-shift rule
evaluates all shifted circuits in one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from hqmed.quantum.gates import GATES, ROTATIONS, rot
from hqmed.quantum.statevector import Op, sign_matrix
from hqmed.quantum.templates import (
    angle_embedding_ops,
    basic_entangler_ops,
    ring_pairs,
    strongly_entangling_ops,
    strongly_entangling_ranges,
)

__all__ = ["LayeredCircuit", "kron_vectors", "kron_matrices", "permutation_index"]


def kron_vectors(v: torch.Tensor) -> torch.Tensor:
    """Kronecker product of per-qubit vectors: ``(..., k, 2)`` -> ``(..., 2^k)`` (first = MSB)."""
    out = v[..., 0, :]
    for i in range(1, v.shape[-2]):
        out = (out.unsqueeze(-1) * v[..., i, None, :]).flatten(-2)
    return out


def kron_matrices(m: torch.Tensor) -> torch.Tensor:
    """Kronecker product of per-qubit matrices: ``(..., k, 2, 2)`` -> ``(..., 2^k, 2^k)``."""
    out = m[..., 0, :, :]
    for i in range(1, m.shape[-3]):
        d = out.shape[-1] * 2
        out = (out[..., :, None, :, None] * m[..., i, None, :, None, :]).reshape(
            *out.shape[:-2], d, d)
    return out


def permutation_index(n_qubits: int, pairs: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Basis permutation of a CNOT sequence ``[(control, target), ...]`` applied in order.

    Returns ``(fwd, inv)``: basis state ``j`` goes to ``fwd[j]``; ``new_psi = psi[..., inv]``.
    """
    j = torch.arange(2**n_qubits)
    f = j.clone()
    for c, t in pairs:
        f = f ^ (((f >> (n_qubits - 1 - c)) & 1) << (n_qubits - 1 - t))
    inv = torch.empty_like(f)
    inv[f] = j
    return f, inv


@dataclass(frozen=True)
class LayeredCircuit:
    """Structure of an embedding + layered-ansatz circuit (no tensors of the user inside).

    Attributes:
        n_qubits: number of wires ``n``.
        n_layers: number of variational layers ``L``.
        rotation: encoding rotation ``"X"``, ``"Y"`` or ``"Z"`` (AngleEmbedding).
        ansatz: ``"strongly_entangling"`` (weights ``(L, n, 3)``, ``Rot`` + CNOT ring of range
            ``r_l``), ``"basic_entangler"`` (weights ``(L, n)``, ``R<entangler_rotation>`` + CNOT
            ring) or ``"ry"`` (LCNet: ``H``, encoding, ``RY(w)``; weights ``(n,)``).
        entangler_rotation: rotation of ``"basic_entangler"``.
    """

    n_qubits: int
    n_layers: int
    rotation: str = "Y"
    ansatz: str = "strongly_entangling"
    entangler_rotation: str = "X"
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------ structure
    @property
    def weight_shape(self) -> tuple[int, ...]:
        n, L = self.n_qubits, self.n_layers
        return {"strongly_entangling": (L, n, 3), "basic_entangler": (L, n), "ry": (n,)}[self.ansatz]

    @property
    def pre_hadamard(self) -> bool:
        return self.ansatz == "ry"

    def layer_pairs(self) -> list[list[tuple[int, int]]]:
        """CNOT (control, target) pairs of each layer, in application order."""
        n = self.n_qubits
        if self.ansatz == "strongly_entangling":
            return [ring_pairs(n, r) for r in strongly_entangling_ranges(self.n_layers, n)]
        if self.ansatz == "basic_entangler":
            return [[(0, 1)] if n == 2 else ring_pairs(n, 1)] * self.n_layers
        return [[]]

    def _perms(self, device) -> tuple[list, torch.Tensor, bool]:
        """(inv index per layer or None, final forward map or None, product_state flag)."""
        key = ("perm", str(device))
        if key not in self._cache:
            perms = [permutation_index(self.n_qubits, p) if p else None for p in self.layer_pairs()]
            invs = [None if p is None else p[1].to(device) for p in perms]
            last = None if perms[-1] is None else perms[-1][0].to(device)
            self._cache[key] = (invs, last, all(p is None for p in perms))
        return self._cache[key]

    def _signs(self, dtype, device) -> torch.Tensor:
        key = ("signs", dtype, str(device))
        if key not in self._cache:
            s = sign_matrix(self.n_qubits, dtype, device)
            last = self._perms(device)[1]
            self._cache[key] = s if last is None else s[last]
        return self._cache[key]

    # --------------------------------------------------------------------- pieces
    def layer_matrices(self, weights: torch.Tensor) -> torch.Tensor:
        """Per-layer, per-qubit gates: weights ``(..., *weight_shape)`` -> ``(..., L', n, 2, 2)``."""
        if self.ansatz == "strongly_entangling":
            return rot(weights[..., 0], weights[..., 1], weights[..., 2])
        if self.ansatz == "basic_entangler":
            return GATES[ROTATIONS[self.entangler_rotation]][0](weights)
        return GATES["RY"][0](weights).unsqueeze(-4)  # (..., 1, n, 2, 2)

    def embedding_vectors(self, x: torch.Tensor) -> torch.Tensor:
        """Per-qubit encoded states ``R(x_i) |0>`` (or ``R(x_i) H|0>``): ``(..., n)`` -> ``(..., n, 2)``."""
        g = GATES[ROTATIONS[self.rotation]][0](x)
        if self.pre_hadamard:
            return (g[..., 0] + g[..., 1]) * (1 / math.sqrt(2))
        return g[..., 0]

    @staticmethod
    def _apply_kron(psi: torch.Tensor, hi: torch.Tensor | None, lo: torch.Tensor) -> torch.Tensor:
        """``(K_hi kron K_lo) psi`` for psi ``(..., 2^n)`` -> ``(..., 2^n)``."""
        dh, dl = (1 if hi is None else hi.shape[-1]), lo.shape[-1]
        m = psi.unflatten(-1, (dh, dl))
        if hi is not None:
            m = torch.matmul(hi, m)
        return torch.matmul(m, lo.transpose(-1, -2)).flatten(-2)

    def _split(self, mats: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        a = self.n_qubits // 2
        hi = kron_matrices(mats[..., :a, :, :]) if a else None
        return hi, kron_matrices(mats[..., a:, :, :])

    # -------------------------------------------------------------------- forward
    def expval(self, x: torch.Tensor, mats: torch.Tensor) -> torch.Tensor:
        """<Z_i> for inputs ``(..., n)`` and layer matrices ``(..., L', n, 2, 2)`` -> ``(..., n)``."""
        v = self.embedding_vectors(x).to(mats.dtype)
        u = torch.matmul(mats[..., 0, :, :, :], v.unsqueeze(-1)).squeeze(-1)  # (..., n, 2)
        invs, _, product = self._perms(x.device)
        if product:  # no entangler at all: every wire evolves on its own
            for layer in range(1, mats.shape[-4]):
                u = torch.matmul(mats[..., layer, :, :, :], u.unsqueeze(-1)).squeeze(-1)
            p = torch.view_as_real(u).square().sum(-1)
            return p[..., 0] - p[..., 1]
        psi = kron_vectors(u)
        if mats.shape[-4] > 1:
            hi, lo = self._split(mats[..., 1:, :, :, :])
            for layer in range(1, mats.shape[-4]):
                psi = psi[..., invs[layer - 1]]
                psi = self._apply_kron(psi, None if hi is None else hi[..., layer - 1, :, :],
                                       lo[..., layer - 1, :, :])
        probs = torch.view_as_real(psi).square().sum(-1)
        return probs @ self._signs(probs.dtype, probs.device)

    def unitary_t(self, mats: torch.Tensor) -> torch.Tensor:
        """Transposed variational unitary ``U^T`` ``(2^n, 2^n)`` (final CNOT permutation excluded;
        it lives in the sign matrix). Amplitudes of an encoded state ``e`` are ``e @ U^T``."""
        n = self.n_qubits
        invs, _, _ = self._perms(mats.device)
        psi = torch.eye(2**n, dtype=mats.dtype, device=mats.device)
        hi, lo = self._split(mats)
        for layer in range(mats.shape[-4]):
            if layer:
                psi = psi[..., invs[layer - 1]] if invs[layer - 1] is not None else psi
            psi = self._apply_kron(psi, None if hi is None else hi[..., layer, :, :], lo[..., layer, :, :])
        return psi

    def expval_from_unitary(self, x: torch.Tensor, u_t: torch.Tensor) -> torch.Tensor:
        """<Z_i> from a (cached) :meth:`unitary_t`: one matmul per batch."""
        e = kron_vectors(self.embedding_vectors(x).to(u_t.dtype))
        probs = torch.view_as_real(e @ u_t).square().sum(-1)
        return probs @ self._signs(probs.dtype, probs.device)

    def evaluate(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """<Z_i> for inputs ``(..., n)`` and weights ``(..., *weight_shape)`` (fast path)."""
        return self.expval(x, self.layer_matrices(weights))

    # ------------------------------------------------------------- general path
    def encoding_ops(self, x: torch.Tensor) -> list[Op]:
        """Gate list of the encoding (Hadamards first for ``"ry"``)."""
        if self.ansatz == "ry":
            return [("H", (w,), ()) for w in range(self.n_qubits)] + angle_embedding_ops(x, self.rotation)
        return angle_embedding_ops(x, self.rotation)

    def variational_ops(self, weights: torch.Tensor) -> list[Op]:
        """Gate list of the trainable part."""
        if self.ansatz == "strongly_entangling":
            return strongly_entangling_ops(weights)
        if self.ansatz == "basic_entangler":
            return basic_entangler_ops(weights, self.entangler_rotation)
        return [("RY", (i,), (weights[..., i],)) for i in range(self.n_qubits)]
