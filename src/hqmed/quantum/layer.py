"""QuantumLayer: a variational circuit as a torch ``nn.Module`` (the papers' quantum block).

    inputs (..., n) --AngleEmbedding(rotation)--> ansatz(weights) --> <Z_0>, ..., <Z_{n-1}>  (..., n)

``backend="torch"`` simulates the circuit exactly in PyTorch (any device, autograd or the
parameter-shift rule); ``backend="pennylane"`` builds the same circuit as a PennyLane QNode
wrapped in ``qml.qnn.TorchLayer`` and runs it on any PennyLane device (noise models, QPUs).
Both backends share the ``weights`` parameter layout, so a state_dict moves between them.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from hqmed.errors import ConfigError, ShapeError
from hqmed.quantum.adjoint import adjoint_expval
from hqmed.quantum.circuits import LayeredCircuit, RandomCircuit, gates_expval
from hqmed.quantum.engine import CACHE_MAX_QUBITS, check_memory, prefer_kernel, select_simulator
from hqmed.quantum.kernel import MAX_QUBITS as KERNEL_MAX_QUBITS
from hqmed.quantum.kernel import KernelProgram, kernel_expval, kernel_program, kernel_status
from hqmed.quantum.options import (
    AnsatzOptions,
    DeviceOptions,
    EngineOptions,
    WeightInit,
    split_options,
)
from hqmed.quantum.pennylane_bridge import import_pennylane, pennylane_qnode
from hqmed.quantum.resources import CircuitResources, circuit_resources
from hqmed.quantum.shift import parameter_shift

__all__ = ["QuantumLayer", "ANSATZE"]

ANSATZE = ("strongly_entangling", "basic_entangler", "ry", "random")
_TORCH_DIFF = ("backprop", "parameter-shift")
_BROADCAST_GRAD = ("backprop", "adjoint", "best")  # PennyLane methods that handle batched inputs



def _require_kernel() -> None:
    """Raise a ConfigError naming why when ``simulator="kernel"`` cannot run here."""
    status = kernel_status()
    if not status.available:
        raise ConfigError(f"simulator: expected the compiled kernel for simulator='kernel'; "
                          f"got none ({status.reason})")

class QuantumLayer(nn.Module):
    """Angle-embedding variational circuit returning PauliZ expectations on every wire.

    Args:
        n_qubits: number of qubits ``n`` (= input and output features).
        n_layers: variational layers ``L`` (ignored by ``ansatz="ry"``, which has one RY per wire).
        rotation: encoding rotation ``"X"``, ``"Y"`` (both papers) or ``"Z"`` (AngleEmbedding;
            one feature per wire, angle in radians).
        ansatz: ``"strongly_entangling"`` (StronglyEntanglingLayers, weights ``(L, n, 3)``; the
            LiteSpineNet block), ``"ry"`` (LCNet: Hadamard on every wire, encoding, trainable RY;
            weights ``(n,)``, with rotation "Y" ``<Z_i> = -sin(x_i + w_i)``), ``"basic_entangler"``
            (BasicEntanglerLayers, weights ``(L, n)``) or ``"random"`` (RandomLayers, weights
            ``(L, n_rotations)``, structure fixed by ``options.seed``).
        backend: ``"torch"`` (exact simulator) or ``"pennylane"`` (TorchLayer on ``device``).
        diff_method: torch backend: ``"backprop"`` (autograd) or ``"parameter-shift"``;
            pennylane backend: passed to the QNode (e.g. ``"backprop"``, ``"adjoint"``).
        options: :class:`~hqmed.quantum.options.AnsatzOptions` (entangler rotation, CNOT
            ranges, RandomLayers' seed/n_rotations/ratio_imprim).
        engine: :class:`~hqmed.quantum.options.EngineOptions` (torch backend: simulator choice,
            crossover override, memory limit).
        device: :class:`~hqmed.quantum.options.DeviceOptions` (pennylane backend: device name,
            noise, ``qml.device`` arguments).
        init: :class:`~hqmed.quantum.options.WeightInit` (default uniform in ``[0, 2 pi)``).
        embedding: ``"angle"`` (the only encoding so far).

    From a flat config dict (``model.kwargs.quantum_kwargs``) use :meth:`from_config`.

    Shapes: forward ``(..., n) -> (..., n)``; the output dtype is the input dtype (float32 in,
    float32 out; float64 inputs are simulated in complex128).

    Gradients of the fused and state-vector paths are first order: ``create_graph=True``
    (e.g. a gradient penalty) raises a RuntimeError saying so; use ``simulator="gates"`` (plain
    autograd) for second-order derivatives.

    On the CPU, small batches run in the compiled kernel (:mod:`hqmed.quantum.kernel`) when the
    system C compiler can build it, else in the torch simulators (see
    :mod:`hqmed.quantum.engine`); :meth:`simulator_for` says which one a call uses.

    In eval mode, or whenever no gradient w.r.t. the weights is needed (``torch.no_grad``,
    frozen weights), circuits of at most ``CACHE_MAX_QUBITS`` qubits cache the variational
    unitary, so inference is two matmuls. The cache is reused only while the weights equal a
    stored copy (compared element by element at every call), so any change (an optimizer step,
    fused or not, ``.data`` writes, ``load_state_dict``) rebuilds it.
    """

    def __init__(self, n_qubits: int, n_layers: int = 1, rotation: str = "Y",
                 ansatz: str = "strongly_entangling", backend: str = "torch",
                 diff_method: str = "backprop", *, options: AnsatzOptions | None = None,
                 engine: EngineOptions | None = None, device: DeviceOptions | None = None,
                 init: WeightInit | None = None, embedding: str = "angle") -> None:
        super().__init__()
        options, engine, init = options or AnsatzOptions(), engine or EngineOptions(), init or WeightInit()
        if not isinstance(n_qubits, int) or n_qubits < 1:
            raise ConfigError(f"n_qubits: expected an int >= 1; got {n_qubits!r}")
        if not isinstance(n_layers, int) or n_layers < (0 if ansatz == "ry" else 1):
            raise ConfigError(f"n_layers: expected an int >= 1; got {n_layers!r}")
        if embedding != "angle":
            raise ConfigError(f"embedding: expected 'angle'; got {embedding!r}")
        if rotation not in ("X", "Y", "Z"):
            raise ConfigError(f"rotation: expected 'X', 'Y' or 'Z'; got {rotation!r}")
        if ansatz not in ANSATZE:
            raise ConfigError(f"ansatz: expected one of {ANSATZE}; got {ansatz!r}")
        if backend not in ("torch", "pennylane"):
            raise ConfigError(f"backend: expected 'torch' or 'pennylane'; got {backend!r}")
        if backend == "torch" and diff_method not in _TORCH_DIFF:
            raise ConfigError(f"diff_method: expected one of {_TORCH_DIFF} for backend='torch'; "
                              f"got {diff_method!r}")
        if engine.simulator == "fused" and ansatz == "random":
            raise ConfigError("simulator: expected 'auto', 'statevector' or 'gates' for "
                              "ansatz='random'; got 'fused'")
        if engine.simulator == "kernel" and backend == "torch":
            if diff_method != "backprop":
                raise ConfigError(f"simulator: expected diff_method='backprop' for simulator='kernel'; "
                                  f"got {diff_method!r}")
            _require_kernel()
        if backend == "torch" and device is not None:
            raise ConfigError("device: expected backend='pennylane' for device options; got backend='torch'")
        options.check_ranges(ansatz, n_qubits, n_layers)
        self.n_qubits, self.n_layers = n_qubits, n_layers
        self.embedding, self.rotation, self.ansatz = embedding, rotation, ansatz
        self.backend, self.diff_method = backend, diff_method
        self.options, self.engine, self.init = options, engine, init
        self.pennylane_device = device or DeviceOptions()
        if ansatz == "random":
            self.circuit = RandomCircuit(n_qubits, n_layers, rotation, options.n_rotations,
                                         options.seed, options.ratio_imprim)
        else:
            self.circuit = LayeredCircuit(n_qubits, max(n_layers, 1), rotation, ansatz,
                                          options.entangler_rotation, options.ranges)
        self.weights = nn.Parameter(torch.empty(self.circuit.weight_shape))
        init.apply(self.weights)
        self._cache: tuple | None = None
        self._program: KernelProgram | None = None
        self._qlayer = None
        if backend == "torch" and not self._product:
            check_memory(n_qubits, 1, torch.float32, engine.memory_limit_bytes)
        if backend == "pennylane":
            qml = import_pennylane()
            dev = self.pennylane_device
            qnode = pennylane_qnode(self.circuit, dev.name, diff_method, dev.noise, **dict(dev.kwargs))
            qlayer = qml.qnn.TorchLayer(qnode, {"weights": self.circuit.weight_shape})
            qlayer.qnode_weights["weights"] = self.weights  # share our parameter
            object.__setattr__(self, "_qlayer", qlayer)  # not a submodule: one state_dict layout

    @classmethod
    def from_config(cls, n_qubits: int, n_layers: int = 1, **flat) -> QuantumLayer:
        """Build from flat config keys (``ranges=[1, 1, 1]``, ``simulator="gates"``,
        ``device="lightning.qubit"``, ``shots=1000`` ...), sorted into option groups by
        :func:`hqmed.quantum.options.split_options`."""
        return cls(n_qubits, n_layers, **split_options(flat))

    @property
    def simulator(self) -> str:
        """The requested torch simulator (``engine.simulator``)."""
        return self.engine.simulator

    def extra_repr(self) -> str:
        return (f"n_qubits={self.n_qubits}, n_layers={self.n_layers}, rotation={self.rotation!r}, "
                f"ansatz={self.ansatz!r}, backend={self.backend!r}, diff_method={self.diff_method!r}")

    # ------------------------------------------------------------------ forward
    @property
    def _product(self) -> bool:
        return isinstance(self.circuit, LayeredCircuit) and self.circuit.product

    def simulator_for(self, batch: int, device: torch.device | str = "cpu", grad: bool = True) -> str:
        """The torch-backend simulator a call with ``batch`` samples on ``device`` uses (``grad``:
        gradients are needed): ``"kernel"``, ``"fused"`` (also the closed forms of product
        circuits), ``"statevector"`` or ``"gates"``."""
        device = device if isinstance(device, torch.device) else torch.device(device)
        return self._choose(batch, device.type == "cpu", grad)

    def _choose(self, batch: int, cpu: bool, grad: bool) -> str:
        if self.simulator != "auto":
            return self.simulator
        if isinstance(self.circuit, RandomCircuit):
            sim = "statevector"
        elif self._product:
            sim = "closed_form" if self.ansatz == "ry" else "fused"
        else:
            sim = select_simulator(self.n_qubits, batch, self.engine.fused_max_qubits)
        if (cpu and self.diff_method == "backprop" and self.n_qubits <= KERNEL_MAX_QUBITS
                and kernel_status().available
                and prefer_kernel(sim, self.n_qubits, batch, grad, self.engine.kernel_max_batch)):
            return "kernel"
        return "fused" if sim == "closed_form" else sim

    def _evaluate(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Broadcasting evaluation ``(x (..., n), w (W..., *shape)) -> (W..., ..., n)``."""
        if self.simulator == "gates":
            return gates_expval(self.circuit, x, w)
        return self.circuit.evaluate(x, w)

    def _use_cache(self) -> bool:
        return (self.backend == "torch" and self.simulator in ("auto", "fused")
                and isinstance(self.circuit, LayeredCircuit) and not self.circuit.product
                and self.n_qubits <= CACHE_MAX_QUBITS
                and not (torch.is_grad_enabled() and self.weights.requires_grad))

    def _cached_unitary(self, dtype: torch.dtype) -> torch.Tensor:
        """The unitary of the current weights; rebuilt unless the weights equal the stored copy."""
        w = self.weights.detach()
        c = self._cache
        if c is None or c[0] != (dtype, w.device) or not torch.equal(c[1], w):
            with torch.inference_mode(False), torch.no_grad():
                self._cache = ((dtype, w.device), w.clone(), self.circuit.unitary(w.to(dtype)))
        return self._cache[2]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """PauliZ expectations: ``(..., n)`` -> ``(..., n)`` in the dtype of ``inputs``."""
        if not isinstance(inputs, torch.Tensor):
            raise ShapeError(f"inputs: expected a torch.Tensor (..., {self.n_qubits}); "
                             f"got {type(inputs).__name__}")
        if inputs.ndim == 0 or inputs.shape[-1] != self.n_qubits:
            got = "a scalar" if inputs.ndim == 0 else f"{inputs.shape[-1]} (shape {tuple(inputs.shape)})"
            raise ShapeError(f"inputs: expected last dim {self.n_qubits}; got {got}")
        out_dtype = inputs.dtype if inputs.is_floating_point() else torch.get_default_dtype()
        dtype = torch.float64 if out_dtype == torch.float64 else torch.float32
        # no-op reshapes and casts are skipped: at batch 1 each costs as much as the kernel
        x = inputs if inputs.ndim == 2 else inputs.reshape(-1, self.n_qubits)
        x = x if x.dtype == dtype else x.to(dtype)
        w = self.weights
        if self.backend == "torch" and self._use_kernel(x, w):
            # (no check_memory: the kernel holds two state vectors whatever the batch, which the
            # constructor's batch-1 check covers)
            if self._program is None:
                self._program = kernel_program(self.circuit)
            out = kernel_expval(self._program, x, w if w.dtype == dtype else w.to(dtype))
        else:
            with torch.autocast(x.device.type, enabled=False):  # the simulator needs full precision
                out = self._simulate(x, dtype)
        out = out if inputs.ndim == 2 else out.reshape(*inputs.shape[:-1], self.n_qubits)
        return out if out.dtype == out_dtype else out.to(out_dtype)

    def _use_kernel(self, x: torch.Tensor, w: torch.Tensor) -> bool:
        """Whether this call runs in the compiled kernel (``simulator_for`` says "kernel")."""
        grad = torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)
        if self._choose(x.shape[0], x.is_cpu and w.is_cpu, grad) != "kernel":
            return False
        if not (x.is_cpu and w.is_cpu):
            raise ConfigError(f"simulator: expected CPU tensors for simulator='kernel'; got inputs "
                              f"on {x.device} and weights on {w.device}")
        _require_kernel()  # simulator="kernel" may have been set after construction
        return True

    def _simulate(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.backend == "pennylane":
            if self._qlayer.qnode_weights["weights"] is not self.weights:  # load_state_dict(assign=True)
                self._qlayer.qnode_weights["weights"] = self.weights
            if x.requires_grad and torch.is_grad_enabled() and self.diff_method not in _BROADCAST_GRAD:
                # PennyLane's shift/finite-difference transforms cannot differentiate w.r.t.
                # broadcast inputs: run the samples one by one
                return torch.stack([self._qlayer(row) for row in x]).to(dtype)
            return self._qlayer(x).to(dtype)
        if not self._product:
            check_memory(self.n_qubits, x.shape[0], dtype, self.engine.memory_limit_bytes)
        if self._use_cache():
            return self.circuit.expval_from_unitary(x, self._cached_unitary(dtype))
        w = self.weights.to(dtype)
        if self.diff_method == "parameter-shift":
            return parameter_shift(self._evaluate, x, w)
        if self.simulator_for(x.shape[0]) == "statevector":
            return adjoint_expval(self.circuit, x, w)
        return self._evaluate(x, w)

    def resized(self, n_qubits: int) -> QuantumLayer:
        """The same circuit family on ``n_qubits`` wires (torch backend, same engine options):
        for cost sweeps against ``n``. Custom ``ranges`` are kept where they fit ``n``."""
        ranges = self.options.ranges
        options = replace(self.options, ranges=ranges if ranges and max(ranges) <= n_qubits - 1 else None)
        return QuantumLayer(n_qubits, self.n_layers, self.rotation, self.ansatz, options=options,
                            engine=self.engine, init=self.init)

    # ---------------------------------------------------------------- resources
    def circuit_resources(self) -> CircuitResources:
        """Table-8 style resource counts (see :class:`hqmed.quantum.CircuitResources`)."""
        x = torch.zeros(self.n_qubits)
        w = torch.zeros(self.circuit.weight_shape)
        return circuit_resources(self.circuit.encoding_ops(x), self.circuit.variational_ops(w),
                                 self.n_qubits, self.circuit.n_layers, self.n_qubits)
