"""Trainability diagnostics for quantum blocks: is the circuit a bottleneck, and why?

Quantities (each a pure function of states, outputs or a circuit; ``hqmed diagnose`` runs them on
every ``QuantumLayer`` of a model or trained run):

* **Output concentration** (:func:`output_concentration`): the standard deviation of each
  ``<Z_i>`` over inputs. The RY embedding alone gives ``std cos(x) = 0.707`` for ``x ~ U[-pi, pi]``;
  a random deep circuit concentrates every ``<Z_i>`` near 0, so the head receives little signal.
* **Gradient variance** (:func:`gradient_variance`): the variance over random initialisations of
  ``d C / d w`` for the cost ``C = mean_x <Z_0>`` (the input-averaged first output), averaged over
  all weights (McClean et al. 2018). :func:`barren_plateau_curve` sweeps it over qubits and
  layers and fits ``Var ~ 2^(-rate * n)``.
* **Entanglement** (:func:`meyer_wallach`): ``Q = 2 (1 - mean_k Tr rho_k^2)`` (Meyer & Wallach
  2002; Brennen 2003), 0 for product states and 1 for GHZ.
* **Expressibility** (:func:`expressibility`): the KL divergence of the circuit's pairwise fidelity
  histogram from the Haar one, whose density is ``(N - 1)(1 - F)^(N - 2)`` with ``N = 2^n``
  (Sim, Johnson & Aspuru-Guzik 2019). Lower is more expressive; it tends to 0 for Haar states.
* **Effective rank** (:func:`effective_rank`): ``exp`` of the entropy of the normalised
  eigenvalues of the outputs' covariance (Roy & Vetterli 2007): how many independent features the
  block really hands to the head.

Own code, not a library's: none of scikit-learn, scipy or PennyLane ships these measures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hqmed.errors import ConfigError, ShapeError
from hqmed.quantum import QuantumLayer, apply_ops, zero_state
from hqmed.quantum.options import WeightInit

__all__ = [
    "circuit_states", "meyer_wallach", "haar_fidelity_probabilities", "fidelity_kl",
    "expressibility", "output_concentration", "gradient_variance", "barren_plateau_curve",
    "fit_decay", "effective_rank", "angle_spread", "BlockSpec", "EMBEDDING_STD",
]

#: std of <Z_i> = cos(x_i) over x ~ U[-pi, pi] for the RY embedding alone (no variational block):
#: sqrt(E[cos^2]) = 1/sqrt(2). The reference a concentrated block is compared with.
EMBEDDING_STD = 1 / math.sqrt(2)


@dataclass(frozen=True)
class BlockSpec:
    """What a diagnostic needs to rebuild a quantum block at another size or initialisation.

    ``ansatz`` and ``rotation`` as :class:`~hqmed.quantum.QuantumLayer`; ``init`` and ``init_std``
    as :class:`~hqmed.quantum.options.WeightInit`'s ``kind`` and ``std``.
    """

    n_qubits: int
    n_layers: int
    ansatz: str = "strongly_entangling"
    rotation: str = "Y"
    init: str = "uniform"
    init_std: float = 0.1

    @classmethod
    def of(cls, layer: QuantumLayer) -> BlockSpec:
        return cls(layer.n_qubits, layer.n_layers, layer.ansatz, layer.rotation, layer.init.kind,
                   layer.init.std)

    def build(self, n_qubits: int | None = None, n_layers: int | None = None,
              generator: torch.Generator | None = None) -> QuantumLayer:
        """A float64 torch-backend layer of this spec (optionally resized), freshly initialised."""
        init = WeightInit(self.init, self.init_std)
        layer = QuantumLayer(n_qubits or self.n_qubits, n_layers or self.n_layers,
                             rotation=self.rotation, ansatz=self.ansatz, init=init).double()
        init.apply(layer.weights, generator)
        return layer


# ----------------------------------------------------------------------------- states
def circuit_states(layer: QuantumLayer, inputs: torch.Tensor,
                   weights: torch.Tensor | None = None) -> torch.Tensor:
    """State vectors ``(B, 2^n)`` after the embedding of ``inputs (B, n)`` and the ansatz.

    ``weights`` (default: the layer's) may carry a leading batch dim ``(B, *weight_shape)`` to give
    every input its own weights (used by :func:`expressibility`).
    """
    circuit = layer.circuit
    n = circuit.n_qubits
    if inputs.ndim != 2 or inputs.shape[-1] != n:
        raise ShapeError(f"inputs: expected shape (B, {n}); got {tuple(inputs.shape)}")
    w = layer.weights.detach() if weights is None else weights
    dtype = torch.complex128 if inputs.dtype == torch.float64 else torch.complex64
    state = zero_state(n, inputs.shape[0], dtype, inputs.device)
    w = w.to(inputs.dtype)
    state = apply_ops(state, circuit.encoding_ops(inputs) + circuit.variational_ops(w))
    return state.reshape(inputs.shape[0], 2 ** n)


def meyer_wallach(states: torch.Tensor) -> torch.Tensor:
    """Meyer-Wallach entanglement ``Q`` of each state ``(B, 2^n)`` -> ``(B,)`` in [0, 1]."""
    if states.ndim != 2 or states.shape[-1] < 2 or states.shape[-1] & (states.shape[-1] - 1):
        raise ShapeError(f"states: expected shape (B, 2^n) with n >= 1; got {tuple(states.shape)}")
    b, dim = states.shape
    n = dim.bit_length() - 1
    psi = states.reshape(b, *([2] * n))
    purity = torch.zeros(b, dtype=states.real.dtype, device=states.device)
    for k in range(n):
        m = psi.movedim(1 + k, 1).reshape(b, 2, -1)
        rho = torch.einsum("bir,bjr->bij", m, m.conj())
        purity = purity + (rho.abs() ** 2).sum(dim=(1, 2))
    return 2 * (1 - purity / n)


# ----------------------------------------------------------------------- expressibility
def haar_fidelity_probabilities(dim: int, bins: int) -> np.ndarray:
    """Probability of each of ``bins`` equal fidelity bins on [0, 1] under Haar-random pairs.

    Exact integral of the density ``(N - 1)(1 - F)^(N - 2)``: ``(1 - a)^(N-1) - (1 - b)^(N-1)``.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    cdf_tail = (1.0 - edges) ** (dim - 1)
    return cdf_tail[:-1] - cdf_tail[1:]


def fidelity_kl(states_a: torch.Tensor, states_b: torch.Tensor, bins: int = 75) -> float:
    """KL(P_states || P_Haar) of the fidelities ``|<a_i|b_i>|^2`` of paired states ``(M, 2^n)``.

    Empty histogram bins contribute 0 (``p log p/q -> 0``), as in Sim et al. (2019).
    """
    if states_a.shape != states_b.shape or states_a.ndim != 2:
        raise ShapeError(f"states: expected two (M, 2^n) tensors of one shape; got "
                         f"{tuple(states_a.shape)} and {tuple(states_b.shape)}")
    fid = ((states_a.conj() * states_b).sum(-1).abs() ** 2).clamp(0, 1).cpu().numpy()
    p, _ = np.histogram(fid, bins=bins, range=(0.0, 1.0))
    p = p / p.sum()
    q = haar_fidelity_probabilities(states_a.shape[-1], bins)
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-300))))


def expressibility(spec: BlockSpec, n_pairs: int = 2000, bins: int = 75,
                   generator: torch.Generator | None = None) -> float:
    """Sim et al.'s expressibility of the block: KL of its fidelity distribution from Haar's.

    Each state of a pair has its own input ``x ~ U[-pi, pi]^n`` and its own weights drawn from the
    spec's initialisation, so this measures the family of states the block can reach.
    """
    layer = spec.build()
    init = WeightInit(spec.init, spec.init_std)

    def draw() -> torch.Tensor:
        x = (torch.rand(n_pairs, spec.n_qubits, generator=generator, dtype=torch.float64) * 2 - 1)
        w = torch.empty(n_pairs, *layer.circuit.weight_shape, dtype=torch.float64)
        init.apply(w, generator)  # each state its own weights
        return circuit_states(layer, x * math.pi, w)

    return fidelity_kl(draw(), draw(), bins)


# ------------------------------------------------------------------------ concentration
def output_concentration(outputs: torch.Tensor) -> torch.Tensor:
    """Standard deviation of each output over the inputs: ``(B, n)`` -> ``(n,)``."""
    if outputs.ndim != 2 or outputs.shape[0] < 2:
        raise ShapeError(f"outputs: expected (B, n) with B >= 2; got {tuple(outputs.shape)}")
    return outputs.double().std(dim=0)


def angle_spread(angles: torch.Tensor, saturation: float = 0.99 * math.pi / 2) -> dict:
    """How the angles reaching the circuit are spread, per qubit (``angles (B, n)``).

    ``saturated`` is the fraction of angles with ``|angle| >= saturation`` (default 99% of pi/2:
    a tanh bridge scaled to [-pi/2, pi/2] pinned at its ends, where its gradient vanishes);
    ``distinct`` counts the qubits whose angles differ (a bridge that pools a map smaller than
    its grid feeds several qubits the same angle).
    """
    a = angles.detach().double()
    distinct: list[torch.Tensor] = []
    for col in a.T:  # qubits fed the same angle on every image carry one feature between them
        if not any(torch.allclose(col, d, rtol=0.0, atol=1e-6) for d in distinct):
            distinct.append(col)
    return {"std": a.std(0).tolist(), "min": a.min(0).values.tolist(),
            "max": a.max(0).values.tolist(), "distinct": len(distinct),
            "saturated_fraction": float((a.abs() >= saturation).double().mean())}


def effective_rank(outputs: torch.Tensor) -> float:
    """exp(entropy) of the normalised eigenvalues of the outputs' covariance ``(B, n)``."""
    if outputs.ndim != 2 or outputs.shape[0] < 2:
        raise ShapeError(f"outputs: expected (B, n) with B >= 2; got {tuple(outputs.shape)}")
    cov = np.cov(outputs.detach().double().cpu().numpy(), rowvar=False)
    eig = np.clip(np.linalg.eigvalsh(np.atleast_2d(cov)), 0.0, None)
    if eig.sum() <= 0:
        return 0.0
    p = eig / eig.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


# ---------------------------------------------------------------------- gradient variance
def _inputs(n_inputs: int, n_qubits: int, generator: torch.Generator | None) -> torch.Tensor:
    return (torch.rand(n_inputs, n_qubits, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi


def gradient_variance(spec: BlockSpec, n_qubits: int | None = None, n_layers: int | None = None,
                      n_inits: int = 20, n_inputs: int = 64,
                      generator: torch.Generator | None = None,
                      inputs: torch.Tensor | None = None) -> dict:
    """Statistics over ``n_inits`` initialisations of ``dC/dw``, ``C = mean_x <Z_0>``.

    Returns ``{"variance", "mean_square", "max_variance"}``: the variance over initialisations
    and the mean square ``E[(dC/dw)^2]``, each averaged over all weights, and the largest
    per-weight variance. For random (uniform) initialisations the mean gradient is 0 and the first
    two agree (McClean et al.'s barren-plateau variance); for near-deterministic ones
    (``"normal"``, ``"identity"``) the variance over inits says little and the mean square is
    the number to read. The average counts weights that ``C`` does not depend on (e.g. the last
    layer's final RZ, which commutes with the measured Z strings, or every wire but 0 of a
    product ansatz), so for a product ansatz it falls as ``1/n`` while ``max_variance`` stays put.
    ``inputs`` default: ``n_inputs`` draws of ``U[-pi, pi]^n``.
    """
    if n_inits < 2:
        raise ConfigError(f"n_inits: expected an int >= 2; got {n_inits!r}")
    n = n_qubits or spec.n_qubits
    x = _inputs(n_inputs, n, generator) if inputs is None else inputs.double()
    grads = []
    for _ in range(n_inits):
        layer = spec.build(n, n_layers, generator)
        (grad,) = torch.autograd.grad(layer(x)[:, 0].mean(), layer.weights)
        grads.append(grad.flatten())
    g = torch.stack(grads)
    var = g.var(dim=0)
    return {"variance": float(var.mean()), "mean_square": float((g ** 2).mean()),
            "max_variance": float(var.max())}


def fit_decay(sizes: Sequence[int], variances: Sequence[float]) -> float:
    """Fitted ``rate`` in ``Var ~ 2^(-rate * size)`` (least squares on log2): > 0 means decay."""
    x = np.asarray(sizes, dtype=float)
    y = np.log2(np.maximum(np.asarray(variances, dtype=float), 1e-300))
    if len(x) < 2:
        raise ConfigError(f"sizes: expected at least 2 points to fit a decay; got {len(x)}")
    slope = np.polyfit(x, y, 1)[0]
    return float(-slope)


def barren_plateau_curve(spec: BlockSpec, qubits: Sequence[int], layers: Sequence[int] = (),
                         n_inits: int = 20, n_inputs: int = 64,
                         generator: torch.Generator | None = None) -> dict:
    """:func:`gradient_variance` over ``qubits`` (at the spec's layers) and over ``layers`` (at
    its qubits), with fitted decay rates over qubits (``Var ~ 2^(-rate n)``)."""
    by_q = [gradient_variance(spec, n, None, n_inits, n_inputs, generator) for n in qubits]
    by_l = [gradient_variance(spec, None, n_layer, n_inits, n_inputs, generator)
            for n_layer in layers]
    out = {"qubits": list(qubits), "layers": list(layers), "n_inits": n_inits,
           "n_inputs": n_inputs}
    for key in ("variance", "mean_square", "max_variance"):
        out[f"{key}_by_qubits"] = [g[key] for g in by_q]
        out[f"{key}_by_layers"] = [g[key] for g in by_l]
        out[f"{key}_decay_per_qubit"] = (fit_decay(qubits, out[f"{key}_by_qubits"])
                                         if len(qubits) >= 2 else None)
    return out


def timed(fn: Callable, *args, **kwargs):
    """``(result, {"wall": s, "cpu": s})`` of one call: the cost stated next to each diagnostic
    (process CPU seconds too, since wall time on a shared machine says little)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, {"wall": round(time.perf_counter() - t0, 3),
                 "cpu": round(time.process_time() - c0, 3)}


# --------------------------------------------------------------------------- whole blocks
def quantum_blocks(model: torch.nn.Module) -> list[tuple[str, QuantumLayer]]:
    """Every :class:`~hqmed.quantum.QuantumLayer` of ``model`` with its module name."""
    return [(name or "<model>", m) for name, m in model.named_modules() if isinstance(m, QuantumLayer)]


@torch.no_grad()
def capture_block_io(model: torch.nn.Module, batches) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Inputs (angles) and outputs of every quantum block while ``model`` runs on ``batches``
    (an iterable of input tensors): ``{name: (angles (N, n), outputs (N, n))}``."""
    blocks = quantum_blocks(model)
    seen: dict[str, list] = {name: [] for name, _ in blocks}
    hooks = [m.register_forward_hook(
        lambda _m, args, out, name=name: seen[name].append(
            (args[0].detach().reshape(-1, _m.n_qubits).double().cpu(),
             out.detach().reshape(-1, _m.n_qubits).double().cpu())))
        for name, m in blocks]
    try:
        for xb in batches:
            model(xb)
    finally:
        for h in hooks:
            h.remove()
    return {name: (torch.cat([a for a, _ in v]), torch.cat([o for _, o in v]))
            for name, v in seen.items() if v}


def random_init_diagnostics(spec: BlockSpec, *, n_inits: int = 20, n_inputs: int = 64,
                            qubits: Sequence[int] = (2, 4, 6, 8, 10),
                            layers: Sequence[int] = (1, 2, 3, 4, 6),
                            expressibility_pairs: int = 1000, bins: int = 75,
                            generator: torch.Generator | None = None) -> dict:
    """Every diagnostic of ``spec`` at random initialisations, with the seconds each took."""
    x = _inputs(n_inputs, spec.n_qubits, generator)
    costs: dict[str, float] = {}

    def concentration():
        per_init = []
        for _ in range(n_inits):
            with torch.no_grad():
                per_init.append(output_concentration(spec.build(generator=generator)(x)))
        return torch.stack(per_init).mean(0)

    conc, costs["concentration"] = timed(concentration)
    grad, costs["gradient"] = timed(gradient_variance, spec, None, None, n_inits, n_inputs,
                                    generator, x)
    curve, costs["barren_plateau"] = timed(barren_plateau_curve, spec, qubits, layers, n_inits,
                                           n_inputs, generator)
    mw, costs["entanglement"] = timed(
        lambda: torch.cat([meyer_wallach(circuit_states(spec.build(generator=generator), x))
                           for _ in range(n_inits)]))
    expr, costs["expressibility"] = (
        timed(expressibility, spec, expressibility_pairs, bins, generator)
        if spec.n_qubits <= 14 else (None, {"wall": 0.0, "cpu": 0.0}))
    return {"inputs": f"{n_inputs} draws of U[-pi, pi]^{spec.n_qubits}", "n_inits": n_inits,
            "output_std": conc.tolist(), "output_std_mean": float(conc.mean()),
            "gradient": grad, "barren_plateau": curve,
            "meyer_wallach": float(mw.mean()), "expressibility_kl": expr,
            "expressibility_pairs": expressibility_pairs, "cost": costs}


def data_diagnostics(layer: QuantumLayer, angles: torch.Tensor, outputs: torch.Tensor) -> dict:
    """Diagnostics of one block at its current weights on the angles that really reach it."""
    mw = meyer_wallach(circuit_states(layer.double(), angles[:256].double())) if len(angles) else None
    layer.float()
    std = output_concentration(outputs)
    return {"n_samples": int(len(angles)), "angles": angle_spread(angles),
            "output_std": std.tolist(), "output_std_mean": float(std.mean()),
            "effective_rank": effective_rank(outputs),
            "meyer_wallach": None if mw is None else float(mw.mean())}


#: below this std (radians) across inputs, the angles reaching a block carry almost no information
STILL_ANGLES = 0.05


def interpret(block: dict) -> str:
    """Plain sentences on what the numbers say (used by the CLI and the report)."""
    rand = block["random_init"]
    n = block["n_qubits"]
    std = rand["output_std_mean"]
    rate = rand["barren_plateau"].get("mean_square_decay_per_qubit")
    parts = [f"At random initialisation ({block['init']}) the {n}-qubit block's outputs vary by "
             f"{std:.3g} across inputs, against {EMBEDDING_STD:.3f} for the embedding alone"]
    if std < 0.25 * EMBEDDING_STD:
        parts.append("so it hands the head little signal (output concentration)")
    if rate is not None and rate >= 0.75:
        parts.append(f"and its weight gradients shrink as 2^(−{rate:.2f} n) (a barren plateau)")
    elif rate is not None and rate >= 0.25:
        parts.append(f"and its weight gradients shrink as 2^(−{rate:.2f} n), slower than a "
                     "barren plateau's 2^(−n)")
    sentence = ", ".join(parts) + "."
    data = block.get("data")
    if data:
        angle_std = float(np.mean(data["angles"]["std"]))
        sat = data["angles"]["saturated_fraction"]
        sentence += (f" On the data, the angles reaching it vary by {angle_std:.3g} rad across "
                     f"images and its outputs by {data['output_std_mean']:.3g}, with an effective "
                     f"rank of {data['effective_rank']:.1f} of {n}")
        distinct = data["angles"].get("distinct", n)
        if distinct < n:
            sentence += (f"; only {distinct} of its {n} angles differ (the bridge repeats rows of a "
                         "smaller feature map), so at most that many features reach the circuit")
        if angle_std < STILL_ANGLES:
            sentence += ("; the bridge hands the circuit almost no information about the image, "
                         "whatever the circuit does")
        if sat > 0.05:
            sentence += f"; {sat:.0%} of the angles are saturated"
        sentence += "."
    return sentence


def diagnose_model(model: torch.nn.Module, *, batches=None, n_inits: int = 20,
                   n_inputs: int = 64, qubits: Sequence[int] = (2, 4, 6, 8, 10),
                   layers: Sequence[int] = (1, 2, 3, 4, 6), expressibility_pairs: int = 1000,
                   seed: int = 0) -> list[dict]:
    """Diagnostics of every quantum block of ``model``: at random initialisations of its spec
    and, when ``batches`` (model inputs) are given, at its current weights on those inputs."""
    blocks = quantum_blocks(model)
    io = capture_block_io(model.eval(), batches) if batches is not None else {}
    out = []
    for name, layer in blocks:
        generator = torch.Generator().manual_seed(seed)
        spec = BlockSpec.of(layer)
        block = {"block": name, "n_qubits": layer.n_qubits, "n_layers": layer.n_layers,
                 "ansatz": layer.ansatz, "rotation": layer.rotation, "init": spec.init,
                 "random_init": random_init_diagnostics(
                     spec, n_inits=n_inits, n_inputs=n_inputs, qubits=qubits, layers=layers,
                     expressibility_pairs=expressibility_pairs, generator=generator)}
        if name in io:
            angles, outputs = io[name]
            data, data["cost"] = timed(data_diagnostics, layer, angles, outputs)
            block["data"] = data
        block["interpretation"] = interpret(block)
        out.append(block)
    return out
