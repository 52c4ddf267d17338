"""Eval-mode rewrites that turn a model into plain real tensor algebra for ONNX.

**The quantum block.** With the weights fixed, the circuit is ``|psi(x)> = M r(x)`` where

    r(x) = kron_i [cos(x_i / 2), sin(x_i / 2)]          (real, 2^n entries)

and ``M`` is a fixed complex ``(2^n, 2^n)`` matrix: every encoding rotation is
``R(x_i) = cos(x_i/2) I - i sin(x_i/2) sigma``, so the encoded product state is linear in
``r(x)``, and the variational unitary (and LCNet's leading Hadamards) are fixed matrices. Column
``j`` of ``M`` is the circuit's final state at the angles ``x_i = pi * bit_i(j)``, where ``r`` is
the ``j``-th basis vector. Then ``<Z_i> = sum_j (|Re(M r)_j|^2 + |Im(M r)_j|^2) S[j, i]`` with
PauliZ sign matrix ``S``: cos/sin, a gather, a product, two real matmuls and a square; no complex
type anywhere. The state is computed with the general gate-by-gate simulator from the layer's
public gate lists, so the fold is independent of the fused simulator it replaces.

**Adaptive average pooling** to a grid that does not divide the input map (LiteSpineNet's 7x7
pool after a 2x2 map at small inputs) has no ONNX operator; for a known input size it is a fixed
linear map, written as one matmul.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from hqmed.quantum import QuantumLayer, apply_ops, sign_matrix, zero_state

__all__ = ["FoldedQuantumLayer", "PoolingMatrix", "circuit_matrix", "fold_for_export"]


def circuit_matrix(layer: QuantumLayer) -> torch.Tensor:
    """``M`` (complex128, ``(2^n, 2^n)``): the layer's final state is ``M @ r(x)``."""
    n = layer.n_qubits
    j = torch.arange(2**n)
    bits = (j[:, None] >> (n - 1 - torch.arange(n))[None, :]) & 1
    x = torch.pi * bits.to(torch.float64)  # row j: the angles whose r(x) is basis vector j
    w = layer.weights.detach().to(torch.float64).cpu()
    ops = layer.circuit.encoding_ops(x) + layer.circuit.variational_ops(w)
    with torch.no_grad():
        state = apply_ops(zero_state(n, 2**n, torch.complex128), ops)
    return state.reshape(2**n, 2**n).T  # columns = final states


class FoldedQuantumLayer(nn.Module):
    """A :class:`~hqmed.quantum.QuantumLayer` with frozen weights as real matrix products.

    ``(..., n) -> (..., n)`` PauliZ expectations, equal to the layer's output (float32: ~1e-7).
    """

    def __init__(self, layer: QuantumLayer):
        super().__init__()
        n = self.n_qubits = layer.n_qubits
        m = circuit_matrix(layer)
        self.register_buffer("re_im", torch.cat([m.real, m.imag]).T.contiguous().float())  # (N, 2N)
        s = sign_matrix(n, torch.float32)
        self.register_buffer("signs", torch.cat([s, s]))  # (2N, n): |Re|^2 and |Im|^2 rows
        j = torch.arange(2**n)
        bits = (j[None, :] >> (n - 1 - torch.arange(n))[:, None]) & 1
        self.register_buffer("trig_index", 2 * torch.arange(n)[:, None] + bits)  # (n, N)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        half = x.reshape(-1, self.n_qubits) * 0.5
        trig = torch.stack([torch.cos(half), torch.sin(half)], dim=-1).flatten(1)  # (B, 2n)
        r = trig[:, self.trig_index].prod(dim=1)  # (B, N): kron_i [cos, sin](x_i / 2)
        z = (r @ self.re_im).square() @ self.signs
        return z.reshape(*lead, self.n_qubits)


class PoolingMatrix(nn.Module):
    """``nn.AdaptiveAvgPool2d`` for one input size as a matmul: (B, C, h, w) -> (B, C, H, W)."""

    def __init__(self, in_hw: tuple[int, int], out_hw: tuple[int, int]):
        super().__init__()
        h, w = in_hw
        basis = torch.eye(h * w, dtype=torch.float64).reshape(h * w, 1, h, w)
        pooled = F.adaptive_avg_pool2d(basis, out_hw).reshape(h * w, -1)  # (hw, HW)
        self.out_hw = tuple(out_hw)
        self.register_buffer("matrix", pooled.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(2) @ self.matrix).reshape(*x.shape[:2], *self.out_hw)


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def fold_for_export(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """An eval-mode copy of ``model`` with every QuantumLayer folded and every adaptive average
    pool made a matrix for the input size of ``example`` (N, C, H, W)."""
    model = copy.deepcopy(model).eval()
    pool_sizes: dict[str, tuple] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: pool_sizes.__setitem__(
        name, (tuple(inp[0].shape[-2:]), tuple(out.shape[-2:]))))
        for name, m in model.named_modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    with torch.no_grad():
        model(example)
    for h in hooks:
        h.remove()
    for name, (in_hw, out_hw) in pool_sizes.items():
        _replace(model, name, PoolingMatrix(in_hw, out_hw))
    for name, m in list(model.named_modules()):
        if isinstance(m, QuantumLayer):
            _replace(model, name, FoldedQuantumLayer(m))
    return model
