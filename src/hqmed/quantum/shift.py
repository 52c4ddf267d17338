"""Gradients by the parameter-shift rule, as a quantum computer has to compute them.

For a gate ``exp(-i t P / 2)`` with a Pauli word ``P`` (RX, RY, RZ and each angle of Rot), an
expectation value ``f`` obeys ``df/dt = [f(t + pi/2) - f(t - pi/2)] / 2`` exactly. Every weight
and every encoded input angle of the circuits here enters exactly one such gate, so the rule
gives exact gradients at the cost of two circuit evaluations per parameter (per sample for the
inputs). All shifted circuits are evaluated in one batched call of the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from hqmed.quantum.adjoint import SECOND_ORDER

__all__ = ["parameter_shift"]

Circuit = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _ParameterShift(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn: Circuit, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.fn = fn
        ctx.save_for_backward(x, w)
        with torch.no_grad():
            return fn(x, w)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        if torch.is_grad_enabled():  # create_graph=True
            raise RuntimeError(SECOND_ORDER.format(path="parameter-shift"))
        x, w = ctx.saved_tensors
        fn, s = ctx.fn, math.pi / 2
        grad_x = grad_w = None
        with torch.no_grad():
            if ctx.needs_input_grad[2]:
                p = w.numel()
                eye = torch.eye(p, dtype=w.dtype, device=w.device).reshape(p, *w.shape) * s
                f = fn(x, torch.cat([w + eye, w - eye]))  # (2P, ..., n_out)
                d = (f[:p] - f[p:]) / 2
                grad_w = (d * grad_out).flatten(1).sum(1).reshape(w.shape)
            if ctx.needs_input_grad[1]:
                n = x.shape[-1]
                eye = torch.eye(n, dtype=x.dtype, device=x.device).reshape(
                    n, *([1] * (x.ndim - 1)), n) * s
                f = fn(torch.cat([x + eye, x - eye]), w)  # (2n, ..., n_out)
                d = (f[:n] - f[n:]) / 2
                grad_x = torch.movedim((d * grad_out).sum(-1), 0, -1)
        return None, grad_x, grad_w


def parameter_shift(fn: Circuit, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Evaluate ``fn(x, w)`` with gradients w.r.t. ``x`` and ``w`` by the parameter-shift rule.

    Args:
        fn: circuit ``(x (..., n), w (W..., *w_shape)) -> (W..., ..., n_out)`` (every weight
            set on every input); every entry of ``x`` and ``w`` must be the angle of exactly one
            Pauli rotation.
        x: inputs ``(..., n)``.
        w: weights ``w_shape`` (no batch dims).
    """
    return _ParameterShift.apply(fn, x, w)
