"""Circuit templates with PennyLane's exact semantics (checked against PennyLane 0.45).

Each template exists twice, from one definition:

* ``*_ops(...)`` returns the gate list ``[(name, wires, angles), ...]`` (used for resource counts
  and by the general simulator);
* the template itself, e.g. ``strongly_entangling_layers(state, weights)``, applies that list to a
  batched state ``(B, 2, ..., 2)`` gate by gate and returns the new state.

Angles may carry a leading batch axis matching the state's ``B`` (one circuit per sample); a
state with ``B == 1`` is broadcast to the angles' batch. Templates act on ``wires`` (default: all
wires of the state, or the first ``k`` for a ``k``-feature embedding).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from hqmed.errors import ConfigError, ShapeError
from hqmed.quantum.gates import ROTATIONS
from hqmed.quantum.statevector import Op, apply_ops, n_qubits_of

__all__ = [
    "angle_embedding", "angle_embedding_ops", "strongly_entangling_layers",
    "strongly_entangling_ops", "strongly_entangling_ranges", "basic_entangler_layers",
    "basic_entangler_ops", "random_layers", "random_layers_ops", "random_layers_structure",
    "hadamard_ry_layer", "hadamard_ry_ops", "ring_pairs",
]


def _rotation_gate(rotation: str, arg: str = "rotation") -> str:
    if rotation not in ROTATIONS:
        raise ConfigError(f"{arg}: expected one of 'X', 'Y', 'Z'; got {rotation!r}")
    return ROTATIONS[rotation]


def _wires(wires: Sequence[int] | None, n: int, arg: str = "wires") -> tuple[int, ...]:
    wires = tuple(range(n)) if wires is None else tuple(int(w) for w in wires)
    if len(wires) != n:
        raise ShapeError(f"{arg}: expected {n} wires; got {len(wires)}")
    return wires


def _check_shape(t: torch.Tensor, arg: str, tail: tuple[int | None, ...], what: str) -> None:
    ok = t.ndim >= len(tail) and all(
        e is None or s == e for s, e in zip(t.shape[t.ndim - len(tail):], tail))
    if not ok:
        raise ShapeError(f"{arg}: expected shape {what}; got {tuple(t.shape)}")


# ----------------------------------------------------------------------------- AngleEmbedding
def angle_embedding_ops(features: torch.Tensor, rotation: str = "X",
                        wires: Sequence[int] | None = None) -> list[Op]:
    """AngleEmbedding: ``R<rotation>(features[..., i])`` on ``wires[i]``; features ``(..., k)``."""
    gate = _rotation_gate(rotation)
    _check_shape(features, "features", (None,), "(..., k)")
    wires = _wires(wires, features.shape[-1], "wires")
    return [(gate, (w,), (features[..., i],)) for i, w in enumerate(wires)]


def angle_embedding(state: torch.Tensor, features: torch.Tensor, rotation: str = "X",
                    wires: Sequence[int] | None = None) -> torch.Tensor:
    """Encode ``features`` ``(k,)`` or ``(B, k)`` (``k <= n``) as rotation angles on the first ``k`` wires.

    PennyLane's default rotation is ``"X"``; the LiteSpineNet block uses ``"Y"``.
    """
    n = n_qubits_of(state)
    features = torch.as_tensor(features)
    if features.ndim not in (1, 2) or features.shape[-1] > n:
        raise ShapeError(f"features: expected (k,) or (B, k) with k <= {n}; got {tuple(features.shape)}")
    if wires is None:
        wires = range(features.shape[-1])
    return apply_ops(state, angle_embedding_ops(features, rotation, wires))


# ------------------------------------------------------------------- StronglyEntanglingLayers
def strongly_entangling_ranges(n_layers: int, n_wires: int) -> tuple[int, ...]:
    """PennyLane's default ranges: ``r_l = (l mod (n - 1)) + 1``; ``0`` (no entangler) for 1 wire."""
    if n_wires > 1:
        return tuple((layer % (n_wires - 1)) + 1 for layer in range(n_layers))
    return (0,) * n_layers


def ring_pairs(n_wires: int, r: int) -> list[tuple[int, int]]:
    """Imprimitive pairs of one entangling layer: ``(i, (i + r) mod n)`` for ``i = 0..n-1``."""
    return [(i, (i + r) % n_wires) for i in range(n_wires)] if n_wires > 1 else []


def strongly_entangling_ops(weights: torch.Tensor, ranges: Sequence[int] | None = None,
                            imprimitive: str = "CNOT", wires: Sequence[int] | None = None
                            ) -> list[Op]:
    """StronglyEntanglingLayers: per layer ``Rot(*weights[..., l, i, :])`` on every wire, then
    ``imprimitive(wires[i], wires[(i + r_l) mod n])`` for ``i = 0..n-1`` (none for one wire)."""
    _check_shape(weights, "weights", (None, None, 3), "(..., L, n, 3)")
    n_layers, n = weights.shape[-3], weights.shape[-2]
    wires = _wires(wires, n)
    ranges = strongly_entangling_ranges(n_layers, n) if ranges is None else tuple(ranges)
    if len(ranges) != n_layers:
        raise ShapeError(f"ranges: expected length {n_layers}; got {len(ranges)}")
    ops: list[Op] = []
    for layer in range(n_layers):
        for i in range(n):
            w = weights[..., layer, i, :]
            ops.append(("Rot", (wires[i],), (w[..., 0], w[..., 1], w[..., 2])))
        for a, b in ring_pairs(n, ranges[layer]):
            ops.append((imprimitive, (wires[a], wires[b]), ()))
    return ops


def strongly_entangling_layers(state: torch.Tensor, weights: torch.Tensor,
                               ranges: Sequence[int] | None = None, imprimitive: str = "CNOT",
                               wires: Sequence[int] | None = None) -> torch.Tensor:
    """Apply StronglyEntanglingLayers; ``weights`` ``(L, n, 3)`` or ``(B, L, n, 3)``."""
    n = n_qubits_of(state) if wires is None else len(tuple(wires))
    _check_shape(weights, "weights", (None, n, 3), f"(..., L, {n}, 3)")
    return apply_ops(state, strongly_entangling_ops(weights, ranges, imprimitive, wires))


# ----------------------------------------------------------------------- BasicEntanglerLayers
def basic_entangler_ops(weights: torch.Tensor, rotation: str = "X",
                        wires: Sequence[int] | None = None) -> list[Op]:
    """BasicEntanglerLayers: per layer ``R<rotation>(weights[..., l, i])`` on every wire, then a
    CNOT ring ``(i, i+1 mod n)`` (a single CNOT(0, 1) for two wires, none for one)."""
    gate = _rotation_gate(rotation)
    _check_shape(weights, "weights", (None, None), "(..., L, n)")
    n_layers, n = weights.shape[-2], weights.shape[-1]
    wires = _wires(wires, n)
    pairs = [(0, 1)] if n == 2 else ring_pairs(n, 1)
    ops: list[Op] = []
    for layer in range(n_layers):
        ops += [(gate, (wires[i],), (weights[..., layer, i],)) for i in range(n)]
        ops += [("CNOT", (wires[a], wires[b]), ()) for a, b in pairs]
    return ops


def basic_entangler_layers(state: torch.Tensor, weights: torch.Tensor, rotation: str = "X",
                           wires: Sequence[int] | None = None) -> torch.Tensor:
    """Apply BasicEntanglerLayers; ``weights`` ``(L, n)`` or ``(B, L, n)``."""
    n = n_qubits_of(state) if wires is None else len(tuple(wires))
    _check_shape(weights, "weights", (None, n), f"(..., L, {n})")
    return apply_ops(state, basic_entangler_ops(weights, rotation, wires))


# ------------------------------------------------------------------------------- RandomLayers
@lru_cache(maxsize=256)
def random_layers_structure(n_wires: int, n_layers: int, n_rotations: int, seed: int = 42,
                            ratio_imprim: float = 0.3, rotations: tuple[str, ...] = ("X", "Y", "Z")
                            ) -> tuple[tuple[str, tuple[int, ...], tuple[int, int] | None], ...]:
    """The gate sequence of PennyLane's RandomLayers, drawn from its own ``default_rng(seed)``.

    Returns ``((gate, wires, (layer, index) or None), ...)``: same draws, in the same order, as
    ``qml.RandomLayers.compute_decomposition``, so global RNG state never matters.
    """
    for r in rotations:
        _rotation_gate(r, "rotations")
    if not 0 <= ratio_imprim < 1:  # at 1 the draw loop adds CNOTs forever (PennyLane hangs too)
        raise ConfigError(f"ratio_imprim: expected a number in [0, 1); got {ratio_imprim}")
    rng = np.random.default_rng(seed)
    names = [ROTATIONS[r] for r in rotations]
    out = []
    for layer in range(n_layers):
        i = 0
        while i < n_rotations:
            if rng.random() > ratio_imprim:
                gate = names[int(rng.choice(len(names)))]
                wire = int(rng.choice(n_wires, size=1, replace=False)[0])
                out.append((gate, (wire,), (layer, i)))
                i += 1
            elif n_wires > 1:
                pair = rng.choice(n_wires, size=2, replace=False)
                out.append(("CNOT", (int(pair[0]), int(pair[1])), None))
    return tuple(out)


def random_layers_ops(weights: torch.Tensor, n_wires: int, seed: int = 42,
                      ratio_imprim: float = 0.3, rotations: Sequence[str] = ("X", "Y", "Z"),
                      wires: Sequence[int] | None = None) -> list[Op]:
    """RandomLayers gate list for ``weights`` ``(..., L, n_rotations)`` on ``n_wires`` wires."""
    _check_shape(weights, "weights", (None, None), "(..., L, n_rotations)")
    wires = _wires(wires, n_wires)
    structure = random_layers_structure(n_wires, weights.shape[-2], weights.shape[-1], int(seed),
                                        float(ratio_imprim), tuple(rotations))
    return [(g, tuple(wires[w] for w in ws), () if idx is None else (weights[..., idx[0], idx[1]],))
            for g, ws, idx in structure]


def random_layers(state: torch.Tensor, weights: torch.Tensor, seed: int = 42,
                  ratio_imprim: float = 0.3, rotations: Sequence[str] = ("X", "Y", "Z"),
                  wires: Sequence[int] | None = None) -> torch.Tensor:
    """Apply RandomLayers (PennyLane's gate sequence for ``seed``); ``weights`` ``(L, n_rotations)``."""
    n = n_qubits_of(state) if wires is None else len(tuple(wires))
    return apply_ops(state, random_layers_ops(weights, n, seed, ratio_imprim, rotations, wires))


# -------------------------------------------------------------------- Hadamard + RY (LCNet)
def hadamard_ry_ops(weights: torch.Tensor, features: torch.Tensor | None = None,
                    rotation: str = "Y", wires: Sequence[int] | None = None) -> list[Op]:
    """The LCNet circuit: ``H`` on every wire, optional ``R<rotation>(features[..., i])``, then a
    trainable ``RY(weights[..., i])`` on every wire. With ``rotation="Y"``: <Z_i> = -sin(x_i + w_i)."""
    _check_shape(weights, "weights", (None,), "(..., n)")
    n = weights.shape[-1]
    wires = _wires(wires, n)
    ops: list[Op] = [("Hadamard", (w,), ()) for w in wires]
    if features is not None:
        _check_shape(features, "features", (n,), f"(..., {n})")
        ops += angle_embedding_ops(features, rotation, wires)
    return ops + [("RY", (w,), (weights[..., i],)) for i, w in enumerate(wires)]


def hadamard_ry_layer(state: torch.Tensor, weights: torch.Tensor,
                      features: torch.Tensor | None = None, rotation: str = "Y",
                      wires: Sequence[int] | None = None) -> torch.Tensor:
    """Apply the LCNet Hadamard + (embedding) + trainable-RY layer; ``weights`` ``(n,)``."""
    n = n_qubits_of(state) if wires is None else len(tuple(wires))
    _check_shape(weights, "weights", (n,), f"(..., {n})")
    return apply_ops(state, hadamard_ry_ops(weights, features, rotation, wires))
