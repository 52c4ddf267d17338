"""Fast exact simulation of "embedding + layered ansatz" circuits in a handful of large real ops.

The circuits of both papers have the form

    |psi> = P_{L-1} K_{L-1} ... P_1 K_1 P_0 K_0  E(x) |0...0>        measure <Z_i> on every wire

with ``E(x)`` single-qubit encoding rotations, ``K_l`` a tensor product of single-qubit gates
(``Rot`` or a Pauli rotation, one per wire) and ``P_l`` the basis permutation done by the layer's
CNOT ring. The simulator uses that structure instead of applying gates one by one.

Batch side (depends on the inputs):

* ``E(x)|0>`` is a product state: its magnitudes ``r`` are a Kronecker product of the per-qubit
  ``[cos(x_i/2), sin(x_i/2)]`` and its phases are fixed (``(-i)^popcount`` for RX, none for RY;
  RZ on ``|0>`` is a global phase).
* A batch of states is a REAL matrix ``(2N, B)``: one column per sample, rows in the layout
  ``(h, re/im, l)`` with ``h`` the ``a = n // 2`` high wires and ``l`` the low wires. Then
  ``K_l = K_hi (x) K_lo`` is two real matmuls without transposes: ``H_l @ psi`` on the
  (h, re/im) rows and ``Lo_l @ psi[h]`` on the (re/im, l) rows, where ``H_l``/``Lo_l`` are the
  real 2x2-block forms of the two Kronecker factors, shared by the whole batch.
* ``P_l`` is a row gather (``index_select``); the last one is folded into the sign matrix of the
  PauliZ measurement, so ``<Z> = S^T psi^2`` is one matmul.

Weight side (once per step, shared by the batch): every single-qubit gate used here has entries
``m(mu) * exp(i (linear(angles) + const))`` with ``m`` = cos(mu/2) on the diagonal and sin(mu/2)
off it. So each real block matrix is ``Mag * cos(Theta)`` where ``Theta = weights @ A + offset``
is ONE matmul with a constant matrix and ``Mag`` is a Kronecker product of ``[cos, sin](mu/2)``
gathered at ``p xor q``: ~15 small ops for all layers.

:class:`_Fused` makes the whole circuit one autograd node with a hand-written adjoint backward
(states backwards through the layers, then the closed-form derivative of the block matrices):
for 7 qubits and 3 layers ~36 kernels forward and ~44 backward, whatever the batch size.
First order: ``create_graph=True`` raises (see :data:`~hqmed.quantum.adjoint.SECOND_ORDER`).
The same forward in plain torch ops (``fused=False``) is differentiable by autograd; it is the
reference for the fused backward and serves broadcasting callers (the parameter-shift rule).

:meth:`LayeredCircuit.unitary` applies the layers to all basis states at once; the eval-mode
cache of :class:`~hqmed.quantum.QuantumLayer` reuses it, so inference is two matmuls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from hqmed.quantum.adjoint import SECOND_ORDER, permutation_index
from hqmed.quantum.gates import GATES, ROTATIONS, rot
from hqmed.quantum.statevector import Op, sign_matrix
from hqmed.quantum.templates import (
    angle_embedding_ops,
    basic_entangler_ops,
    ring_pairs,
    strongly_entangling_ops,
    strongly_entangling_ranges,
)

__all__ = ["LayeredCircuit", "permutation_index", "GATE_PHASE_MODELS"]

_PI = math.pi
#: gate -> (coefficients of mu/2 per angle (k,), phase coefficients (k, 2, 2), phase constants (2, 2))
#: so that gate[p, q] = [cos, sin](mu/2)[p != q] * exp(i (angles @ coef[:, p, q] + const[p, q])).
GATE_PHASE_MODELS = {
    # Rot(phi, theta, omega): [[c e^{-i(phi+omega)/2}, -s e^{i(phi-omega)/2}],
    #                          [s e^{-i(phi-omega)/2},  c e^{i(phi+omega)/2}]]
    "Rot": ([0.0, 0.5, 0.0],
            [[[-0.5, 0.5], [-0.5, 0.5]], [[0.0, 0.0], [0.0, 0.0]], [[-0.5, -0.5], [0.5, 0.5]]],
            [[0.0, _PI], [0.0, 0.0]]),
    "RX": ([0.5], [[[0.0, 0.0], [0.0, 0.0]]], [[0.0, -_PI / 2], [-_PI / 2, 0.0]]),
    "RY": ([0.5], [[[0.0, 0.0], [0.0, 0.0]]], [[0.0, _PI], [0.0, 0.0]]),
    "RZ": ([0.0], [[[-0.5, 0.0], [0.0, 0.5]]], [[0.0, 0.0], [0.0, 0.0]]),
}
# phase of the real 2x2 block [[re, -im], [im, re]] as cos(Theta + BLOCK[c', c])
_BLOCK = np.array([[0.0, _PI / 2], [-_PI / 2, 0.0]])


def _trig_table(n: int, a: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables that turn ``n`` angles into the per-half Kronecker products of ``[cos, sin](t_i)``.

    ``args = A @ t + c`` (``A`` ``(2n + 1, n)``) lists ``t_i`` and ``t_i - pi/2`` for every
    qubit and a constant 0, so ``cos(args)`` holds cos(t_i), sin(t_i) and 1. Gathering
    ``cos(args)`` at ``index`` ``(n - a, dh + dl)`` and multiplying over the first axis gives
    ``[kron_hi | kron_lo]``: entry ``p`` of a half is the product over its qubits of
    cos or sin (bit of ``p``, MSB first); missing qubits of the smaller half read the 1.
    """
    dh, dl, nmax = 2**a, 2 ** (n - a), n - a
    amat = np.zeros((2 * n + 1, n))
    amat[np.arange(2 * n), np.repeat(np.arange(n), 2)] = 1.0
    const = np.zeros(2 * n + 1)
    const[1:2 * n:2] = -_PI / 2
    index = np.full((nmax, dh + dl), 2 * n, dtype=np.int64)
    for start, q0, nq in ((0, 0, a), (dh, a, n - a)):
        p = np.arange(2**nq)
        for t in range(nq):
            index[t, start + p] = 2 * (q0 + t) + ((p >> (nq - 1 - t)) & 1)
    return amat, const, index


def _layout_index(perm_basis: torch.Tensor, dh: int, dl: int) -> torch.Tensor:
    """Basis gather index ``(N,)`` -> the same gather on the real row layout ``(dh, 2, dl)``."""
    src = perm_basis.reshape(dh, 1, dl)
    h, low = src // dl, src % dl
    c = torch.arange(2).reshape(1, 2, 1)
    return ((h * 2 + c) * dl + low).reshape(-1)


def _block_constants(gate: str, n: int, a: int):
    """Constant matrix, offset and magnitude gather index of the weight side (numpy, float64)."""
    mu, coef, const = (np.asarray(t, dtype=np.float64) for t in GATE_PHASE_MODELS[gate])
    k = len(mu)
    halves = [(0, a, True), (a, n, False)]
    sizes = [(2 * 2 ** (q1 - q0)) ** 2 for q0, q1, _ in halves]
    total = sum(sizes)
    amat = np.zeros((n * k, total))
    offset = np.zeros(total)
    mag_index = np.zeros(total, dtype=np.int64)
    start, mag_start = 0, 0
    for (q0, q1, hi), size in zip(halves, sizes):
        nq, d = q1 - q0, 2 ** (q1 - q0)
        p, cp, q, c = np.meshgrid(np.arange(d), np.arange(2), np.arange(d), np.arange(2),
                                  indexing="ij")
        pos = ((p * 2 + cp) * 2 * d + q * 2 + c) if hi else ((cp * d + p) * 2 * d + c * d + q)
        pos = start + pos.ravel()
        p, cp, q, c = p.ravel(), cp.ravel(), q.ravel(), c.ravel()
        off = _BLOCK[cp, c].copy()
        for t in range(nq):
            pb, qb = (p >> (nq - 1 - t)) & 1, (q >> (nq - 1 - t)) & 1
            off += const[pb, qb]
            for m in range(k):
                amat[(q0 + t) * k + m, pos] = coef[m, pb, qb]
        offset[pos] = off
        mag_index[pos] = mag_start + (p ^ q)
        start, mag_start = start + size, mag_start + d
    return mu, amat, offset, mag_index


def _magnitude_derivative(n: int, a: int):
    """Index/sign tables for d mag[p] / d t_i = sign * mag[p xor bit_i] (mag = kron of [cos, sin](t))."""
    dh, dl = 2**a, 2 ** (n - a)
    flip = np.zeros((dh + dl, n), dtype=np.int64)
    sign = np.zeros((dh + dl, n))
    for start, q0, nq in ((0, 0, a), (dh, a, n - a)):
        p = np.arange(2**nq)
        for t in range(nq):
            bit = 1 << (nq - 1 - t)
            flip[start + p, q0 + t] = start + (p ^ bit)
            sign[start + p, q0 + t] = np.where(p & bit, 1.0, -1.0)
    return flip, sign


@dataclass
class _Plan:
    """Constant tensors of one circuit on one (dtype, device)."""

    dh: int
    dl: int
    n_hi: int                  # (2 dh)^2 entries of H in a row of the block tensor
    phase: torch.Tensor        # (dh, 2, dl, 1) re/im of the encoding's fixed phases
    perm: list                 # per layer boundary: row gather index in the real layout (2N,)
    perm_inv: list             # inverse gathers (for the backward)
    meas_t: torch.Tensor       # (n, 2N) measurement signs in the real layout, last perm folded in
    meas2: torch.Tensor        # (2N, n) 2 * meas_t^T (d <Z> / d psi = 2 psi S)
    emb_mat: torch.Tensor      # (2n + 1, n) encoding half-angle table (see _trig_table), x/2
    emb_off: torch.Tensor      # (2n + 1, 1)
    trig_index: torch.Tensor   # ((n - a) * (dh + dl),) gather of cos(args) for the products
    n_total: int               # entries of the block tensor row
    w_mat: torch.Tensor        # (n k, total + 2n + 1): [Theta | magnitude half-angle table]
    w_off: torch.Tensor        # (total + 2n + 1,)
    mu_mat: torch.Tensor       # (n, n k): d t_i / d weights
    mag_index: torch.Tensor    # (total,) index into [kron_hi, kron_lo] magnitudes
    amat_neg_t: torch.Tensor   # (total, n * k) -amat^T
    mag_scatter: torch.Tensor  # (total, dh + dl) one-hot of mag_index (sums gradients back)
    mag_flip: torch.Tensor     # ((dh + dl) * n,) magnitude index with the bit of qubit i flipped
    mag_sign: torch.Tensor     # (dh + dl, n) d mag/d t_i sign (0 for the other half's qubits)
    mag_sign_half: torch.Tensor  # (dh + dl, n, 1) mag_sign / 2 (t_i = x_i / 2 for the inputs)


class _Fused(torch.autograd.Function):
    """The whole circuit as one autograd node: fused forward and hand-written adjoint backward
    for both the batch side (states) and the weight side (block matrices)."""

    @staticmethod
    def forward(ctx, x, weights, circuit):
        plan = circuit._plan(x.dtype, x.device)
        blocks, w_saved = circuit._blocks(weights.reshape(circuit.n_layers, circuit.n_qubits, -1),
                                          plan, save=True)
        out, saved = circuit._forward(x, blocks, plan, save=True)
        ctx.circuit, ctx.plan, ctx.w_shape = circuit, plan, weights.shape
        ctx.save_for_backward(blocks, *w_saved, *saved)
        return out

    @staticmethod
    def backward(ctx, g):
        if torch.is_grad_enabled():  # create_graph=True: refuse rather than return a constant
            raise RuntimeError(SECOND_ORDER.format(path="fused"))
        circuit, plan = ctx.circuit, ctx.plan
        blocks, cos_theta, sin_theta, mags, mags_g, halves, final, *states = ctx.saved_tensors
        n_layers = blocks.shape[0]
        dh, dl, nh = plan.dh, plan.dl, plan.n_hi
        b = g.shape[0]
        hs = blocks[:, :nh].view(n_layers, 2 * dh, 2 * dh)
        los = blocks[:, nh:].view(n_layers, 2 * dl, 2 * dl)
        g_blocks = torch.empty_like(blocks)
        grad = final * (plan.meas2 @ g.T)                            # (2N, B)
        for layer in range(n_layers - 1, -1, -1):
            psi_in, mid = states[2 * layer], states[2 * layer + 1]
            g_out = grad.view(dh, 2 * dl, b)
            torch.sum(g_out @ mid.view(dh, 2 * dl, b).transpose(1, 2), 0,
                      out=g_blocks[layer, nh:].view(2 * dl, 2 * dl))
            g_mid = (los[layer].T @ g_out).view(2 * dh, dl * b)
            torch.mm(g_mid, psi_in.view(2 * dh, dl * b).T,
                     out=g_blocks[layer, :nh].view(2 * dh, 2 * dh))
            grad = (hs[layer].T @ g_mid).view(2 * dh * dl, b)
            if layer:
                grad = grad.index_select(0, plan.perm_inv[layer - 1])
        g_x = circuit._embedding_backward(grad, halves, plan) if ctx.needs_input_grad[0] else None
        g_w = None
        if ctx.needs_input_grad[1]:
            g_w = circuit._blocks_backward(g_blocks, cos_theta, sin_theta, mags, mags_g, plan).reshape(ctx.w_shape)
        return g_x, g_w, None


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

    Batch convention of :meth:`evaluate`: inputs ``(..., n)`` and weights
    ``(W..., *weight_shape)`` give ``(W..., ..., n)`` (every weight set on every input).
    """

    n_qubits: int
    n_layers: int
    rotation: str = "Y"
    ansatz: str = "strongly_entangling"
    entangler_rotation: str = "X"
    ranges: tuple[int, ...] | None = None  # CNOT ranges r_l of "strongly_entangling"; None = PennyLane's
    _cache: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    # ------------------------------------------------------------------ structure
    @property
    def entangler_ranges(self) -> tuple[int, ...]:
        """The CNOT range of each StronglyEntanglingLayers layer (PennyLane's default unless set)."""
        if self.ranges is None:
            return strongly_entangling_ranges(self.n_layers, self.n_qubits)
        return tuple(self.ranges)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        n, L = self.n_qubits, self.n_layers
        if self.ansatz == "strongly_entangling":
            return (L, n, 3)
        return (L, n) if self.ansatz == "basic_entangler" else (n,)

    @property
    def product(self) -> bool:
        """True when no gate entangles (``"ry"``, or one qubit): every wire evolves on its own."""
        return self.ansatz == "ry" or self.n_qubits == 1

    @property
    def gate(self) -> str:
        """The trainable single-qubit gate of each layer."""
        if self.ansatz == "strongly_entangling":
            return "Rot"
        return ROTATIONS[self.entangler_rotation] if self.ansatz == "basic_entangler" else "RY"

    def layer_pairs(self) -> list[list[tuple[int, int]]]:
        """CNOT (control, target) pairs of each layer, in application order."""
        n = self.n_qubits
        if self.ansatz == "strongly_entangling":
            return [ring_pairs(n, r) for r in self.entangler_ranges]
        if self.ansatz == "basic_entangler":
            return [[(0, 1)] if n == 2 else ring_pairs(n, 1)] * self.n_layers
        return [[]]

    def _plan(self, dtype: torch.dtype, device) -> _Plan:
        key = (dtype, torch.device(device))
        plan = self._cache.get(key)
        if plan is not None:
            return plan
        n = self.n_qubits
        a = n // 2
        dh, dl = 2**a, 2 ** (n - a)
        j = torch.arange(2**n)
        shift = torch.arange(n - 1, -1, -1).unsqueeze(1)
        pop = ((j >> shift) & 1).sum(0)
        if self.rotation == "X":  # RX|0> = [cos, -i sin]: phase (-i)^popcount
            phase = torch.stack([torch.tensor([1.0, 0.0, -1.0, 0.0])[pop % 4],
                                 torch.tensor([0.0, -1.0, 0.0, 1.0])[pop % 4]])
        else:
            phase = torch.stack([torch.ones(2**n), torch.zeros(2**n)])
        phase = phase.reshape(2, dh, dl).transpose(0, 1).unsqueeze(-1)   # (dh, 2, dl, 1)
        perms = [permutation_index(n, p) for p in self.layer_pairs()]
        signs = sign_matrix(n, torch.float64)                             # (N, n)
        meas = signs[perms[-1][0]].reshape(dh, 1, dl, n).expand(dh, 2, dl, n).reshape(-1, n)
        mu, amat, offset, mag_index = _block_constants(self.gate, n, a)
        mag_flip, mag_sign = _magnitude_derivative(n, a)
        t_mat, t_off, t_index = _trig_table(n, a)
        mu_mat = np.kron(np.eye(n), mu[None, :])                          # (n, n k)
        w_mat = np.concatenate([amat, mu_mat.T @ t_mat.T], 1)
        w_off = np.concatenate([offset, t_off])
        f = dict(dtype=dtype, device=device)
        plan = _Plan(
            dh=dh, dl=dl, n_hi=(2 * dh) ** 2,
            phase=phase.to(**f),
            perm=[_layout_index(inv, dh, dl).to(device) for _, inv in perms[:-1]],
            perm_inv=[_layout_index(fwd, dh, dl).to(device) for fwd, _ in perms[:-1]],
            meas_t=meas.T.contiguous().to(**f), meas2=(2 * meas).to(**f),
            emb_mat=torch.as_tensor(t_mat * 0.5).to(**f),
            emb_off=torch.as_tensor(t_off[:, None]).to(**f),
            trig_index=torch.as_tensor(t_index.reshape(-1)).to(device), n_total=amat.shape[1],
            w_mat=torch.as_tensor(w_mat).to(**f), w_off=torch.as_tensor(w_off).to(**f),
            mu_mat=torch.as_tensor(mu_mat).to(**f),
            mag_index=torch.as_tensor(mag_index).to(device),
            amat_neg_t=torch.as_tensor(-amat.T.copy()).to(**f),
            mag_scatter=torch.nn.functional.one_hot(torch.as_tensor(mag_index), dh + dl).to(**f),
            mag_flip=torch.as_tensor(mag_flip).reshape(-1).to(device),
            mag_sign=torch.as_tensor(mag_sign).to(**f),
            mag_sign_half=torch.as_tensor(mag_sign[:, :, None] / 2).to(**f))
        self._cache[key] = plan
        return plan

    # ------------------------------------------------------------- weight side
    def layer_matrices(self, weights: torch.Tensor) -> torch.Tensor:
        """Per-layer, per-qubit complex gates: ``(..., *weight_shape)`` -> ``(..., L', n, 2, 2)``."""
        if self.ansatz == "strongly_entangling":
            return rot(weights[..., 0], weights[..., 1], weights[..., 2])
        if self.ansatz == "basic_entangler":
            return GATES[self.gate][0](weights)
        return GATES["RY"][0](weights).unsqueeze(-4)  # (..., 1, n, 2, 2)

    def block_matrices(self, weights: torch.Tensor) -> torch.Tensor:
        """Real block forms of every layer's two Kronecker factors, flattened side by side.

        ``(W..., *weight_shape)`` -> ``(W..., L, (2dh)^2 + (2dl)^2)``: row ``l`` holds ``H_l``
        ``(2dh, 2dh)`` on rows (h, re/im) then ``Lo_l`` ``(2dl, 2dl)`` on rows (re/im, l).
        """
        w_lead = weights.shape[: weights.ndim - len(self.weight_shape)]
        w = weights.reshape(*w_lead, self.n_layers, self.n_qubits, -1)        # (..., L, n, k)
        return self._blocks(w, self._plan(weights.dtype, weights.device))

    def _blocks(self, w: torch.Tensor, plan: _Plan, save: bool = False):
        """``blocks = Mag[p xor q] * cos(Theta)``, ``Theta = w @ amat + offset`` (see module doc).

        One matmul gives Theta and the half-angles of the magnitudes, one cos evaluates both.
        """
        wf = w.flatten(-2)
        args = torch.addmm(plan.w_off, wf, plan.w_mat) if wf.ndim == 2 else wf @ plan.w_mat + plan.w_off
        cos = torch.cos(args)                                                   # (..., L, total + 2n + 1)
        nt = plan.n_total
        mags = cos[..., nt:].index_select(-1, plan.trig_index).unflatten(
            -1, (-1, plan.dh + plan.dl)).prod(-2)                               # (..., L, dh + dl)
        mags_g = mags.index_select(-1, plan.mag_index)
        blocks = mags_g * cos[..., :nt]
        if not save:
            return blocks
        return blocks, [cos[..., :nt], torch.sin(args[..., :nt]), mags, mags_g]

    def _blocks_backward(self, g_blocks, cos_theta, sin_theta, mags, mags_g, plan: _Plan) -> torch.Tensor:
        """d loss / d w ``(L, n k)`` from d loss / d blocks ``(L, total)``."""
        g_phase = (g_blocks * mags_g * sin_theta) @ plan.amat_neg_t            # (L, n k)
        g_mags = (g_blocks * cos_theta) @ plan.mag_scatter                     # (L, dh + dl)
        d_mags = mags.index_select(-1, plan.mag_flip).view(*mags.shape, -1) * plan.mag_sign
        g_t = (g_mags.unsqueeze(-2) @ d_mags).squeeze(-2)                      # (L, n)
        return torch.addmm(g_phase, g_t, plan.mu_mat)

    # -------------------------------------------------------------- batch side
    def _magnitudes(self, xt: torch.Tensor, plan: _Plan) -> tuple[torch.Tensor, torch.Tensor]:
        """|amplitudes| of the encoded product states: inputs ``(n, M)`` -> ``r`` ``(N, M)``, and
        the two half products ``(dh + dl, M)`` with ``r = hi (x) lo``."""
        if self.rotation == "Z":  # RZ|0> is |0> up to a global phase
            halves = torch.zeros(plan.dh + plan.dl, xt.shape[-1], dtype=xt.dtype, device=xt.device)
            halves[[0, plan.dh]] = 1
        else:
            cos = torch.cos(torch.addmm(plan.emb_off, plan.emb_mat, xt))       # (2n + 1, M)
            halves = cos.index_select(0, plan.trig_index).view(
                self.n_qubits - self.n_qubits // 2, plan.dh + plan.dl, xt.shape[-1]).prod(0)
        return (halves[:plan.dh, None, :] * halves[plan.dh:, :]).view(plan.dh * plan.dl, -1), halves

    def _embedding_backward(self, grad: torch.Tensor, halves: torch.Tensor, plan: _Plan) -> torch.Tensor:
        """d loss / d x ``(B, n)`` from the gradient w.r.t. the encoded states ``(2N, B)``.

        Through ``r = hi (x) lo`` to the half products, then d half[p] / d x_i =
        sign * half[p xor bit_i] / 2, because d/dx [cos, sin](x/2) = [-sin, cos]/2.
        """
        n, b, dh = self.n_qubits, grad.shape[-1], plan.dh
        if self.rotation == "Z":
            return torch.zeros(b, n, dtype=grad.dtype, device=grad.device)
        g4 = grad.view(dh, 2, plan.dl, b)
        g_r = g4[:, 0] if self.rotation == "Y" else (g4 * plan.phase).sum(1)    # (dh, dl, B)
        g_halves = torch.cat([(g_r * halves[dh:]).sum(1), (g_r * halves[:dh, None]).sum(0)])
        d_halves = halves.index_select(0, plan.mag_flip).view(plan.dh + plan.dl, n, b) * plan.mag_sign_half
        return (g_halves.unsqueeze(1) * d_halves).sum(0).T

    @staticmethod
    def _evolve(psi: torch.Tensor, blocks: torch.Tensor, plan: _Plan,
                saved: list | None = None) -> torch.Tensor:
        """Apply all layers to states ``(dh, 2, dl, M)`` (or ``(W..., ...)``) -> ``(W..., 2N, M)``."""
        dh, dl, nh = plan.dh, plan.dl, plan.n_hi
        m = psi.shape[-1]
        hs = blocks[..., :nh].unflatten(-1, (2 * dh, 2 * dh))
        los = blocks[..., nh:].unflatten(-1, (2 * dl, 2 * dl)).unsqueeze(-3)
        psi = psi.reshape(*psi.shape[:-4], 2 * dh * dl, m)
        for layer in range(blocks.shape[-2]):
            if layer:
                psi = psi.index_select(-2, plan.perm[layer - 1])
            mid = hs[..., layer, :, :] @ psi.view(*psi.shape[:-2], 2 * dh, dl * m)
            out = los[..., layer, :, :, :] @ mid.view(*mid.shape[:-2], dh, 2 * dl, m)
            if saved is not None:
                saved += [psi, mid]
            psi = out.view(*out.shape[:-3], 2 * dh * dl, m)
        return psi

    def _forward(self, x, blocks, plan, save=False):
        """<Z_i> ``(W..., M, n)`` for inputs ``(M, n)`` and block matrices ``(W..., L, total)``."""
        r, halves = self._magnitudes(x.T, plan)
        psi = r.view(plan.dh, 1, plan.dl, -1) * plan.phase                  # (dh, 2, dl, M)
        saved = [] if save else None
        final = self._evolve(psi, blocks, plan, saved)
        out = (plan.meas_t @ final.square()).transpose(-1, -2)
        return (out, [halves, final, *saved]) if save else out

    def _hadamard_ry_expval(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The LCNet circuit in the Bloch picture (exact, a few elementwise ops).

        ``H`` then ``R<rotation>(x)`` on ``|0>`` gives the Bloch vector ``(b_x, b_y, b_z)`` =
        ``(cos x, 0, -sin x)`` for RY, ``(1, 0, 0)`` for RX, ``(cos x, sin x, 0)`` for RZ;
        ``RY(w)`` rotates it about y, so ``<Z> = cos(w) b_z - sin(w) b_x`` (RY: ``-sin(x + w)``).
        """
        w = weights.unsqueeze(-2)                                               # (W..., 1, n)
        if self.rotation == "Y":
            return -torch.sin(x + w)
        bx = torch.cos(x) if self.rotation == "Z" else 1 + 0 * x  # RX: x stays in the graph, d/dx = 0
        return -torch.sin(w) * bx

    def _product_expval(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Unentangled circuits: per-wire 2-vectors, ``<Z_i> = |u_0|^2 - |u_1|^2``."""
        if self.ansatz == "ry":
            return self._hadamard_ry_expval(x, weights)
        g = GATES[ROTATIONS[self.rotation]][0](x)                              # (M, n, 2, 2)
        u = g[..., 0]
        mats = self.layer_matrices(weights).unsqueeze(-5)                      # (W..., 1, L, n, 2, 2)
        for layer in range(mats.shape[-4]):
            u = (mats[..., layer, :, :, :] @ u.unsqueeze(-1)).squeeze(-1)
        p = torch.view_as_real(u).square().sum(-1)
        return p[..., 0] - p[..., 1]

    def evaluate(self, x: torch.Tensor, weights: torch.Tensor, fused: bool = True) -> torch.Tensor:
        """<Z_i>: inputs ``(..., n)`` and weights ``(W..., *weight_shape)`` -> ``(W..., ..., n)``.

        ``fused=False`` differentiates the same forward with plain autograd (reference for the
        fused backward).
        """
        lead = x.shape[:-1]
        x = x.reshape(-1, self.n_qubits)
        w_lead = weights.shape[: weights.ndim - len(self.weight_shape)]
        if self.product:
            out = self._product_expval(x, weights)
        else:
            if fused and not w_lead and torch.is_grad_enabled() and (
                    x.requires_grad or weights.requires_grad):
                out = _Fused.apply(x, weights, self)
            else:
                out = self._forward(x, self.block_matrices(weights), self._plan(x.dtype, x.device))
        return out.reshape(*w_lead, *lead, self.n_qubits)

    # ------------------------------------------------------------ cached unitary
    def unitary(self, weights: torch.Tensor) -> torch.Tensor:
        """The variational circuit (with the encoding's fixed phases) as a real ``(2N, N)``
        matrix: final states ``= unitary @ r`` for encoded magnitudes ``r`` ``(N, B)``.

        Reused across batches while the weights do not change. Not for product circuits.
        """
        blocks = self.block_matrices(weights)
        plan = self._plan(blocks.dtype, blocks.device)
        basis = torch.eye(plan.dh * plan.dl, dtype=blocks.dtype, device=blocks.device)
        return self._evolve(basis.view(plan.dh, 1, plan.dl, -1) * plan.phase, blocks, plan)

    def expval_from_unitary(self, x: torch.Tensor, unitary: torch.Tensor) -> torch.Tensor:
        """<Z_i> ``(..., n)`` from a cached :meth:`unitary`: two matmuls per batch."""
        plan = self._plan(x.dtype, x.device)
        xt = x.reshape(-1, self.n_qubits).T
        out = (plan.meas_t @ (unitary @ self._magnitudes(xt, plan)[0]).square()).T
        return out.reshape(x.shape)

    # ------------------------------------------------------------- general path
    def encoding_ops(self, x: torch.Tensor) -> list[Op]:
        """Gate list of the encoding (Hadamards first for ``"ry"``)."""
        if self.ansatz == "ry":
            return [("Hadamard", (w,), ()) for w in range(self.n_qubits)] + angle_embedding_ops(x, self.rotation)
        return angle_embedding_ops(x, self.rotation)

    def variational_ops(self, weights: torch.Tensor) -> list[Op]:
        """Gate list of the trainable part."""
        if self.ansatz == "strongly_entangling":
            return strongly_entangling_ops(weights, self.entangler_ranges)
        if self.ansatz == "basic_entangler":
            return basic_entangler_ops(weights, self.entangler_rotation)
        return [("RY", (i,), (weights[..., i],)) for i in range(self.n_qubits)]
