"""Option groups of :class:`~hqmed.quantum.QuantumLayer`, one small frozen dataclass each.

The layer's own signature keeps what every circuit has (qubits, layers, encoding rotation,
ansatz, backend, differentiation method), like a PennyLane template; everything else sits in the
group it belongs to, validated where it is defined:

* :class:`AnsatzOptions`: the template arguments of one ansatz family (PennyLane's names);
* :class:`EngineOptions`: how the torch backend simulates (see :mod:`hqmed.quantum.engine`);
* :class:`DeviceOptions`: the PennyLane device of ``backend="pennylane"``;
* :class:`WeightInit`: the initial weights.

Configs and model options stay flat (``model.kwargs.quantum_kwargs: {ranges: [1, 1, 1]}``);
:func:`split_options` is the one place that sorts flat keys into these groups.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from hqmed.errors import ConfigError
from hqmed.quantum.engine import SIMULATORS

__all__ = ["AnsatzOptions", "EngineOptions", "DeviceOptions", "WeightInit", "split_options"]

_ROT = ("X", "Y", "Z")


def _int_or_none(name: str, v, lo: int = 1) -> None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
        raise ConfigError(f"{name}: expected an int >= {lo} or None; got {v!r}")


@dataclass(frozen=True)
class AnsatzOptions:
    """Template arguments (PennyLane's names and defaults).

    Attributes:
        entangler_rotation: ``"basic_entangler"``: the rotation of BasicEntanglerLayers.
        ranges: ``"strongly_entangling"``: the CNOT range of each layer (PennyLane's ``ranges``;
            None = ``(l mod (n - 1)) + 1``; ``[1] * L`` is the LiteSpineNet paper's Eq. (3)).
        n_rotations, seed, ratio_imprim: ``"random"``: RandomLayers' arguments (``n_rotations``
            None = ``n``; ``ratio_imprim`` in [0, 1)).
    """

    entangler_rotation: str = "X"
    ranges: tuple[int, ...] | None = None
    n_rotations: int | None = None
    seed: int = 42
    ratio_imprim: float = 0.3

    def __post_init__(self) -> None:
        if self.entangler_rotation not in _ROT:
            raise ConfigError(f"entangler_rotation: expected 'X', 'Y' or 'Z'; got {self.entangler_rotation!r}")
        # n_rotations and ratio_imprim are checked by RandomCircuit, which draws the sequence
        if self.ranges is not None:
            try:
                object.__setattr__(self, "ranges", tuple(self.ranges))
            except TypeError:
                raise ConfigError(f"ranges: expected a sequence of ints (one per layer); "
                                  f"got {self.ranges!r}") from None

    def check_ranges(self, ansatz: str, n_qubits: int, n_layers: int) -> None:
        """``ranges`` must be one int in [1, n - 1] per layer of a strongly entangling ansatz."""
        if self.ranges is None:
            return
        if ansatz != "strongly_entangling":
            raise ConfigError(f"ranges: expected ansatz='strongly_entangling'; got ansatz={ansatz!r}")
        values = self.ranges
        if len(values) != n_layers:
            raise ConfigError(f"ranges: expected {n_layers} values (one per layer); got {len(values)}")
        hi = max(n_qubits - 1, 0)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not (min(1, hi) <= v <= hi):
                raise ConfigError(f"ranges: expected ints in [{min(1, hi)}, {hi}] for {n_qubits} "
                                  f"qubits; got {list(values)}")


@dataclass(frozen=True)
class EngineOptions:
    """How ``backend="torch"`` simulates (see :mod:`hqmed.quantum.engine`).

    Attributes:
        simulator: ``"auto"`` (size-aware choice), ``"fused"`` (structured fast path of layered
            ansatze, small circuits), ``"statevector"`` (gate by gate with an adjoint backward,
            memory ``O(B 2^n)``, large circuits), ``"kernel"`` (the compiled C kernel of
            :mod:`hqmed.quantum.kernel`, CPU only: small batches) or ``"gates"`` (plain autograd
            through every gate: slow, for cross-checks and second-order gradients).
        fused_max_qubits: override the measured fused/state-vector crossover of ``"auto"``.
        kernel_max_batch: override the measured kernel/torch crossover of ``"auto"``: the kernel
            runs batches of at most this many samples (0: never).
        memory_limit_bytes: refuse circuits whose state-vector working set exceeds this
            (default: the machine's physical memory).
    """

    simulator: str = "auto"
    fused_max_qubits: int | None = None
    memory_limit_bytes: int | None = None
    kernel_max_batch: int | None = None

    def __post_init__(self) -> None:
        if self.simulator not in SIMULATORS:
            raise ConfigError(f"simulator: expected one of {SIMULATORS}; got {self.simulator!r}")
        _int_or_none("fused_max_qubits", self.fused_max_qubits)
        _int_or_none("memory_limit_bytes", self.memory_limit_bytes)
        _int_or_none("kernel_max_batch", self.kernel_max_batch, lo=0)


@dataclass(frozen=True)
class DeviceOptions:
    """The PennyLane device of ``backend="pennylane"``.

    Attributes:
        name: any PennyLane device, e.g. ``"default.qubit"``, ``"lightning.qubit"``,
            ``"default.mixed"``, ``"qiskit.remote"``.
        noise: ``(channel, p)`` after the encoding and each layer (mixed-state devices), channel
            in ``"depolarizing"``, ``"amplitude_damping"``, ``"phase_damping"``, ``"bit_flip"``,
            ``"phase_flip"``.
        kwargs: further ``qml.device`` arguments, e.g. ``{"shots": 1000}`` or a Qiskit backend.
    """

    name: str = "default.qubit"
    noise: tuple | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)


INIT_KINDS = ("uniform", "normal", "identity")


@dataclass(frozen=True)
class WeightInit:
    """Initial circuit weights (radians).

    Attributes:
        kind: ``"uniform"`` in ``[0, 2 pi)`` (qml.qnn.TorchLayer's default), ``"normal"`` with
            mean 0 and standard deviation ``std`` (small angles: a circuit near the identity
            rotations, a common remedy against barren plateaus; Zhang et al. 2022) or
            ``"identity"`` (every rotation at angle 0, the ``std -> 0`` limit of ``"normal"``:
            Grant et al. 2019's identity-block idea on a fixed ansatz, which starts as its bare
            CNOT network; an exact identity *block*, a circuit followed by its mirror image, would
            need a mirrored ansatz that StronglyEntanglingLayers do not contain).
        std: standard deviation of ``"normal"``.

    ``hqmed diagnose`` measures what each choice does to output concentration and gradients.
    """

    kind: str = "uniform"
    std: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in INIT_KINDS:
            raise ConfigError(f"init: expected one of {INIT_KINDS}; got {self.kind!r}")
        if not isinstance(self.std, (int, float)) or not self.std > 0 or not math.isfinite(self.std):
            raise ConfigError(f"init std: expected a number > 0; got {self.std!r}")

    def apply(self, weights: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Fill ``weights`` in place (torch's global generator unless ``generator``, like
        ``nn.init``: uniform draws exactly as ``nn.init.uniform_(w, 0, 2 pi)``)."""
        with torch.no_grad():
            if self.kind == "uniform":
                weights.uniform_(0.0, 2 * math.pi, generator=generator)
            elif self.kind == "normal":
                weights.normal_(0.0, self.std, generator=generator)
            else:
                weights.zero_()


_TOP = ("embedding", "rotation", "ansatz", "backend", "diff_method")


def split_options(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat config keys -> ``QuantumLayer`` keyword arguments with option groups.

    ``embedding/rotation/ansatz/backend/diff_method`` stay as they are; AnsatzOptions and
    EngineOptions fields go to their groups; ``device`` (name), ``noise`` and
    ``device_options`` (dict) make the DeviceOptions; ``init`` is ``"uniform"``, ``"normal"`` or
    ``{kind, std}``. Any other key is a ``qml.device`` argument when ``backend="pennylane"``
    (e.g. ``shots``) and an error otherwise.
    """
    groups = {"options": {f.name for f in fields(AnsatzOptions)},
              "engine": {f.name for f in fields(EngineOptions)}}
    out: dict[str, Any] = {}
    parts: dict[str, dict] = {"options": {}, "engine": {}}
    device: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in flat.items():
        group = next((g for g, names in groups.items() if key in names), None)
        if key in _TOP:
            out[key] = value
        elif group is not None:
            parts[group][key] = value
        elif key == "device":
            device["name"] = value
        elif key == "noise":
            device["noise"] = value
        elif key == "device_options":
            extra.update(value or {})
        elif key == "init":
            out["init"] = WeightInit(value) if isinstance(value, str) else WeightInit(**dict(value))
        else:
            extra[key] = value
    if extra and out.get("backend", "torch") != "pennylane":
        raise ConfigError(f"quantum option {sorted(extra)[0]!r}: expected one of "
                          f"{sorted(set(_TOP) | groups['options'] | groups['engine'] | {'init'})} "
                          "(device arguments need backend='pennylane'); got an unknown key")
    if parts["options"]:
        out["options"] = AnsatzOptions(**parts["options"])
    if parts["engine"]:
        out["engine"] = EngineOptions(**parts["engine"])
    if device or extra:
        out["device"] = DeviceOptions(**device, kwargs=extra)
    return out
