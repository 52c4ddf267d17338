"""The same circuits as PennyLane QNodes: the path to noise models, other simulators and QPUs.

PennyLane is an optional dependency (``pip install "hqmed[pennylane]"``); it is imported lazily.
"""

from __future__ import annotations

from hqmed.errors import ConfigError

__all__ = ["import_pennylane", "pennylane_qnode", "NOISE_CHANNELS"]

#: noise name -> PennyLane channel class name (one parameter: probability or damping rate)
NOISE_CHANNELS = {
    "depolarizing": "DepolarizingChannel",
    "amplitude_damping": "AmplitudeDamping",
    "phase_damping": "PhaseDamping",
    "bit_flip": "BitFlip",
    "phase_flip": "PhaseFlip",
}


def import_pennylane():
    """Import PennyLane or raise an ImportError that says how to install it."""
    try:
        import pennylane as qml  # lazy: optional extra hqmed[pennylane], slow to import (~2 s)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'backend="pennylane" needs PennyLane: pip install "hqmed[pennylane]"') from exc
    return qml


def _check_noise(noise, device: str):
    if noise is None:
        return None
    if (not isinstance(noise, (tuple, list)) or len(noise) != 2 or noise[0] not in NOISE_CHANNELS
            or not 0 <= float(noise[1]) <= 1):
        raise ConfigError(f"noise: expected (name, p) with name in {sorted(NOISE_CHANNELS)} and "
                          f"0 <= p <= 1; got {noise!r}")
    if device in ("default.qubit", "lightning.qubit", "lightning.gpu", "lightning.kokkos"):
        raise ConfigError(f"device: expected a mixed-state device such as 'default.mixed' when "
                          f"noise is set; got {device!r}")
    return noise[0], float(noise[1])


def pennylane_qnode(circuit, device: str = "default.qubit", diff_method: str = "backprop",
                    noise=None, **device_kwargs):
    """Build the PennyLane QNode ``qnode(inputs, weights) -> [<Z_0>, ..., <Z_{n-1}>]``.

    Args:
        circuit: a :class:`~hqmed.quantum.QuantumLayer`, or its ``.circuit`` (a
            :class:`~hqmed.quantum.layered.LayeredCircuit` or
            :class:`~hqmed.quantum.circuits.RandomCircuit`).
        device: any PennyLane device name (``"default.qubit"``, ``"lightning.qubit"``,
            ``"default.mixed"``, a plugin device such as ``"qiskit.remote"``).
        diff_method: passed to ``qml.qnode`` (``"backprop"``, ``"adjoint"``, ``"parameter-shift"``,
            ``"best"``, ...).
        noise: ``None`` or ``(name, p)``: the channel ``NOISE_CHANNELS[name](p)`` on every wire
            after the encoding and after every variational layer (needs a mixed-state device).
        device_kwargs: extra arguments of ``qml.device`` (e.g. ``shots``).
    """
    qml = import_pennylane()
    circuit = getattr(circuit, "circuit", circuit)
    noise = _check_noise(noise, device)
    n, wires = circuit.n_qubits, list(range(circuit.n_qubits))
    dev = qml.device(device, wires=n, **device_kwargs)
    rotation = circuit.rotation
    ansatz = circuit.ansatz

    def add_noise():
        if noise is not None:
            channel = getattr(qml, NOISE_CHANNELS[noise[0]])
            for w in wires:
                channel(noise[1], wires=w)

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def qnode(inputs, weights):
        if ansatz == "ry":
            for w in wires:
                qml.Hadamard(wires=w)
        qml.AngleEmbedding(inputs, wires=wires, rotation=rotation)
        add_noise()
        if ansatz == "ry":
            for w in wires:
                qml.RY(weights[..., w], wires=w)
            add_noise()
        elif ansatz == "random":
            rots = [getattr(qml, "R" + r) for r in circuit.rotations]
            qml.RandomLayers(weights, wires=wires, ratio_imprim=circuit.ratio_imprim,
                             rotations=rots, seed=circuit.seed)
            add_noise()
        else:
            ranges = circuit.entangler_ranges
            # one template call without noise; one per layer when a channel follows each layer
            blocks = [(0, circuit.n_layers)] if noise is None else \
                [(layer, layer + 1) for layer in range(circuit.n_layers)]
            for a, b in blocks:
                if ansatz == "basic_entangler":
                    qml.BasicEntanglerLayers(weights[..., a:b, :], wires=wires,
                                             rotation=getattr(qml, "R" + circuit.entangler_rotation))
                else:
                    qml.StronglyEntanglingLayers(weights[..., a:b, :, :], wires=wires,
                                                 ranges=None if n == 1 else list(ranges[a:b]))
                add_noise()
        return [qml.expval(qml.PauliZ(w)) for w in wires]

    return qnode
