"""Quanvolution against PennyLane's quanvolution-demo circuit (per-patch QNode) as the oracle."""

import numpy as np
import pytest
import torch

from hqmed.data.base import ImageDataset
from hqmed.data.quanvolution import (
    add_quantum_channels,
    circuit_weights,
    output_size,
    patch_unitary,
    quanvolve,
)
from hqmed.errors import ConfigError, ShapeError

try:
    import pennylane as qml
except ImportError:  # only the oracle comparisons need it: they skip, the other tests run
    qml = None
needs_pennylane = pytest.mark.skipif(
    qml is None, reason="oracle comparison: needs PennyLane (pip install 'hqmed[pennylane]')")


def _demo_qnode(weights, rotation="Y", random_layers=True, circuit_seed=42):
    """The PennyLane demo's circuit: R(pi * phi_j) on wire j, RandomLayers, <Z> on each wire."""
    dev = qml.device("default.qubit", wires=4)
    gate = qml.RY if rotation == "Y" else qml.RX

    @qml.qnode(dev)
    def circuit(phi):
        for j in range(4):
            gate(np.pi * phi[j], wires=j)
        if random_layers:
            qml.RandomLayers(weights, wires=list(range(4)), seed=circuit_seed)
        return [qml.expval(qml.PauliZ(j)) for j in range(4)]

    return circuit


def _demo_quanv(circuit, img, stride):
    """The demo's patch loop (generalised to stride 1 / 2)."""
    ho, wo = output_size(*img.shape, stride)
    out = np.zeros((4, ho, wo))
    for i in range(ho):
        for j in range(wo):
            y, x = i * stride, j * stride
            out[:, i, j] = circuit([img[y, x], img[y, x + 1], img[y + 1, x], img[y + 1, x + 1]])
    return out


@needs_pennylane
@pytest.mark.parametrize("rotation", ["Y", "X"])
@pytest.mark.parametrize("stride", [1, 2])
def test_small_images_match_pennylane_demo(rotation, stride):
    rng = np.random.default_rng(stride)
    imgs = rng.random((2, 5, 6)).astype(np.float32)
    weights = circuit_weights(1, seed=3)
    circuit = _demo_qnode(weights, rotation)
    ours = quanvolve(imgs, stride=stride, rotation=rotation, weights=weights)
    ref = np.stack([_demo_quanv(circuit, im, stride) for im in imgs])
    assert ours.shape == ref.shape == (2, 4, *output_size(5, 6, stride))
    np.testing.assert_allclose(ours, ref, atol=2e-6)
    # the gate-by-gate hqmed.quantum path agrees too
    sv = quanvolve(imgs, stride=stride, rotation=rotation, weights=weights, method="statevector")
    np.testing.assert_allclose(sv, ref, atol=2e-6)


@needs_pennylane
def test_random_patches_several_layers_and_seeds():
    rng = np.random.default_rng(0)
    patches = rng.random((12, 2, 2)).astype(np.float32)  # each "image" is one 2x2 patch
    for n_layers, circuit_seed in ((2, 7), (3, 42)):
        weights = circuit_weights(n_layers, seed=n_layers)
        circuit = _demo_qnode(weights, "Y", circuit_seed=circuit_seed)
        ours = quanvolve(patches, stride=1, weights=weights, circuit_seed=circuit_seed,
                         dtype=torch.float64)[:, :, 0, 0]
        ref = np.array([circuit(p.reshape(-1).astype(np.float64)) for p in patches])
        np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_no_random_layers_is_cos_pi_x():
    x = np.random.default_rng(1).random((3, 4, 4)).astype(np.float32)
    q = quanvolve(x, stride=2, random_layers=False)
    np.testing.assert_allclose(q[:, 0], np.cos(np.pi * x[:, ::2, ::2]), atol=1e-6)
    np.testing.assert_allclose(q[:, 3], np.cos(np.pi * x[:, 1::2, 1::2]), atol=1e-6)


@needs_pennylane
def test_unitary_is_unitary_and_matches_pennylane_matrix():
    w = circuit_weights(1, seed=0)
    u = patch_unitary(w, 42)
    np.testing.assert_allclose((u.conj().T @ u).numpy(), np.eye(16), atol=1e-12)
    ref = qml.matrix(qml.RandomLayers(w, wires=range(4), seed=42), wire_order=range(4))
    np.testing.assert_allclose(u.numpy(), ref, atol=1e-12)


def test_colour_is_gray_and_cache(tmp_path):
    rng = np.random.default_rng(2)
    rgb = rng.random((3, 3, 8, 8)).astype(np.float32)
    a = quanvolve(rgb, cache_dir=tmp_path)
    np.testing.assert_allclose(a, quanvolve(rgb.mean(1)), atol=1e-6)
    files = list(tmp_path.glob("quanv-*.npz"))
    assert len(files) == 1
    # cache hit returns the stored array (prove it is read: tamper with it)
    with np.load(files[0]) as f:
        settings = str(f["settings"])
    np.savez(files[0], channels=np.zeros_like(a), settings=settings)
    np.testing.assert_array_equal(quanvolve(rgb, cache_dir=tmp_path), 0)
    # other data or settings -> a new key
    quanvolve(rgb[:2], cache_dir=tmp_path)
    quanvolve(rgb, cache_dir=tmp_path, stride=2)
    assert len(list(tmp_path.glob("quanv-*.npz"))) == 3


def test_add_quantum_channels():
    rng = np.random.default_rng(3)
    ds = ImageDataset(images=rng.random((5, 1, 10, 10)).astype(np.float32),
                      labels=np.arange(5) % 2, class_names=["a", "b"], name="toy")
    out = add_quantum_channels(ds, stride=1)
    assert out.images.shape == (5, 5, 10, 10) and out.images.dtype == np.float32
    np.testing.assert_array_equal(out.images[:, :1], ds.images)
    np.testing.assert_array_equal(out.labels, ds.labels)
    assert 0 <= out.images.min() and out.images.max() <= 1
    # stride 2 maps (5x5) upsampled to 10x10 keep the mean of (z + 1) / 2 closely
    out2 = add_quantum_channels(ds, stride=2)
    q = (quanvolve(ds.images, stride=2) + 1) / 2
    np.testing.assert_allclose(out2.images[:, 1:].mean(axis=(2, 3)), q.mean(axis=(2, 3)), atol=0.02)


def test_errors():
    x = np.zeros((2, 4, 4), np.float32)
    with pytest.raises(ConfigError, match="stride"):
        quanvolve(x, stride=3)
    with pytest.raises(ConfigError, match="rotation"):
        quanvolve(x, rotation="Z")
    with pytest.raises(ShapeError, match="H, W >= 2"):
        quanvolve(np.zeros((2, 1, 4), np.float32))
    with pytest.raises(ShapeError, match="expected"):
        quanvolve(np.zeros(4, np.float32))
