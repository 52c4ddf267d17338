"""Trainability diagnostics against known answers, scipy and PennyLane.

Known answers: Meyer-Wallach is 0 for product states, 1 for GHZ and 8/9 for the 3-qubit W state;
Haar fidelities follow Beta(1, N - 1) (scipy); the embedding-only block has std sqrt(1/2).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from hqmed.cli import main
from hqmed.errors import ConfigError, ShapeError
from hqmed.eval.trainability import (
    EMBEDDING_STD,
    BlockSpec,
    barren_plateau_curve,
    circuit_states,
    effective_rank,
    expressibility,
    fidelity_kl,
    fit_decay,
    gradient_variance,
    haar_fidelity_probabilities,
    meyer_wallach,
    output_concentration,
)
from hqmed.quantum import QuantumLayer
from hqmed.quantum.options import WeightInit
from hqmed.study.diagnostics import lag_hint

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data"
NPZ = DATA / "medmnist" / "pneumoniamnist.npz"


def _haar_states(m: int, n: int, gen: torch.Generator) -> torch.Tensor:
    z = torch.complex(torch.randn(m, 2 ** n, generator=gen, dtype=torch.float64),
                      torch.randn(m, 2 ** n, generator=gen, dtype=torch.float64))
    return z / z.abs().pow(2).sum(-1, keepdim=True).sqrt()


# ----------------------------------------------------------------------------- entanglement
def test_meyer_wallach_is_zero_for_product_states():
    gen = torch.Generator().manual_seed(1)
    singles = _haar_states(5 * 4, 1, gen).reshape(5, 4, 2)
    states = []
    for row in singles:
        s = row[0]
        for q in row[1:]:
            s = torch.kron(s, q)
        states.append(s)
    q = meyer_wallach(torch.stack(states))
    assert torch.allclose(q, torch.zeros(5, dtype=q.dtype), atol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_meyer_wallach_is_one_for_ghz(n):
    ghz = torch.zeros(1, 2 ** n, dtype=torch.complex128)
    ghz[0, 0] = ghz[0, -1] = 1 / math.sqrt(2)
    assert meyer_wallach(ghz).item() == pytest.approx(1.0, abs=1e-12)


def test_meyer_wallach_of_the_w_state_is_eight_ninths():
    w = torch.zeros(1, 8, dtype=torch.complex128)
    w[0, [1, 2, 4]] = 1 / math.sqrt(3)
    assert meyer_wallach(w).item() == pytest.approx(8 / 9, abs=1e-12)


def test_meyer_wallach_refuses_a_non_power_of_two():
    with pytest.raises(ShapeError, match="expected shape"):
        meyer_wallach(torch.zeros(2, 6, dtype=torch.complex64))


# --------------------------------------------------------------------------- expressibility
@pytest.mark.parametrize("dim", [2, 16, 128])
def test_haar_fidelity_bins_equal_scipy_beta(dim):
    edges = np.linspace(0, 1, 76)
    expected = np.diff(stats.beta(1, dim - 1).cdf(edges))
    assert np.allclose(haar_fidelity_probabilities(dim, 75), expected, atol=1e-12)


def test_expressibility_of_haar_states_tends_to_zero():
    gen = torch.Generator().manual_seed(3)
    kls = [fidelity_kl(_haar_states(m, 3, gen), _haar_states(m, 3, gen), bins=20)
           for m in (200, 2000, 20000)]
    assert kls[0] > kls[1] > kls[2]
    assert kls[2] < 0.005


def test_a_product_ansatz_is_less_expressive_than_strongly_entangling():
    gen = torch.Generator().manual_seed(4)
    sel = expressibility(BlockSpec(3, 3), n_pairs=2000, bins=30, generator=gen)
    ry = expressibility(BlockSpec(3, 1, ansatz="ry"), n_pairs=2000, bins=30, generator=gen)
    assert ry > 5 * sel


# ------------------------------------------------------------------------ gradient variance
def test_gradient_variance_decays_with_qubits_for_deep_random_circuits():
    gen = torch.Generator().manual_seed(5)
    curve = barren_plateau_curve(BlockSpec(4, 10), qubits=(2, 4, 6, 8), n_inits=20, generator=gen)
    v = curve["variance_by_qubits"]
    assert all(a > b for a, b in zip(v, v[1:])), v
    assert curve["variance_decay_per_qubit"] > 0.5


def test_gradient_variance_does_not_decay_for_a_product_ansatz():
    # H + RY(x) + RY(w) on each wire: <Z_0> = -sin(x_0 + w_0); dC/dw_0 = -cos(x_0 + w_0) has
    # variance 1/2 over w_0 ~ U[0, 2 pi) whatever n is.
    gen = torch.Generator().manual_seed(6)
    curve = barren_plateau_curve(BlockSpec(4, 1, ansatz="ry"), qubits=(2, 4, 6, 8), n_inits=40,
                                 n_inputs=1, generator=gen)
    assert all(0.25 < v < 0.75 for v in curve["max_variance_by_qubits"]), curve
    assert abs(fit_decay(curve["qubits"], curve["max_variance_by_qubits"])) < 0.1


def test_fit_decay_recovers_a_known_rate():
    n = np.arange(2, 12, 2)
    assert fit_decay(n, 3.0 * 2.0 ** (-0.8 * n)) == pytest.approx(0.8)


def test_gradient_variance_needs_two_inits():
    with pytest.raises(ConfigError, match="n_inits"):
        gradient_variance(BlockSpec(2, 1), n_inits=1)


# ------------------------------------------------------------------------- concentration
def test_output_concentration_matches_pennylane():
    qml = pytest.importorskip("pennylane", reason="PennyLane is the oracle for this test")
    n, layers = 4, 2
    layer = QuantumLayer(n, layers, rotation="Y").double()
    x = (torch.rand(16, n, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
         * 2 - 1) * math.pi
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev)
    def circuit(inputs, weights):
        qml.AngleEmbedding(inputs, wires=range(n), rotation="Y")
        qml.StronglyEntanglingLayers(weights, wires=range(n))
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    w = layer.weights.detach().numpy()
    expected = np.array([circuit(row, w) for row in x.numpy()]).std(axis=0, ddof=1)
    with torch.no_grad():
        got = output_concentration(layer(x)).numpy()
    assert np.allclose(got, expected, atol=1e-10)


def test_embedding_only_reference_is_the_std_of_cos():
    x = np.random.default_rng(0).uniform(-np.pi, np.pi, 400_000)
    assert np.cos(x).std() == pytest.approx(EMBEDDING_STD, abs=2e-3)


def test_circuit_states_give_the_layers_expectations():
    layer = QuantumLayer(3, 2, rotation="Y").double()
    x = torch.rand(5, 3, dtype=torch.float64)
    psi = circuit_states(layer, x).reshape(5, 2, 2, 2)
    p = psi.abs() ** 2
    z0 = p[:, 0].sum((1, 2)) - p[:, 1].sum((1, 2))
    with torch.no_grad():
        assert torch.allclose(z0, layer(x)[:, 0], atol=1e-12)


def test_effective_rank_known_answers():
    rng = np.random.default_rng(0)
    iso = torch.from_numpy(rng.normal(size=(20000, 5)))
    assert effective_rank(iso) == pytest.approx(5.0, abs=0.05)
    rank1 = torch.from_numpy(rng.normal(size=(100, 1)) * np.array([[1.0, 2.0, -1.0]]))
    assert effective_rank(rank1) == pytest.approx(1.0, abs=1e-6)


# ----------------------------------------------------------------------------- init schemes
def test_uniform_init_is_nn_init_uniform():
    torch.manual_seed(0)
    ref = torch.nn.init.uniform_(torch.empty(3, 7, 3), 0.0, 2 * math.pi)
    torch.manual_seed(0)
    assert torch.equal(QuantumLayer(7, 3).weights.detach(), ref)


def test_normal_and_identity_inits():
    w = torch.empty(200, 7, 3)
    WeightInit("normal", 0.05).apply(w, torch.Generator().manual_seed(0))
    assert w.std().item() == pytest.approx(0.05, rel=0.05)
    layer = QuantumLayer.from_config(7, 3, init="identity")
    assert torch.equal(layer.weights.detach(), torch.zeros(3, 7, 3))
    with pytest.raises(ConfigError, match="init: expected one of"):
        WeightInit("xavier")
    with pytest.raises(ConfigError, match="init std"):
        WeightInit("normal", -1.0)


def test_small_angle_inits_counter_concentration():
    gen = torch.Generator().manual_seed(8)
    x = (torch.rand(64, 7, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    stds = {}
    for init in ("uniform", "normal", "identity"):
        with torch.no_grad():
            stds[init] = float(output_concentration(
                BlockSpec(7, 3, init=init).build(generator=gen)(x)).mean())
    assert stds["normal"] > 2 * stds["uniform"] and stds["identity"] > 2 * stds["uniform"]


# ----------------------------------------------------------------------------------- CLI
def test_diagnose_reproduces_the_issue_row_for_hq_litespinenet(capsys):
    """The 7-qubit row measured in the issue: mean std 0.083, variance 4.1e-5 (20 inits, 64 inputs)."""
    rc = main(["diagnose", "hq_litespinenet", "--json", "--seed", "0", "--qubits", "2,3",
               "--layers", "1", "--pairs", "50"])
    assert rc == 0
    block = json.loads(capsys.readouterr().out)["blocks"][0]
    rand = block["random_init"]
    assert block["n_qubits"] == 7 and block["n_layers"] == 3
    assert rand["output_std_mean"] == pytest.approx(0.083, rel=0.1)
    # a variance of 20 draws has a relative standard error of about sqrt(2/19) per weight
    assert 0.65 * 4.1e-5 < rand["gradient"]["variance"] < 1.5 * 4.1e-5
    assert "output concentration" in block["interpretation"]


def test_diagnose_refuses_a_classical_model(capsys):
    assert main(["diagnose", "litespinenet", "--qubits", "2,3", "--layers", "1"]) == 1
    assert "expected a model with a quantum block" in capsys.readouterr().err


@pytest.fixture(scope="module")
def hybrid_run(tmp_path_factory):
    """A tiny finished 2-fold CV run of hq_lcnet_050 on real PneumoniaMNIST."""
    if not NPZ.is_file():
        pytest.skip(f"real data absent: {NPZ}")
    run = tmp_path_factory.mktemp("diag") / "hq"
    config = REPO / "configs" / "examples" / "pneumonia-cv.yaml"
    assert main(["cv", str(config), "--folds", "2", "--data-root", str(DATA), "--out", str(run),
                 "--no-progress", "--set", "model.name=hq_lcnet_050", "--set", "epochs=1",
                 "--set", "data.max_samples=40", "--set", "num_threads=1",
                 "--set", "model.kwargs.stride_list=[2,2,2,2,2]"]) == 0
    return run


def test_diagnose_a_trained_run_on_its_own_data(hybrid_run, capsys):
    run = hybrid_run
    capsys.readouterr()
    assert main(["diagnose", str(run), "--json", "--inits", "4", "--qubits", "2,3",
                 "--layers", "1", "--pairs", "50", "--max-samples", "32"]) == 0
    block = json.loads(capsys.readouterr().out)["blocks"][0]
    data = block["data"]
    assert data["n_samples"] == 32 and 0.0 <= data["effective_rank"] <= 4.0
    # a block whose outputs do not vary on the data hands the head no feature: rank 0
    assert (data["effective_rank"] == 0.0) == (data["output_std_mean"] == 0.0)
    assert len(data["angles"]["std"]) == 4 and 0.0 <= data["angles"]["saturated_fraction"] <= 1.0
    assert 1 <= data["angles"]["distinct"] <= 4


def test_angle_spread_counts_repeated_angles():
    from hqmed.eval.trainability import angle_spread

    x = torch.rand(10, 3, dtype=torch.float64)
    spread = angle_spread(torch.cat([x, x[:, :1], x[:, :1]], dim=1))  # 5 qubits, 3 distinct
    assert spread["distinct"] == 3
    assert spread["std"][3] == pytest.approx(spread["std"][0])


def test_compare_points_a_lagging_hybrid_to_diagnose(hybrid_run, tmp_path):
    """lag_hint names the hybrid when it scores below the other run, and only then."""
    hybrid = hybrid_run
    better = tmp_path / "better"
    shutil.copytree(hybrid, better)
    metrics = json.loads((better / "metrics.json").read_text())
    metrics["oof"]["accuracy"] = 1.0
    (better / "metrics.json").write_text(json.dumps(metrics))
    hint = lag_hint(better, hybrid)
    assert hint is not None and f"hqmed diagnose {hybrid}" in hint
    assert lag_hint(hybrid, hybrid) is None  # no lag, no note
