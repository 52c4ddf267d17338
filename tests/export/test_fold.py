"""The folded quantum block equals QuantumLayer (and so PennyLane, which QuantumLayer is tested
against) to 1e-6, for every ansatz and encoding rotation; pooling matrices equal adaptive pooling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hqmed.export.fold import FoldedQuantumLayer, PoolingMatrix, fold_for_export
from hqmed.models import create_model
from hqmed.quantum import QuantumLayer

CASES = [
    dict(n_qubits=7, n_layers=3),                                        # HQ-LiteSpineNet
    dict(n_qubits=7, n_layers=3, ranges=[1, 1, 1]),                      # the paper's Eq. (3)
    dict(n_qubits=4, n_layers=1, ansatz="ry"),                           # HQ-LCNet
    dict(n_qubits=3, n_layers=2, ansatz="basic_entangler"),
    dict(n_qubits=4, n_layers=2, ansatz="random", seed=3),
    dict(n_qubits=5, n_layers=2, rotation="X"),
    dict(n_qubits=3, n_layers=1, rotation="Z", ansatz="basic_entangler"),
    dict(n_qubits=1, n_layers=1),
]


@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: "-".join(f"{v}" for v in k.values()))
def test_folded_block_equals_quantum_layer(kwargs):
    torch.manual_seed(0)
    layer = QuantumLayer.from_config(**kwargs).eval()
    folded = FoldedQuantumLayer(layer)
    x = (torch.rand(64, kwargs["n_qubits"]) * 2 - 1) * torch.pi
    with torch.no_grad():
        ref = layer(x.double())
        ours = folded(x)
    assert ours.dtype == torch.float32 and ours.shape == ref.shape
    torch.testing.assert_close(ours.double(), ref, atol=1e-6, rtol=0)
    # leading batch dims pass through like the layer's
    torch.testing.assert_close(folded(x.view(8, 8, -1)), ours.view(8, 8, -1))


@pytest.mark.parametrize("in_hw,out_hw", [((2, 2), (7, 7)), ((7, 7), (7, 7)), ((5, 3), (2, 4)), ((4, 4), (1, 1))])
def test_pooling_matrix_equals_adaptive_pooling(in_hw, out_hw):
    x = torch.rand(2, 3, *in_hw)
    torch.testing.assert_close(PoolingMatrix(in_hw, out_hw)(x), nn.AdaptiveAvgPool2d(out_hw)(x))


@pytest.mark.parametrize("name", ["hq_litespinenet", "hq_lcnet_050", "litespinenet"])
def test_folded_model_equals_model(name):
    kwargs = {"stride_list": [1, 1, 2, 2, 2]} if "lcnet" in name else {}
    model = create_model(name, num_classes=5, **kwargs).eval()
    x = torch.rand(3, 3, 32, 32)
    folded = fold_for_export(model, x[:1])
    assert not any(isinstance(m, QuantumLayer) for m in folded.modules())
    assert any(isinstance(m, QuantumLayer) for m in model.modules()) == name.startswith("hq_")
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)
