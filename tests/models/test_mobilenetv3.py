"""MobileNetV3 structure against torchvision's mobilenetv3.py, and small-input strides."""

from __future__ import annotations

import pytest
import torch

from hqmed.errors import ConfigError
from hqmed.models import create_model
from hqmed.models.mobilenetv3 import InvertedResidual


@pytest.mark.parametrize("strides, grid", [
    ([2, 2, 2, 2, 2], {28: 1, 32: 1}),   # torchvision: total stride 32
    ([1, 1, 2, 2, 2], {28: 4, 32: 4}),   # SMALL_INPUT_STRIDES (recommended for 28-32 px)
])
@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("name", ["mobilenetv3_small_100", "hq_mobilenetv3_large_100"])
def test_stride_list_keeps_small_inputs_spatial(name, strides, grid, size):
    model = create_model(name, num_classes=7, stride_list=strides).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.rand(2, 3, size, size))
    assert feats.shape == (2, model.num_features, grid[size], grid[size])


@pytest.mark.parametrize("variant, squeeze", [
    # torchvision: SqueezeExcitation(expanded, _make_divisible(expanded // 4, 8)) on SE blocks
    ("small", [8, 24, 64, 64, 32, 40, 72, 144, 144]),
    ("large", [24, 32, 32, 120, 168, 168, 240, 240]),
])
def test_se_squeeze_widths(variant, squeeze):
    model = create_model(f"mobilenetv3_{variant}_100", num_classes=10)
    got = [m.conv1.out_channels for m in model.modules() if type(m).__name__ == "SEModule"]
    assert got == squeeze


@pytest.mark.parametrize("variant, residuals", [("small", 6), ("large", 10)])
def test_residual_blocks_are_torchvision_s(variant, residuals):
    # torchvision adds the input when stride == 1 and in == out
    model = create_model(f"mobilenetv3_{variant}_100", num_classes=10)
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert sum(b.use_res for b in blocks) == residuals


def test_bad_stride_list():
    with pytest.raises(ConfigError, match="stride_list: expected 5 positive integers"):
        create_model("mobilenetv3_small_100", num_classes=3, stride_list=[1, 2])


def test_quantum_block_needs_bottleneck():
    with pytest.raises(ConfigError, match="option 'quantum_block'|quantum_block"):
        create_model("mobilenetv3_small_100", num_classes=3, quantum_block="quantum")
