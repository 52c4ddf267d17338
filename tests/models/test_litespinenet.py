"""LiteSpineNet specifics: the paper's shapes at 224 px (Table 2), the adaptive 7x7 pooling path
for small inputs, and the HQ bridges."""

from __future__ import annotations

import math

import pytest
import torch
from models_testutils import tiny_input

from hqmed.models import create_model
from hqmed.models.litespinenet import LiteSpineNetBackbone

# Table 2 of the paper: output (channels, height, width) after stem, blocks 1-8, final convs.
TABLE2 = [(6, 112), (6, 112), (16, 112), (24, 56), (24, 56), (40, 28), (64, 28), (64, 14),
          (80, 14), (96, 7), (112, 7)]


def test_table2_shapes_at_224():
    backbone = LiteSpineNetBackbone(3).eval()
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        for layer, (c, hw) in zip(backbone, TABLE2, strict=True):
            x = layer(x)
            assert tuple(x.shape) == (1, c, hw, hw)
            assert layer.conv.kernel_size == (3, 3) and layer.conv.padding == (1, 1)
            assert layer.conv.bias is not None and isinstance(layer.bn, torch.nn.BatchNorm2d)


def test_flatten_head_at_224_is_a_plain_flatten():
    torch.manual_seed(0)
    model = create_model("litespinenet", num_classes=8).eval()
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (1, 112, 7, 7)
        assert torch.equal(model.pool(feats), feats)  # adaptive pool is the identity at 7x7
        assert torch.allclose(model(x), model.head(feats.flatten(1)))


@pytest.mark.parametrize("size, grid", [(32, 1), (64, 2), (100, 4)])
def test_small_inputs_use_adaptive_pool_to_7x7(size, grid):
    model = create_model("litespinenet", num_classes=4).eval()
    x = tiny_input(3, size)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape[-2:] == (grid, grid)
        pooled = model.pool(feats)
        assert pooled.shape == (2, 112, 7, 7)
        if grid == 1:  # a 1x1 map is replicated over the 7x7 grid
            assert torch.equal(pooled, feats.expand(-1, -1, 7, 7))
        assert model(x).shape == (2, 4)
    assert model.head.fc1.in_features == 5488


def test_gap_head_is_global_average():
    model = create_model("litespinenet", num_classes=8, head="gap").eval()
    x = tiny_input(3, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert torch.allclose(model.forward_head(feats), model.head(feats.mean(dim=(2, 3))),
                              atol=1e-6)


def test_pool_bridge_is_row_mean_tanh_pi():
    model = create_model("hq_litespinenet", num_classes=8, bridge="pool", quantum_block="none")
    feats = torch.randn(2, 112, 7, 7)
    bott = model.bottleneck
    assert sum(p.numel() for p in bott.parameters()) == 0
    expected = torch.tanh(feats.mean(dim=1).mean(dim=-1))  # one value per row of the 7x7 map
    assert torch.allclose(bott(feats), expected, atol=1e-6)
    # with a block, the same values enter as angles scaled by pi
    classical = create_model("hq_litespinenet", bridge="pool", quantum_block="classical")
    block = classical.bottleneck.block
    assert block.angle_scale == pytest.approx(math.pi)
    fc = block.impl.fc
    assert torch.allclose(classical.bottleneck(feats),
                          torch.tanh(fc(math.pi * expected)), atol=1e-5)


def test_linear_bridge_shapes():
    model = create_model("hq_litespinenet", bridge="linear", quantum_block="none")
    assert model.bottleneck.projection.fc.in_features == 5488
    assert model.bottleneck.projection.fc.out_features == 7
    assert model.head.fc1.in_features == 7


def test_quantum_block_is_the_papers_circuit():
    model = create_model("hq_litespinenet")
    layer = model.bottleneck.block.impl
    assert (layer.n_qubits, layer.n_layers, layer.ansatz, layer.rotation) == (
        7, 3, "strongly_entangling", "Y")
    assert tuple(layer.weights.shape) == (3, 7, 3)  # 63 weights


def test_multi_backbone_concatenates_feature_maps():
    model = create_model("litespinenet", in_chans=7, multi_backbone=True).eval()
    assert model.backbone.image[0].conv.in_channels == 3
    assert model.backbone.quantum[0].conv.in_channels == 4
    assert model.num_features == 224 and model.head.fc1.in_features == 224 * 49
    x = tiny_input(7, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert torch.equal(feats[:, :112], model.backbone.image(x[:, :3]))
        assert torch.equal(feats[:, 112:], model.backbone.quantum(x[:, 3:]))


def test_paper_eq3_entangler_ranges_reach_the_block():
    """quantum_kwargs={"ranges": [1, 1, 1]}: the LiteSpineNet paper's Eq. (3) read literally
    (neighbouring CNOTs in every layer) instead of PennyLane's default ranges (1, 2, 3)."""
    torch.manual_seed(0)
    literal = create_model("hq_litespinenet", num_classes=8, quantum_kwargs={"ranges": [1, 1, 1]}).eval()
    default = create_model("hq_litespinenet", num_classes=8).eval()
    default.load_state_dict(literal.state_dict())  # same parameters, only the circuit differs
    blocks = [m for m in literal.modules() if type(m).__name__ == "QuantumLayer"]
    assert [b.circuit.entangler_ranges for b in blocks] == [(1, 1, 1)]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(literal(x), default(x))
