"""PP-LCNet structure against PaddleClas pp_lcnet.py, stride_list, and the quantum block config."""

from __future__ import annotations

import pytest
import torch
from models_testutils import tiny_input

from hqmed.errors import ConfigError
from hqmed.models import create_model
from hqmed.models.lcnet import DepthwiseSeparable, SEModule, make_divisible


@pytest.mark.parametrize("v, expected", [(8.0, 8), (12.0, 16), (24.0, 24), (48.0, 48),
                                         (96.0, 96), (192.0, 192), (384.0, 384), (20.0, 24),
                                         (3.0, 8), (100.0, 104)])
def test_make_divisible_like_paddleclas(v, expected):
    assert make_divisible(v) == expected


def _blocks(model):
    return [m for m in model.modules() if isinstance(m, DepthwiseSeparable)]


@pytest.mark.parametrize("name, scale", [("lcnet_050", 0.5), ("lcnet_100", 1.0),
                                         ("lcnet_200", 2.0)])
def test_block_table(name, scale):
    model = create_model(name)
    cfg = [(3, 16, 32, 1, False), (3, 32, 64, 2, False), (3, 64, 64, 1, False),
           (3, 64, 128, 2, False), (3, 128, 128, 1, False), (3, 128, 256, 2, False)] + [
           (5, 256, 256, 1, False)] * 5 + [(5, 256, 512, 2, True), (5, 512, 512, 1, True)]
    blocks = _blocks(model)
    assert len(blocks) == len(cfg) == 13
    for b, (k, cin, cout, s, se) in zip(blocks, cfg):
        dw, pw = b.dw_conv.conv, b.pw_conv.conv
        c = make_divisible(cin * scale)
        assert dw.kernel_size == (k, k) and dw.stride == (s, s) and dw.groups == c
        assert dw.in_channels == dw.out_channels == c and dw.bias is None
        assert pw.kernel_size == (1, 1) and pw.out_channels == make_divisible(cout * scale)
        assert isinstance(b.se, SEModule) == se
        assert isinstance(b.dw_conv.act, torch.nn.Hardswish)
        if se:
            assert b.se.conv1.out_channels == c // 4 and b.se.conv1.bias is not None
    assert model.backbone.conv1.conv.stride == (2, 2)
    assert model.last_conv.bias is None and model.last_conv.out_channels == 1280
    assert isinstance(model.act, torch.nn.Hardswish) and model.dropout.p == 0.2


@pytest.mark.parametrize("strides, grid", [
    ([2, 2, 2, 2, 2], {28: 1, 32: 1}),   # PaddleClas default: total stride 32
    ([1, 1, 2, 2, 2], {28: 4, 32: 4}),   # SMALL_INPUT_STRIDES (recommended for 28-32 px)
    ([1, 1, 1, 2, 2], {28: 7, 32: 8}),
])
@pytest.mark.parametrize("size", [28, 32])
def test_stride_list_keeps_small_inputs_spatial(strides, grid, size):
    model = create_model("lcnet_050", num_classes=7, stride_list=strides).eval()
    strided = [model.backbone.conv1.conv.stride[0]] + [
        getattr(model.backbone, f"blocks{i}")[0].dw_conv.conv.stride[0] for i in (3, 4, 5, 6)]
    assert strided == strides
    with torch.no_grad():
        feats = model.forward_features(tiny_input(3, size))
    assert feats.shape[-2:] == (grid[size], grid[size])


@pytest.mark.parametrize("bad", [[2, 2, 2, 2], [2, 2, 0, 2, 2], "2,2,2,2,2", [2.0] * 5])
def test_bad_stride_list(bad):
    with pytest.raises(ConfigError, match="stride_list: expected 5 positive integers"):
        create_model("lcnet_050", stride_list=bad)


def test_default_config_does_not_leak_between_models():
    # PaddleClas mutates its global NET_CONFIG with stride_list; we must not.
    create_model("lcnet_050", stride_list=[1, 1, 1, 1, 1])
    model = create_model("lcnet_050")
    assert model.backbone.blocks3[0].dw_conv.conv.stride == (2, 2)


def test_hq_block_is_hadamard_ry_with_pi_scaled_tanh_inputs():
    model = create_model("hq_lcnet_100", num_classes=10)
    bott = model.bottleneck
    assert bott.projection.fc.in_features == 1280 and bott.projection.fc.out_features == 4
    layer = bott.block.impl
    assert layer.ansatz == "ry" and layer.rotation == "Y" and tuple(layer.weights.shape) == (4,)
    assert bott.block.angle_scale == pytest.approx(torch.pi)
    assert model.fc.in_features == 4 and model.fc.out_features == 10


def test_use_last_conv_false_uses_gap_features():
    model = create_model("lcnet_100_tanh4", num_classes=10, use_last_conv=False)
    assert model.last_conv is None
    assert model.bottleneck.projection.fc.in_features == 512


def test_pennylane_backend_matches_torch_backend():
    pytest.importorskip("pennylane")
    torch.manual_seed(0)
    a = create_model("hq_lcnet_050", num_classes=3).eval()
    b = create_model("hq_lcnet_050", num_classes=3, backend="pennylane").eval()
    b.load_state_dict(a.state_dict())
    x = tiny_input()
    with torch.no_grad():
        assert torch.allclose(a(x), b(x), atol=1e-5)


def test_hq_needs_a_bottleneck_and_accepts_other_widths():
    with pytest.raises(ConfigError, match="bottleneck: expected the number of qubits"):
        create_model("hq_lcnet_050", bottleneck=None)
    model = create_model("hq_lcnet_050", bottleneck=6, quantum_block="closed_form")
    assert model.bottleneck.block.impl.weights.shape == (6,) and model.fc.in_features == 6
